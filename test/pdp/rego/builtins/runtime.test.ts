import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/runtime.js";
import type { BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { isObject, objectSize, type ObjectV } from "../../../../pdp/rego/value.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };

describe("opa.runtime", () => {
  it("returns an empty object, as embedded OPA does, never the process environment", () => {
    const def = builtins.find((b) => b.name === "opa.runtime")!;
    expect(def.arity).toBe(0);
    expect(def.nondeterministic).toBe(true);
    const v = def.fn([], ctx)!;
    expect(isObject(v)).toBe(true);
    expect(objectSize(v as ObjectV)).toBe(0);
  });
});
