import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/comparison.js";
import type { BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { makeSet, type Value } from "../../../../pdp/rego/value.js";
import { numFromText } from "../../../../pdp/rego/number.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };
const call = (name: string, ...args: Value[]) => builtins.find((b) => b.name === name)!.fn(args, ctx);

describe("comparison builtins", () => {
  it("orders across types as OPA does: null < boolean < number < string < array < object < set", () => {
    const ordered: Value[] = [
      null,
      false,
      true,
      -1,
      2.5,
      "",
      "a",
      [],
      [1],
      {},
      { a: 1 },
      makeSet([]),
      makeSet([1]),
    ];
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        expect(call("lt", ordered[i]!, ordered[j]!)).toBe(i < j);
        expect(call("lte", ordered[i]!, ordered[j]!)).toBe(i <= j);
        expect(call("gt", ordered[i]!, ordered[j]!)).toBe(i > j);
        expect(call("gte", ordered[i]!, ordered[j]!)).toBe(i >= j);
        expect(call("equal", ordered[i]!, ordered[j]!)).toBe(i === j);
        expect(call("neq", ordered[i]!, ordered[j]!)).toBe(i !== j);
      }
    }
  });

  it("compares numbers exactly, also beyond 2^53", () => {
    const a = numFromText("28857836529306024611913")!;
    const b = numFromText("28857836529306024611912")!;
    expect(call("neq", a, b)).toBe(true);
    expect(call("gt", a, b)).toBe(true);
    expect(call("equal", 1, numFromText("1.0")!)).toBe(true);
  });

  it("compares composites structurally", () => {
    expect(call("equal", { a: [1, makeSet(["x"])] }, { a: [1, makeSet(["x"])] })).toBe(true);
    expect(call("lt", [1, 2], [1, 3])).toBe(true);
    expect(call("lt", [1, 2], [1, 2, 0])).toBe(true);
    expect(call("lt", "Z", "a")).toBe(true);
  });
});
