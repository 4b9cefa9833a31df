// Rule indexing on `input.<path> == <constant>`: a definition whose first expression cannot hold is
// skipped, and the answers are exactly those of evaluating every definition.
import { describe, expect, it } from "vitest";
import { compile, toJS } from "../../../pdp/rego/index.js";

const POLICY = `package p
import rego.v1

reasons contains "get" if {
  input.method == "GET"
  input.path == "/a"
}
reasons contains "post" if input.method == "POST"
reasons contains "one" if 1 == input.n
reasons contains "any" if input.path
reasons contains msg if {
  input.method == "GET"
  msg := sprintf("path %s", [input.path])
}

kind := "read" if input.method == "GET"
kind := "write" if input.method == "POST"
default kind := "other"

mocked if {
  input.method == "DELETE"
}
with_input contains r if {
  some r in reasons with input as {"method": "POST", "path": "/b"}
}
mock_equal if mocked with equal as true
`;

const policy = compile({ modules: [{ file: "p.rego", source: POLICY }] });
const value = (path: string[], input: unknown): unknown => {
  const v = policy.evalPath(["p", ...path], { input: input as never });
  return v === undefined ? undefined : toJS(v);
};

describe("rule indexing on input equality", () => {
  it("keeps the definitions whose guard holds and skips the others", () => {
    expect(value(["reasons"], { method: "GET", path: "/a", n: 1 })).toEqual(["any", "get", "one", "path /a"]);
    expect(value(["reasons"], { method: "POST", path: "/b" })).toEqual(["any", "post"]);
    expect(value(["reasons"], { path: "/c" })).toEqual(["any"]);
    // Same value, other numeric spelling: still equal.
    expect(value(["reasons"], { n: 1.0, path: "/c" })).toEqual(["any", "one"]);
  });

  it("complete rules: the index picks the definition, the default stays", () => {
    expect(value(["kind"], { method: "GET" })).toBe("read");
    expect(value(["kind"], { method: "POST" })).toBe("write");
    expect(value(["kind"], { method: "PUT" })).toBe("other");
    expect(value(["kind"], undefined)).toBe("other");
  });

  it("reads the input in force: `with input as` is honoured", () => {
    expect(value(["with_input"], { method: "GET", path: "/a" })).toEqual(["any", "post"]);
  });

  it("skipped definitions cost no evaluation steps", () => {
    // 200 definitions, one per tenant: without the index each would spend a step failing its guard.
    const defs = Array.from({ length: 200 }, (_, i) => `t contains ${i} if input.tenant == "t${i}"`);
    const many = compile({
      modules: [{ file: "m.rego", source: `package m\nimport rego.v1\n${defs.join("\n")}\n` }],
    });
    const v = many.evalPath(["m", "t"], { input: { tenant: "t7" }, maxSteps: 50 });
    expect(v === undefined ? undefined : toJS(v)).toEqual([7]);
  });

  it("skips nothing when `equal` is mocked", () => {
    expect(value(["mock_equal"], { method: "GET" })).toBe(true);
    expect(value(["mocked"], { method: "GET" })).toBeUndefined();
  });
});
