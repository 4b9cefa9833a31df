import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/uuid.js";
import type { BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { equal, objectGet, toJS, type ObjectV, type Value } from "../../../../pdp/rego/value.js";
import { numFromBigInt } from "../../../../pdp/rego/number.js";

const mk = (): BuiltinContext => ({ nowNs: 0n, memo: new Map(), print: () => {} });
const call = (ctx: BuiltinContext, name: string, ...args: Value[]): Value | undefined =>
  builtins.find((b) => b.name === name)!.fn(args, ctx);

describe("uuid.rfc4122", () => {
  it("is a v4 UUID, stable per query and argument", () => {
    const ctx = mk();
    const a = call(ctx, "uuid.rfc4122", "key") as string;
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(call(ctx, "uuid.rfc4122", "key")).toBe(a);
    expect(call(ctx, "uuid.rfc4122", "other")).not.toBe(a);
    expect(call(mk(), "uuid.rfc4122", "key")).not.toBe(a);
    expect(builtins.find((b) => b.name === "uuid.rfc4122")!.nondeterministic).toBe(true);
  });
});

describe("uuid.parse", () => {
  it("decodes versions", () => {
    const ctx = mk();
    expect(toJS(call(ctx, "uuid.parse", "00000000-0000-4000-8000-000000000000")!)).toEqual({
      variant: "RFC4122",
      version: 4,
    });
    const v2 = call(ctx, "uuid.parse", "000003e8-48b9-21ee-b200-325096b39f47")!;
    expect(toJS(v2)).toMatchObject({
      clocksequence: 12800,
      domain: "Person",
      id: 1000,
      macvariables: "local:unicast",
      nodeid: "32-50-96-b3-9f-47",
      variant: "RFC4122",
      version: 2,
    });
    expect(equal(objectGet(v2 as ObjectV, "time")!, numFromBigInt(1693566990121469600n))).toBe(true);
    expect(toJS(call(ctx, "uuid.parse", "38074da4-0b00-388d-9c3c-362de965547a")!)).toEqual({
      variant: "RFC4122",
      version: 3,
    });
    expect(call(ctx, "uuid.parse", "{38074da4-0b00-388d-9c3c-362de965547a}")).toBeDefined();
    expect(call(ctx, "uuid.parse", "urn:uuid:38074da4-0b00-388d-9c3c-362de965547a")).toBeDefined();
    expect(call(ctx, "uuid.parse", "38074da40b00388d9c3c362de965547a")).toBeDefined();
    expect(call(ctx, "uuid.parse", "38074da4-0b00-388d-9c3c-362de965547")).toBeUndefined();
    expect(call(ctx, "uuid.parse", "x8074da4-0b00-388d-9c3c-362de965547a")).toBeUndefined();
  });
  it("rejects non-strings", () => {
    expect(() => call(mk(), "uuid.parse", 123)).toThrow("operand 1 must be string but got number");
  });
});
