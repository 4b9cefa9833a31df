import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/semver.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import type { Value } from "../../../../pdp/rego/value.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };
const call = (name: string, ...args: Value[]): Value | undefined =>
  builtins.find((b) => b.name === name)!.fn(args, ctx);

function callErr(name: string, ...args: Value[]): BuiltinError {
  try {
    call(name, ...args);
  } catch (e) {
    if (e instanceof BuiltinError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

describe("semver.is_valid", () => {
  it.each([
    ["01.2.3", false],
    ["1.02.3", false],
    ["1.2.03", false],
    ["1.2.3-01", false],
    ["1.2.3-alpha.01", false],
    ["1.2.3-", false],
    ["1.2.3+", false],
    ["0.0.0", true],
    ["1.2.3-0", true],
    ["1.2.3-0a", true],
    ["1.2.3+01", true],
    ["1.2.3-alpha.1+build.5", true],
    ["v1.2.3", false],
    ["1.2", false],
    ["1.2.3.4", false],
    ["1.2.3-a..b", false],
    ["99999999999999999999.0.0", false],
  ])("%s → %s", (v, want) => {
    expect(call("semver.is_valid", v)).toBe(want);
  });
  it("is false for non-strings", () => expect(call("semver.is_valid", 1)).toBe(false));
});

describe("semver.compare", () => {
  it.each([
    ["1.0.0", "2.0.0", -1],
    ["2.0.0", "1.0.0", 1],
    ["1.2.3", "1.2.3", 0],
    ["1.2.3-0", "1.2.3-1", -1],
    ["1.2.3+01", "1.2.3+2", 0],
    ["1.0.0-alpha", "1.0.0", -1],
    ["1.0.0-alpha", "1.0.0-alpha.1", -1],
    ["1.0.0-alpha.1", "1.0.0-alpha.beta", -1],
    ["1.0.0-alpha.beta", "1.0.0-beta", -1],
    ["1.0.0-beta.2", "1.0.0-beta.11", -1],
    ["1.0.0-beta.11", "1.0.0-rc.1", -1],
    ["1.0.0-rc.1", "1.0.0", -1],
    ["1.10.0", "1.9.0", 1],
  ])("%s vs %s", (a, b, want) => {
    expect(call("semver.compare", a, b)).toBe(want);
  });
  it("rejects invalid versions with OPA's message", () => {
    expect(callErr("semver.compare", "1.02.3", "1.2.3").message).toBe(
      'semver.compare: operand 1: string "1.02.3" is not a valid SemVer',
    );
    expect(callErr("semver.compare", "1.2.3", "1.2.3-01").message).toBe(
      'semver.compare: operand 2: string "1.2.3-01" is not a valid SemVer',
    );
    expect(callErr("semver.compare", "1.2.3-", "1.2.3").code).toBe("eval_builtin_error");
    expect(callErr("semver.compare", 1, "1.2.3").code).toBe("eval_type_error");
  });
});
