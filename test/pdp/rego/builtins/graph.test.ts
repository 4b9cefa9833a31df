import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/graph.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { makeSet, toJS, type Value } from "../../../../pdp/rego/value.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };
const call = (name: string, ...args: Value[]): Value | undefined =>
  builtins.find((b) => b.name === name)!.fn(args, ctx);
const js = (name: string, ...args: Value[]): unknown => toJS(call(name, ...args)!);

function callErr(name: string, ...args: Value[]): BuiltinError {
  try {
    call(name, ...args);
  } catch (e) {
    if (e instanceof BuiltinError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

const S = (...xs: Value[]): Value => makeSet(xs);

describe("graph.reachable", () => {
  const g = { a: S("b", "c"), b: S("d"), c: S("d"), d: S(), e: S("f"), f: S("e"), x: S("x") };
  it("finds reachable nodes", () => {
    expect(js("graph.reachable", g, S("b", "e"))).toEqual(["b", "d", "e", "f"]);
    expect(js("graph.reachable", g, ["a"])).toEqual(["a", "b", "c", "d"]);
    expect(js("graph.reachable", g, ["zzz"])).toEqual([]);
    expect(js("graph.reachable", { a: ["b"], b: null }, ["a"])).toEqual(["a", "b"]);
  });
  it("checks operand types", () => {
    expect(callErr("graph.reachable", 1, ["a"]).message).toBe(
      "graph.reachable: operand 1 must be object but got number",
    );
    expect(callErr("graph.reachable", {}, "a").message).toBe(
      "graph.reachable: operand 2 must be {array, set} but got string",
    );
  });
});

describe("graph.reachable_paths", () => {
  it("enumerates paths", () => {
    expect(js("graph.reachable_paths", {}, S("a"))).toEqual([]);
    expect(js("graph.reachable_paths", { a: S("b"), b: S("c"), c: S("a") }, S("a"))).toEqual([
      ["a", "b", "c"],
    ]);
    expect(
      js(
        "graph.reachable_paths",
        { a: S("b", "c"), b: S("d"), c: S("d"), d: S(), e: S("f"), f: S("e"), x: S("x") },
        S("b", "e"),
      ),
    ).toEqual([
      ["b", "d"],
      ["e", "f"],
    ]);
    expect(js("graph.reachable_paths", { a: ["b"], b: ["c"], c: ["a"] }, ["a"])).toEqual([["a", "b", "c"]]);
    expect(js("graph.reachable_paths", { a: null }, ["a"])).toEqual([["a"]]);
    expect(js("graph.reachable_paths", { a: ["b", "c"], b: ["c"], c: [] }, S("a"))).toEqual([
      ["a", "b", "c"],
      ["a", "c"],
    ]);
    expect(
      js("graph.reachable_paths", { "1": [], "2": ["1"], "3": ["2"], "4": ["3", "2"], "5": ["4"] }, ["5"]),
    ).toEqual([
      ["5", "4", "2", "1"],
      ["5", "4", "3", "2", "1"],
    ]);
    expect(js("graph.reachable_paths", { a: ["b"], b: ["nonexistent"] }, S("a", "b"))).toEqual([
      ["a", "b"],
      ["b"],
    ]);
  });
  it("errors", () => {
    expect(callErr("graph.reachable_paths", 1, [1]).code).toBe("eval_type_error");
    expect(callErr("graph.reachable_paths", { a: [] }, "a").code).toBe("eval_type_error");
  });
});

describe("walk", () => {
  it("is a pre-order relation", () => {
    const d = builtins.find((b) => b.name === "walk")!;
    expect(d.relation).toBe(true);
    expect(js("walk", [1, 2])).toEqual([
      [[], [1, 2]],
      [[0], 1],
      [[1], 2],
    ]);
    expect(js("walk", { v2: "goodbye", v1: "hello" })).toEqual([
      [[], { v1: "hello", v2: "goodbye" }],
      [["v1"], "hello"],
      [["v2"], "goodbye"],
    ]);
    expect(js("walk", S("b", "a"))).toEqual([
      [[], ["a", "b"]],
      [["a"], "a"],
      [["b"], "b"],
    ]);
    expect(js("walk", { a: [{ b: 1 }] })).toEqual([
      [[], { a: [{ b: 1 }] }],
      [["a"], [{ b: 1 }]],
      [["a", 0], { b: 1 }],
      [["a", 0, "b"], 1],
    ]);
    expect(js("walk", 5)).toEqual([[[], 5]]);
  });
});
