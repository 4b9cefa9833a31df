import { describe, expect, it } from "vitest";
import { compile, RegoError, RegoErrors, toJS } from "../../../pdp/rego/index.js";

function run(
  src: string | string[],
  query: string,
  opts: { input?: unknown; data?: unknown; strict?: boolean } = {},
) {
  const sources = Array.isArray(src) ? src : [src];
  const policy = compile({
    modules: sources.map((source, i) => ({ file: `test-${i}.rego`, source })),
    data: opts.data,
  });
  return policy
    .query(query, { input: opts.input as never, strict: opts.strict })
    .map((row) => toJS(Object.fromEntries(Object.entries(row)) as never));
}

describe("rego evaluator", () => {
  it("evaluates complete rules, defaults and undefined", () => {
    const src = `package t
default allow := false
allow if input.user == "alice"
name := input.user`;
    expect(run(src, "data.t.allow = x", { input: { user: "alice" } })).toEqual([{ x: true }]);
    expect(run(src, "data.t.allow = x", { input: { user: "bob" } })).toEqual([{ x: false }]);
    expect(run(src, "data.t.name = x")).toEqual([]);
  });

  it("builds partial sets and objects and iterates them", () => {
    const src = `package t
s contains x if some x in input.xs
o[k] := v if { some k, v in input.m; v > 1 }`;
    const input = { xs: [3, 1, 3], m: { a: 1, b: 2, c: 3 } };
    expect(run(src, "data.t.s = x", { input })).toEqual([{ x: [1, 3] }]);
    expect(run(src, "data.t.o = x", { input })).toEqual([{ x: { b: 2, c: 3 } }]);
    expect(run(src, "data.t.o[k] = 3", { input })).toEqual([{ k: "c" }]);
  });

  it("supports ref heads with nested dynamic keys", () => {
    const src = `package t
a.b[x].c := y if { some x, y in {"p": 1, "q": 2} }
a.d := 4`;
    expect(run(src, "data.t.a = x")).toEqual([{ x: { b: { p: { c: 1 }, q: { c: 2 } }, d: 4 } }]);
  });

  it("unifies array and object patterns in both directions", () => {
    expect(run("package t", "[x, 1] = [2, y]")).toEqual([{ x: 2, y: 1 }]);
    expect(run("package t", `{"a": x} = {"a": [1, z]}; z = 5`)).toEqual([{ x: [1, 5], z: 5 }]);
    expect(run("package t", "x := [1, 2, 3]; [_, y, _] = x")).toEqual([{ x: [1, 2, 3], y: 2 }]);
  });

  it("reorders bodies for safety", () => {
    const src = `package t
p contains x if { x > 1; x = input.xs[_] }`;
    expect(run(src, "data.t.p = s", { input: { xs: [1, 2, 3] } })).toEqual([{ s: [2, 3] }]);
  });

  it("reports unsafe variables at compile time", () => {
    try {
      run("package t\np if { x > 1 }", "data.t.p = v");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RegoErrors);
      expect((e as RegoErrors).errors[0]!.code).toBe("rego_unsafe_var_error");
      expect((e as RegoErrors).message).toContain("var x is unsafe");
    }
  });

  it("raises conflicts for complete rules and functions", () => {
    expect(() => run("package t\np := 1\np := 2", "data.t.p = x")).toThrow(/conflicting values/);
    expect(() => run("package t\nf(x) := 1\nf(x) := 2", "data.t.f(1) = x")).toThrow(/multiple outputs/);
  });

  it("evaluates else chains and functions with several definitions", () => {
    const src = `package t
grade(s) := "a" if s > 90
else := "b" if s > 80
else := "c"
f(1) := "one"
f(2) := "two"`;
    expect(run(src, "data.t.grade(95) = a; data.t.grade(85) = b; data.t.grade(1) = c")).toEqual([
      { a: "a", b: "b", c: "c" },
    ]);
    expect(run(src, "data.t.f(2) = x")).toEqual([{ x: "two" }]);
    expect(run(src, "data.t.f(3) = x")).toEqual([]);
  });

  it("handles not, every and comprehensions", () => {
    const src = `package t
all_pos if every x in input.xs { x > 0 }
none_neg if not any_neg
any_neg if { some x in input.xs; x < 0 }
doubled := [y | some x in input.xs; y := x * 2]
byname := {n: count(n) | some n in input.names}`;
    const input = { xs: [1, 2], names: ["ab", "c"] };
    expect(run(src, "data.t.all_pos = a; data.t.none_neg = b", { input })).toEqual([{ a: true, b: true }]);
    expect(run(src, "data.t.doubled = d; data.t.byname = o", { input })).toEqual([
      { d: [2, 4], o: { ab: 2, c: 1 } },
    ]);
  });

  it("negates a whole body with future.keywords.not / rego.v2", () => {
    const src = `package t
import rego.v2
default p := false
p if {
  not { input.a; input.b }
}`;
    expect(run(src, "data.t.p = x", { input: { a: true, b: false } })).toEqual([{ x: true }]);
    expect(run(src, "data.t.p = x", { input: { a: true, b: true } })).toEqual([{ x: false }]);
  });

  it("scopes a comprehension's variables apart from a later := of the same name", () => {
    const src = `package t
xs := {"a", "b", "c"}
p := x if {
  y := {x | xs[x]}
  x := count(y)
}`;
    expect(run(src, "data.t.p = v")).toEqual([{ v: 3 }]);
  });

  it("applies with to input, data and functions", () => {
    const src = `package t
p := input.x + data.base.y
q := count([1, 2, 3])
r := f(1)
f(x) := x + 1
g(x) := x * 10`;
    expect(run(src, "data.t.p = v with input.x as 1 with data.base.y as 2")).toEqual([{ v: 3 }]);
    expect(run(src, "data.t.q = v with count as 7")).toEqual([{ v: 7 }]);
    expect(run(src, "data.t.r = v with data.t.f as data.t.g")).toEqual([{ v: 10 }]);
    expect(run(src, "data.t.r = v")).toEqual([{ v: 2 }]);
  });

  it("merges base data with virtual documents", () => {
    const src = `package a.b
p := 1`;
    expect(run(src, "data.a = x", { data: { a: { c: 2 } } })).toEqual([{ x: { b: { p: 1 }, c: 2 } }]);
  });

  it("keeps integers beyond 2^53 exact", () => {
    expect(run("package t", `x := sprintf("%v", [9007199254740993 + 1])`)[0]).toBeDefined();
    const rows = run("package t", "x := 9007199254740993 - 9007199254740992");
    expect(rows).toEqual([{ x: 1 }]);
  });

  it("bounds runaway evaluation", () => {
    const src = `package t
p := count([x | some a in numbers.range(1, 2000); some b in numbers.range(1, 2000); x := a * b])`;
    const policy = compile({ modules: [{ file: "t.rego", source: src }] });
    let err: unknown;
    try {
      policy.query("data.t.p = x", { maxSteps: 100_000 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RegoError);
    expect((err as RegoError).code).toBe("eval_cancel_error");
  });
});
