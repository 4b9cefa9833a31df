import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/aggregates.js";
import { builtinTester } from "./helpers.js";
import { makeSet, toJS, type Value } from "../../../../pdp/rego/value.js";
import { numFromText, numToString, type Num } from "../../../../pdp/rego/number.js";

const { run, fails } = builtinTester(builtins);
// Undefined results come back as-is; the type says Value for toJS's sake.
const call = (name: string, ...args: Value[]): Value => run(name, args) as Value;
const text = (name: string, ...args: Value[]) => numToString(call(name, ...args) as Num);
const n = (s: string): Value => numFromText(s)!;

describe("count", () => {
  it("counts collections, and strings in code points", () => {
    expect(call("count", [1, 2, 3])).toBe(3);
    expect(call("count", { a: 1, b: 2 })).toBe(2);
    expect(call("count", makeSet([1, 1, 2]))).toBe(2);
    expect(call("count", "héllo")).toBe(5);
    expect(call("count", "\u{1F367}\u{1F368}")).toBe(2);
    expect(call("count", "")).toBe(0);
  });

  it("rejects scalars", () => {
    const e = fails("count", 1);
    expect(e.code).toBe("eval_type_error");
    expect(e.message).toBe("count: operand 1 must be one of {array, object, set, string} but got number");
  });
});

describe("sum and product", () => {
  it("sum exactly, integers and floats", () => {
    expect(call("sum", makeSet([1, 2, 3, 4]))).toBe(10);
    expect(call("sum", [])).toBe(0);
    expect(call("sum", [1.5, 2.5])).toBe(4);
    expect(call("sum", [1, 2.5])).toBe(3.5);
    expect(text("sum", [n("18446744073709551617"), 1])).toBe("18446744073709551618");
    expect(text("sum", [n("9223372036854775807"), 1])).toBe("9223372036854775808");
    expect(text("sum", [Number.MAX_SAFE_INTEGER, 2])).toBe("9007199254740993");
    expect(text("sum", makeSet([n("9223372036854775807"), 1, 2]))).toBe("9223372036854775810");
  });

  it("product", () => {
    expect(call("product", makeSet([1, 2, 3, 4]))).toBe(24);
    expect(call("product", [])).toBe(1);
    expect(call("product", [1.5, 2])).toBe(3);
    expect(text("product", [n("18446744073709551617"), 2])).toBe("36893488147419103234");
  });

  it("report non-numbers with OPA's element message", () => {
    expect(fails("sum", [1, "a"]).message).toBe(
      "sum: operand 1 must be array of numbers but got array containing string",
    );
    expect(fails("product", makeSet([1, null])).message).toBe(
      "product: operand 1 must be set of numbers but got set containing null",
    );
    expect(fails("sum", { a: 1 }).message).toBe("sum: operand 1 must be one of {set, array} but got object");
  });
});

describe("max, min, sort", () => {
  it("max and min use the total order, undefined when empty", () => {
    expect(call("min", [3, 2, 1, 4, 6, -7, 10])).toBe(-7);
    expect(call("max", [3, "a", null, [1]])).toEqual([1]);
    expect(call("max", makeSet([1, 5, 3]))).toBe(5);
    expect(call("min", makeSet(["b", "a"]))).toBe("a");
    expect(call("max", [])).toBeUndefined();
    expect(call("min", makeSet([]))).toBeUndefined();
    expect(fails("max", "abc").message).toBe("max: operand 1 must be one of {set, array} but got string");
  });

  it("sort sorts arrays and sets without mutating", () => {
    const xs: Value[] = [3, "a", 1, null, [0]];
    expect(call("sort", xs)).toEqual([null, 1, 3, "a", [0]]);
    expect(xs).toEqual([3, "a", 1, null, [0]]);
    expect(toJS(call("sort", makeSet([3, 1, 2])))).toEqual([1, 2, 3]);
    expect(fails("sort", 1).message).toBe("sort: operand 1 must be one of {set, array} but got number");
  });
});
