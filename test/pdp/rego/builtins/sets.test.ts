import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/sets.js";
import { builtinTester } from "./helpers.js";
import { makeObject, makeSet, toJS, type Value } from "../../../../pdp/rego/value.js";

const { run, fails } = builtinTester(builtins);
// Undefined results come back as-is; the type says Value for toJS's sake.
const call = (name: string, ...args: Value[]): Value => run(name, args) as Value;

describe("set operators", () => {
  it("and / or", () => {
    expect(toJS(call("and", makeSet([1, 2, 3]), makeSet([2, 3, 4])))).toEqual([2, 3]);
    expect(toJS(call("and", makeSet([1]), makeSet([2])))).toEqual([]);
    expect(toJS(call("or", makeSet([3, 1, 2]), makeSet([3, 4, 2])))).toEqual([1, 2, 3, 4]);
    expect(toJS(call("or", makeSet([[1], { a: 1 }]), makeSet([[1]])))).toEqual([[1], { a: 1 }]);
  });

  it("type errors", () => {
    expect(fails("and", makeSet([]), [1]).message).toBe("and: operand 2 must be set but got array");
    expect(fails("or", 1, makeSet([])).message).toBe("or: operand 1 must be set but got number");
  });

  it("union and intersection of a set of sets", () => {
    expect(toJS(call("union", makeSet([])))).toEqual([]);
    expect(toJS(call("union", makeSet([makeSet([1, 2, 3]), makeSet([2])])))).toEqual([1, 2, 3]);
    expect(toJS(call("intersection", makeSet([makeSet([]), makeSet([1, 2])])))).toEqual([]);
    expect(toJS(call("intersection", makeSet([makeSet([1, 2, 3]), makeSet([2, 3, 4])])))).toEqual([2, 3]);
    expect(toJS(call("intersection", makeSet([])))).toEqual([]);
    expect(fails("union", makeSet([1])).message).toBe("union: operand 1 must be set but got number");
    expect(fails("intersection", [makeSet([])]).message).toBe(
      "intersection: operand 1 must be set but got array",
    );
  });
});

describe("membership (in)", () => {
  it("internal.member_2 looks at array items, set members and object values", () => {
    const m = (x: Value, xs: Value) => call("internal.member_2", x, xs);
    expect(m(2, [1, 2])).toBe(true);
    expect(m(3, [1, 2])).toBe(false);
    expect(m("a", makeSet(["a"]))).toBe(true);
    expect(m("a", { a: 1 })).toBe(false);
    expect(m(1, { a: 1 })).toBe(true);
    expect(m([1], [[1]])).toBe(true);
    expect(m("b", "abc")).toBe(false);
    expect(m(1, null)).toBe(false);
  });

  it("internal.member_3 checks key and value", () => {
    const m = (k: Value, v: Value, xs: Value) => call("internal.member_3", k, v, xs);
    expect(m(1, "b", ["a", "b"])).toBe(true);
    expect(m(0, "b", ["a", "b"])).toBe(false);
    expect(m(2, "b", ["a", "b"])).toBe(false);
    expect(m(-1, "b", ["a", "b"])).toBe(false);
    expect(m("1", "b", ["a", "b"])).toBe(false);
    expect(m("a", 1, { a: 1 })).toBe(true);
    expect(m("a", 2, { a: 1 })).toBe(false);
    expect(m(1, "x", makeObject([[1, "x"]]))).toBe(true);
    expect(m("x", "x", makeSet(["x"]))).toBe(true);
    expect(m("x", "y", makeSet(["x"]))).toBe(false);
    expect(m(0, "a", "abc")).toBe(false);
  });
});
