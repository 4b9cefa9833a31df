import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/arrays.js";
import { builtinTester } from "./helpers.js";
import type { Value } from "../../../../pdp/rego/value.js";
import { numFromText } from "../../../../pdp/rego/number.js";

const { run, fails } = builtinTester(builtins);
const call = (name: string, ...args: Value[]) => run(name, args);

describe("array builtins", () => {
  it("array.concat joins without touching the operands", () => {
    const a = [1, 2];
    const b = [3];
    expect(call("array.concat", a, b)).toEqual([1, 2, 3]);
    expect(a).toEqual([1, 2]);
    expect(call("array.concat", [], [])).toEqual([]);
    expect(fails("array.concat", [], "x").message).toBe(
      "array.concat: operand 2 must be array but got string",
    );
  });

  it("array.slice clamps like OPA", () => {
    const xs = [1, 2, 3, 4, 5];
    expect(call("array.slice", xs, 1, 3)).toEqual([2, 3]);
    expect(call("array.slice", xs, -4, -1)).toEqual([]);
    expect(call("array.slice", xs, -1, 2)).toEqual([1, 2]);
    expect(call("array.slice", xs, 3, 1)).toEqual([]);
    expect(call("array.slice", xs, 2, 100)).toEqual([3, 4, 5]);
    expect(call("array.slice", xs, 5, 5)).toEqual([]);
  });

  it("array.slice wants integer indexes", () => {
    const e = fails("array.slice", [1], 0.5, 1);
    expect(e.code).toBe("eval_type_error");
    expect(e.message).toBe("array.slice: operand 2 must be integer number but got floating-point number");
    expect(fails("array.slice", [1], 0, "1").message).toBe(
      "array.slice: operand 3 must be number but got string",
    );
    // Integers beyond int64 are "floating-point" to OPA too.
    expect(fails("array.slice", [1], 0, numFromText("99999999999999999999")!).message).toContain(
      "must be integer number but got floating-point number",
    );
  });

  it("array.reverse", () => {
    const a = [1, [2], "3"];
    expect(call("array.reverse", a)).toEqual(["3", [2], 1]);
    expect(a).toEqual([1, [2], "3"]);
    expect(call("array.reverse", [])).toEqual([]);
  });

  it("array.flatten flattens one level", () => {
    expect(call("array.flatten", [[1, 2], "s", [3, { a: "b" }], 4.5, [6, [7, 8]]])).toEqual([
      1,
      2,
      "s",
      3,
      { a: "b" },
      4.5,
      6,
      [7, 8],
    ]);
    expect(call("array.flatten", [[[1], [2, 3, []]], [[4, 5]]])).toEqual([[1], [2, 3, []], [4, 5]]);
    expect(fails("array.flatten", 42).message).toBe("array.flatten: operand 1 must be array but got number");
  });
});
