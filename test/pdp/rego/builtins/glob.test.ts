import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/glob.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import type { Value } from "../../../../pdp/rego/value.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };

function call(name: string, ...args: Value[]): Value | undefined {
  const d = builtins.find((b) => b.name === name)!;
  return d.fn(args, ctx);
}

function callErr(name: string, ...args: Value[]): BuiltinError {
  try {
    call(name, ...args);
  } catch (e) {
    if (e instanceof BuiltinError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

describe("glob.match", () => {
  const cases: [string, Value, string, boolean][] = [
    ["*:github:com", [":"], "api:github:com", true],
    ["[abc]at", [], "fat", false],
    ["[abc]at", [], "bat", true],
    ["[!abc]at", [], "fat", true],
    ["[a-c]at", null, "cat", true],
    ["[!a-c]at", null, "cat", false],
    ["?", null, "", false],
    ["[!0-9]", null, "", false],
    ["a/*/b", null, "a/b", false],
    ["a/*/b", null, "a/x/b", true],
    ["a/**/b", null, "a/b", false],
    ["a/**/b", null, "a//b", true],
    ["**/x", null, "x", false],
    ["{**/,}x", null, "x", true],
    ["***", ["."], "", true],
    ["*?*", [".", "/"], "api.github.com", false],
    ["*?*", [".", "/"], "abc", true],
    ["*", [".", "/"], "a/b", false],
    ["\\*", null, "*", true],
    ["\\*", null, "a", false],
    ["*.github.com", [], "api.github.com", true],
    ["*.github.com", [], "api.cdn.github.com", false],
    ["**.github.com", [], "api.cdn.github.com", true],
    ["*.github.com", null, "api.cdn.github.com", true],
    ["api.{github,gitlab}.com", [], "api.gitlab.com", true],
    ["api.{github,gitlab}.com", [], "api.bitbucket.com", false],
    ["{a,b{c,d}}e", [], "bde", true],
    ["*hello*", [], "hello", true],
    ["*a*a*a*a*a*a*a*a*a*b", [], "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false],
    ["a,b", [], "a,b", true],
    ["a}b", [], "a}b", true],
    ["ü?", null, "üñ", true],
  ];
  it.each(cases)("%s %j %s", (p, d, s, want) => {
    expect(call("glob.match", p, d, s)).toBe(want);
  });

  it("reports bad patterns and operands", () => {
    expect(callErr("glob.match", "[a", null, "a").message).toBe("glob.match: unexpected end of input");
    expect(callErr("glob.match", "[]", null, "a").message).toBe("glob.match: could not parse range");
    expect(callErr("glob.match", "[z-a]", null, "a").message).toContain("should be greater than");
    expect(callErr("glob.match", "a", "x", "a").message).toBe(
      "glob.match: operand 2 must be one of {array, null} but got string",
    );
    expect(callErr("glob.match", "a", ["ab"], "a").message).toBe(
      "glob.match: operand 2 must be array of runes but got array containing string",
    );
  });
});

describe("glob.quote_meta", () => {
  it("escapes meta characters", () => {
    expect(call("glob.quote_meta", "*.github.com")).toBe("\\*.github.com");
    expect(call("glob.quote_meta", "[a]{b}?\\")).toBe("\\[a\\]\\{b\\}\\?\\\\");
    expect(call("glob.match", call("glob.quote_meta", "a*[b]") as string, null, "a*[b]")).toBe(true);
  });
});
