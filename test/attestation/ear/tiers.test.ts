// AR4SI value ranges → tiers, at every boundary, and the "worst of" order.
import { describe, expect, it } from "vitest";
import { tierOfValue, worst } from "../../../attestation/ear/tiers.js";
import { decodeTrustVector, mergeWorst } from "../../../attestation/ear/trust_vector.js";

describe("AR4SI tiers", () => {
  it("maps every boundary value to the tier of the AR4SI table", () => {
    const cases: [number, string][] = [
      [0, "none"],
      [1, "none"],
      [-1, "none"],
      [2, "affirming"],
      [31, "affirming"],
      [-2, "affirming"],
      [-32, "affirming"],
      [32, "warning"],
      [95, "warning"],
      [-33, "warning"],
      [-96, "warning"],
      [96, "contraindicated"],
      [127, "contraindicated"],
      [-97, "contraindicated"],
      [-128, "contraindicated"],
    ];
    for (const [v, tier] of cases) expect(tierOfValue(v), String(v)).toBe(tier);
  });

  it("orders affirming < warning < none < contraindicated, and an empty list is none", () => {
    expect(worst(["affirming", "warning"])).toBe("warning");
    expect(worst(["warning", "none"])).toBe("none");
    expect(worst(["none", "contraindicated", "affirming"])).toBe("contraindicated");
    expect(worst(["affirming"])).toBe("affirming");
    expect(worst([])).toBe("none");
  });

  it("decodes a vector into named claims and merges submodules claim by claim", () => {
    const a = decodeTrustVector({ executables: 2, hardware: 32 }, "a");
    const b = decodeTrustVector({ executables: 33, hardware: 2, "sourced-data": -2 }, "b");
    expect(mergeWorst([a, b])).toEqual({
      executables: { tier: "warning", value: 33 },
      hardware: { tier: "warning", value: 32 },
      "sourced-data": { tier: "affirming", value: -2 },
    });
  });
});
