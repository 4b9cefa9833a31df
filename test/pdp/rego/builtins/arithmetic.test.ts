import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/arithmetic.js";
import { builtinTester } from "./helpers.js";
import { makeSet, toJS, type Value } from "../../../../pdp/rego/value.js";
import { numFromText, numToString, type Num } from "../../../../pdp/rego/number.js";

const { run, fails } = builtinTester(builtins);
// Undefined results come back as-is; the type says Value for toJS's sake.
const call = (name: string, ...args: Value[]): Value => run(name, args) as Value;
const text = (name: string, ...args: Value[]) => numToString(call(name, ...args) as Num);
const n = (s: string): Value => numFromText(s)!;

describe("plus, minus, mul, div", () => {
  it("is exact across the int32 / int64 / bignum edges", () => {
    expect(text("plus", 2147483647, 1)).toBe("2147483648");
    expect(text("minus", -2147483648, 1)).toBe("-2147483649");
    expect(text("mul", 2147483647, 2147483647)).toBe("4611686014132420609");
    expect(text("plus", n("9223372036854775807"), 1)).toBe("9223372036854775808");
    expect(text("plus", n("1e30"), 1)).toBe("1000000000000000000000000000001");
    expect(text("plus", n("10.00"), 5)).toBe("15");
  });

  it("divides exactly when the divisor divides the dividend", () => {
    expect(call("div", 6, 3)).toBe(2);
    expect(call("div", -6, 3)).toBe(-2);
    expect(call("div", 1, 4)).toBe(0.25);
    expect(call("div", 0, 5)).toBe(0);
  });

  it("reports division by zero as a builtin error", () => {
    for (const zero of [0, n("0.0"), n("0e5")]) {
      const e = fails("div", 1, zero);
      expect(e.code).toBe("eval_builtin_error");
      expect(e.message).toBe("div: divide by zero");
    }
  });

  it("checks operand types with OPA's messages", () => {
    expect(fails("plus", "1", 2).message).toBe("plus: operand 1 must be number but got string");
    expect(fails("mul", 1, null).message).toBe("mul: operand 2 must be number but got null");
    expect(fails("plus", 1, true).code).toBe("eval_type_error");
  });
});

describe("minus on sets", () => {
  it("computes the difference", () => {
    expect(toJS(call("minus", makeSet([1, 2, "c"]), makeSet(["c", 1])))).toEqual([2]);
    expect(toJS(call("minus", makeSet([1]), makeSet([])))).toEqual([1]);
  });

  it("reports mixed operands like OPA", () => {
    expect(fails("minus", makeSet([1]), 1).message).toBe("minus: operand 2 must be set but got number");
    expect(fails("minus", 1, makeSet([1])).message).toBe("minus: operand 2 must be number but got set");
    expect(fails("minus", "a", 1).message).toBe(
      "minus: operand 1 must be one of {number, set} but got string",
    );
  });
});

describe("rem", () => {
  it("takes the sign of the dividend and accepts integral floats", () => {
    expect(call("rem", -17, 5)).toBe(-2);
    expect(call("rem", 17, -5)).toBe(2);
    expect(call("rem", n("4.0"), 3)).toBe(1);
    expect(text("rem", n("100000000000000000000000"), 7)).toBe(String(10n ** 23n % 7n));
    expect(call("rem", 10, n("18446744073709551616"))).toBe(10);
  });

  it("fails on zero and on fractions", () => {
    expect(fails("rem", 5, 0).message).toBe("rem: modulo by zero");
    expect(fails("rem", 5.5, 2).message).toBe("rem: modulo on floating-point number");
    expect(fails("rem", 5.5, 0).message).toBe("rem: modulo on floating-point number");
    expect(fails("rem", 5, 0).code).toBe("eval_builtin_error");
  });
});

describe("abs, round, ceil, floor", () => {
  it("round halves away from zero", () => {
    expect(call("round", 2.5)).toBe(3);
    expect(call("round", -2.5)).toBe(-3);
    expect(call("round", 2.4)).toBe(2);
    expect(call("round", -5)).toBe(-5);
  });

  it("ceil and floor", () => {
    expect(call("floor", 1.5)).toBe(1);
    expect(call("floor", -1.001)).toBe(-2);
    expect(call("floor", 99.99999)).toBe(99);
    expect(call("ceil", 1.01)).toBe(2);
    expect(call("ceil", -1.5)).toBe(-1);
  });

  it("abs is exact", () => {
    expect(call("abs", -2.5)).toBe(2.5);
    expect(text("abs", n("-9223372036854775808"))).toBe("9223372036854775808");
    expect(fails("abs", "x").message).toBe("abs: operand 1 must be number but got string");
  });
});

describe("numbers.range and numbers.range_step", () => {
  it("counts up or down, inclusive", () => {
    expect(call("numbers.range", 0, 0)).toEqual([0]);
    expect(call("numbers.range", 0, 3)).toEqual([0, 1, 2, 3]);
    expect(call("numbers.range", 2, -1)).toEqual([2, 1, 0, -1]);
    expect(call("numbers.range_step", 0, 10, 4)).toEqual([0, 4, 8]);
    expect(call("numbers.range_step", 10, 3, 2)).toEqual([10, 8, 6, 4]);
    expect(call("numbers.range_step", 0, 10, n("99999999999999999999"))).toEqual([0]);
  });

  it("handles bounds beyond 2^53", () => {
    const r = call("numbers.range", n("9007199254740993"), n("9007199254740995")) as Num[];
    expect(r.map(numToString)).toEqual(["9007199254740993", "9007199254740994", "9007199254740995"]);
  });

  it("rejects bad operands", () => {
    const step = fails("numbers.range_step", 0, 10, -2);
    expect(step.code).toBe("eval_builtin_error");
    expect(step.message).toContain("numbers.range_step: step must be a positive integer");
    expect(fails("numbers.range_step", 0, 10, 0).message).toContain("step must be a positive integer");
    expect(fails("numbers.range", "a", 1).message).toBe(
      "numbers.range: operand 1 must be integer but got string",
    );
    expect(fails("numbers.range", 0, 1.5).message).toBe(
      "numbers.range: operand 2 must be integer number but got floating-point number",
    );
  });
});

describe("bits", () => {
  it("computes on small and big integers", () => {
    expect(call("bits.and", 50, 0)).toBe(0);
    expect(call("bits.or", 5, 3)).toBe(7);
    expect(call("bits.xor", 42, 3)).toBe(41);
    expect(call("bits.negate", 42)).toBe(-43);
    expect(call("bits.rsh", 8, 3)).toBe(1);
    expect(call("bits.rsh", -8, 1)).toBe(-4);
    expect(call("bits.rsh", -1, 1000)).toBe(-1);
    expect(call("bits.lsh", 1, 3)).toBe(8);
    expect(text("bits.lsh", 1, 64)).toBe("18446744073709551616");
    expect(text("bits.and", n("18446744073709551617"), n("18446744073709551615"))).toBe("1");
    expect(text("bits.negate", n("18446744073709551616"))).toBe("-18446744073709551617");
  });

  it("wants integers", () => {
    const e = fails("bits.or", 7.2, 42);
    expect(e.code).toBe("eval_type_error");
    expect(e.message).toBe("bits.or: operand 1 must be integer number but got floating-point number");
    expect(fails("bits.lsh", 7.2, 42).message).toBe(
      "bits.lsh: operand 1 must be integer number but got floating-point number",
    );
    expect(fails("bits.and", 1, "x").message).toBe("bits.and: operand 2 must be integer but got string");
    expect(fails("bits.lsh", 1, -1).message).toBe(
      "bits.lsh: operand 2 must be an unsigned integer number but got a negative integer",
    );
  });
});

describe("absurd magnitudes fail cleanly instead of hanging", () => {
  const huge = n("1e1000000");
  const tiny = n("-4e-1000000");

  it("round, ceil, floor on tiny fractions", () => {
    expect(call("round", tiny)).toBe(0);
    expect(call("ceil", tiny)).toBe(0);
    expect(call("floor", tiny)).toBe(-1);
    expect(call("ceil", n("1e-1000000"))).toBe(1);
    expect(call("round", huge)).toBe(huge);
  });

  it("integer-only builtins report an error", () => {
    for (const [name, args] of [
      ["numbers.range", [0, huge]],
      ["bits.and", [huge, 1]],
      ["rem", [huge, 7]],
    ] as [string, Value[]][]) {
      const e = fails(name, ...args);
      expect(e.code).toBe("eval_builtin_error");
    }
    expect(fails("div", huge, 3).message).toContain("div:");
  });
});
