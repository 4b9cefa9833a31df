// Workload IDs as subjects: exactly spiffe:// and wimse:// with SPIFFE syntax, nothing that merely looks
// like one.
import { describe, expect, it } from "vitest";
import { isWorkloadUri, parseWorkloadId } from "../../../gateway/identity/workload_id.js";

describe("parseWorkloadId", () => {
  it("parses spiffe and wimse IDs with SPIFFE syntax only", () => {
    expect(parseWorkloadId("wimse://corp.example/a/b")).toEqual({
      scheme: "wimse",
      trustDomain: "corp.example",
      segments: ["a", "b"],
    });
    expect(parseWorkloadId("spiffe://corp.example")).toEqual({
      scheme: "spiffe",
      trustDomain: "corp.example",
      segments: [],
    });
    expect(parseWorkloadId("https://corp.example/a")).toBeUndefined();
  });

  it("adversarial: near-misses are not workload IDs", () => {
    for (const s of [
      "SPIFFE://corp.example/a",
      "spiffe://corp.example/a/../b",
      "spiffe://Corp.example/a",
      "spiffe:/a",
    ]) {
      expect(parseWorkloadId(s), s).toBeUndefined();
    }
  });
});

describe("isWorkloadUri", () => {
  it("is true for anything claiming the schemes, in any case, valid or not", () => {
    expect(isWorkloadUri("SPIFFE://x/../y")).toBe(true);
    expect(isWorkloadUri("wimse:nothing")).toBe(true);
    expect(isWorkloadUri("user:alice")).toBe(false);
  });
});
