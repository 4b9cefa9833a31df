import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/rand.js";
import type { BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import type { Value } from "../../../../pdp/rego/value.js";

const mk = (): BuiltinContext => ({ nowNs: 0n, memo: new Map(), print: () => {} });
const call = (ctx: BuiltinContext, ...args: Value[]): Value | undefined =>
  builtins.find((b) => b.name === "rand.intn")!.fn(args, ctx);

describe("rand.intn", () => {
  it("is stable within a query", () => {
    const ctx = mk();
    const v = call(ctx, "key", 100) as number;
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThan(100);
    for (let i = 0; i < 20; i++) expect(call(ctx, "key", 100)).toBe(v);
    expect(call(ctx, "key", -100)).toBe(v); // |n|
  });
  it("handles 0, negatives and large bounds", () => {
    const ctx = mk();
    expect(call(ctx, "k", 0)).toBe(0);
    const big = call(ctx, "k", 2 ** 60) as number;
    expect(typeof big === "number" || typeof big === "object").toBe(true);
    const seen = new Set<Value | undefined>();
    for (let i = 0; i < 30; i++) seen.add(call(mk(), "k", 1000));
    expect(seen.size).toBeGreaterThan(1);
  });
  it("checks operands", () => {
    expect(() => call(mk(), 1, 10)).toThrow("rand.intn: operand 1 must be string but got number");
    expect(() => call(mk(), "k", 1.5)).toThrow(
      "rand.intn: operand 2 must be integer number but got floating-point number",
    );
  });
});
