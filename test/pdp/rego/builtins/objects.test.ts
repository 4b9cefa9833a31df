import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/objects.js";
import { builtinTester } from "./helpers.js";
import { makeObject, makeSet, toJS, type Value } from "../../../../pdp/rego/value.js";

const { run, fails } = builtinTester(builtins);
const call = (name: string, ...args: Value[]) => run(name, args);
const js = (name: string, ...args: Value[]) => toJS(call(name, ...args)!);

describe("object.get", () => {
  const obj = { a: { b: [10, { c: makeSet(["x"]) }] } };

  it("gets a key or the default", () => {
    expect(js("object.get", { a: { b: "c" } }, "a", true)).toEqual({ b: "c" });
    expect(call("object.get", { a: { b: "c" } }, "b", true)).toBe(true);
    expect(call("object.get", makeObject([[1, "one"]]), 1, null)).toBe("one");
    expect(call("object.get", { a: null }, "a", 1)).toBe(null);
  });

  it("follows an array path through objects, arrays and sets", () => {
    expect(call("object.get", obj, ["a", "b", 0], "d")).toBe(10);
    expect(call("object.get", obj, ["a", "b", 1, "c", "x"], "d")).toBe("x");
    expect(call("object.get", obj, ["a", "b", 2], "d")).toBe("d");
    expect(call("object.get", obj, ["a", "b", "0"], "d")).toBe("d");
    expect(call("object.get", obj, ["a", "b", 0, "z"], "d")).toBe("d");
    expect(call("object.get", obj, [], "d")).toBe(obj);
  });

  it("requires an object", () => {
    expect(fails("object.get", [1], 0, null).message).toBe(
      "object.get: operand 1 must be object but got array",
    );
  });
});

describe("object.keys, object.remove, object.filter", () => {
  it("keys", () => {
    expect(js("object.keys", { b: 2, a: 1 })).toEqual(["a", "b"]);
    expect(js("object.keys", makeObject([[["a"], 1]]))).toEqual([["a"]]);
    expect(js("object.keys", {})).toEqual([]);
    const e = fails("object.keys", "object");
    expect(e.code).toBe("eval_type_error");
    expect(e.message).toBe("object.keys: operand 1 must be object but got string");
  });

  it("remove takes keys from an array, set or object", () => {
    const o = { a: 1, b: { c: 3 }, d: 4 };
    expect(js("object.remove", o, makeSet(["a"]))).toEqual({ b: { c: 3 }, d: 4 });
    expect(js("object.remove", o, ["b", "d", "zz"])).toEqual({ a: 1 });
    expect(js("object.remove", o, { a: "ignored" })).toEqual({ b: { c: 3 }, d: 4 });
    expect(o).toEqual({ a: 1, b: { c: 3 }, d: 4 });
    expect(fails("object.remove", o, "a").message).toBe(
      "object.remove: operand 2 must be one of {object, set, array} but got string",
    );
  });

  it("filter keeps only the given keys", () => {
    expect(js("object.filter", { a: { b: 7 }, e: 9 }, makeSet(["a"]))).toEqual({ a: { b: 7 } });
    expect(js("object.filter", { a: 7 }, [])).toEqual({});
    expect(
      js(
        "object.filter",
        makeObject([
          [1, "x"],
          ["1", "y"],
        ]),
        [1],
      ),
    ).toEqual({ "1": "x" });
  });
});

describe("object.union and object.union_n", () => {
  it("merges recursively, right side winning", () => {
    expect(js("object.union", {}, {})).toEqual({});
    expect(js("object.union", { b: 2 }, { a: { b: { c: 1 } } })).toEqual({ a: { b: { c: 1 } }, b: 2 });
    expect(js("object.union", { a: { b: 1, c: 2 } }, { a: { b: 3 } })).toEqual({ a: { b: 3, c: 2 } });
    expect(js("object.union", { a: { b: 1 } }, { a: 5 })).toEqual({ a: 5 });
    expect(fails("object.union", {}, [1]).message).toBe(
      "object.union: operand 2 must be object but got array",
    );
  });

  it("union_n folds left to right", () => {
    expect(js("object.union_n", [])).toEqual({});
    expect(js("object.union_n", [{ foo: "bar" }, { foo: "baz" }])).toEqual({ foo: "baz" });
    expect(js("object.union_n", [{ a: { b: 2 } }, { a: 4 }, { a: { c: 3 } }])).toEqual({ a: { c: 3 } });
    expect(js("object.union_n", [{ a: { b: 2 } }, { a: { c: 3 } }])).toEqual({ a: { b: 2, c: 3 } });
    const e = fails("object.union_n", [{ foo: 1 }, { bar: 2 }, "baz"]);
    expect(e.code).toBe("eval_type_error");
    expect(e.message).toBe(
      "object.union_n: operand 1 must be array of objects but got array containing string",
    );
  });
});

describe("object.subset", () => {
  const sub = (a: Value, b: Value) => call("object.subset", a, b);

  it("objects recurse into objects, sets and arrays", () => {
    expect(sub({ a: 5, b: 7 }, { a: 5 })).toBe(true);
    expect(sub({ a: 5 }, { a: 5, b: 7 })).toBe(false);
    expect(sub({ a: { x: 1, y: 2 } }, { a: { x: 1 } })).toBe(true);
    expect(sub({ a: makeSet([1, 2, 3]) }, { a: makeSet([1]) })).toBe(true);
    expect(sub({ a: [6, 7, 8, 9] }, { a: [7, 8] })).toBe(true);
    expect(sub({ a: [6, 7, 8, 9] }, { a: [6, 8] })).toBe(false);
    expect(sub({ a: 1 }, { a: "1" })).toBe(false);
  });

  it("sets, arrays, and array ⊇ set", () => {
    expect(sub(makeSet([1, 2, 3]), makeSet([3, 2]))).toBe(true);
    expect(sub(makeSet([1, makeSet(["a", "b"])]), makeSet([makeSet(["a"])]))).toBe(false);
    expect(sub([1, 2, 3, 4, 5, 6], [3, 4, 5])).toBe(true);
    expect(sub([1, 2, 3, 4, 5, 6], [4, 5, 6, 8])).toBe(false);
    expect(sub([1, 2, 3], [])).toBe(true);
    expect(sub([1, 2, 3, 4], makeSet([4, 3, 2]))).toBe(true);
    expect(sub([1, 2, 3], makeSet([9]))).toBe(false);
  });

  it("rejects other combinations", () => {
    const e = fails("object.subset", makeSet([1]), [1]);
    expect(e.code).toBe("eval_type_error");
    expect(e.message).toBe(
      "object.subset: both arguments object.subset must be of the same type or array and set",
    );
  });
});
