import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/types.js";
import { builtinTester } from "./helpers.js";
import { makeSet, type Value } from "../../../../pdp/rego/value.js";
import { numFromText, numToString } from "../../../../pdp/rego/number.js";

const { run, fails } = builtinTester(builtins);
const call = (name: string, ...args: Value[]) => run(name, args);

describe("type builtins", () => {
  const samples: [Value, string][] = [
    [null, "null"],
    [true, "boolean"],
    [1.5, "number"],
    [numFromText("1e400")!, "number"],
    ["s", "string"],
    [[1], "array"],
    [{ a: 1 }, "object"],
    [makeSet([1]), "set"],
  ];

  it("type_name names every type", () => {
    for (const [v, t] of samples) expect(call("type_name", v)).toBe(t);
  });

  it("is_* are total: true for their type, false otherwise", () => {
    const preds: Record<string, string> = {
      is_null: "null",
      is_boolean: "boolean",
      is_number: "number",
      is_string: "string",
      is_array: "array",
      is_object: "object",
      is_set: "set",
    };
    for (const [pred, t] of Object.entries(preds)) {
      for (const [v, vt] of samples) expect(call(pred, v)).toBe(vt === t);
    }
  });
});

describe("to_number", () => {
  it("converts null, booleans, numbers and numeric strings", () => {
    expect(call("to_number", null)).toBe(0);
    expect(call("to_number", true)).toBe(1);
    expect(call("to_number", false)).toBe(0);
    expect(call("to_number", 2.5)).toBe(2.5);
    expect(call("to_number", "3")).toBe(3);
    expect(call("to_number", "-1.5e3")).toBe(-1500);
    expect(call("to_number", "+.5")).toBe(0.5);
    expect(call("to_number", "5.")).toBe(5);
    expect(call("to_number", "0x1.8p1")).toBe(3);
  });

  it("keeps big numeric strings exact", () => {
    expect(numToString(call("to_number", "123456789123456789123") as never)).toBe("123456789123456789123");
  });

  it("rejects what strconv.ParseFloat rejects, with OPA's messages", () => {
    expect(fails("to_number", "abc").message).toBe(
      'to_number: strconv.ParseFloat: parsing "abc": invalid syntax',
    );
    expect(fails("to_number", "abc").code).toBe("eval_builtin_error");
    expect(fails("to_number", "0x10").message).toContain("invalid syntax");
    expect(fails("to_number", " 1").message).toContain("invalid syntax");
    expect(fails("to_number", "1e400").message).toContain("value out of range");
    const inf = fails("to_number", "-Inf");
    expect(inf.code).toBe("eval_type_error");
    expect(inf.message).toBe("to_number: operand 1 must be valid number string but got string");
    expect(fails("to_number", [1]).message).toBe(
      "to_number: operand 1 must be one of {null, boolean, number, string} but got array",
    );
  });
});
