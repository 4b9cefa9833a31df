import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/sprintf.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { makeSet, type Value } from "../../../../pdp/rego/value.js";
import { numFromText } from "../../../../pdp/rego/number.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };
const sprintf = (format: string, ...args: Value[]) => builtins[0]!.fn([format, args], ctx);
const n = (s: string): Value => numFromText(s)!;

// Expectations are Go's fmt.Sprintf outputs for the arguments OPA passes
// (Go int for int64-range integers, *big.Int beyond, float64, string).
describe("sprintf", () => {
  it("formats the everyday verbs", () => {
    expect(sprintf("%s is %d years", "bob", 42)).toBe("bob is 42 years");
    expect(sprintf("%v %v %v", "x", 7, 1.5)).toBe("x 7 1.5");
    expect(sprintf("100%%")).toBe("100%");
    expect(sprintf("%v", [1, "a"])).toBe('[1, "a"]');
    expect(sprintf("%v", { a: 1 })).toBe('{"a": 1}');
    expect(sprintf("%v", makeSet([2, 1]))).toBe("{1, 2}");
    expect(sprintf("%v", makeSet([]))).toBe("set()");
    expect(sprintf("%v %v", null, true)).toBe("null true");
  });

  it("prints integers exactly, beyond 64 bits too", () => {
    expect(sprintf("%s", n("123456789123456789123"))).toBe("123456789123456789123");
    expect(sprintf("%s", n("1208925819614629174706175"))).toBe("1208925819614629174706175");
    expect(sprintf("%d", n("9223372036854775808"))).toBe("9223372036854775808");
    expect(sprintf("%v", n("9223372036854775807"))).toBe("9223372036854775807");
    expect(sprintf("%x", n("18446744073709551616"))).toBe("10000000000000000");
    expect(sprintf("%f", n("18446744073709551616"))).toBe("%!f(big.Int=18446744073709551616)");
    expect(sprintf("%T %T %T %T", 1, n("18446744073709551616"), 1.5, "s")).toBe(
      "int *big.Int float64 string",
    );
  });

  it("reproduces Go's complaints for mismatched verbs", () => {
    expect(sprintf("%s", 5)).toBe("%!s(int=5)");
    expect(sprintf("%d", "x")).toBe("%!d(string=x)");
    expect(sprintf("%d", 1.5)).toBe("%!d(float64=1.5)");
    expect(sprintf("%t", true)).toBe("%!t(string=true)");
    expect(sprintf("%d %d", 1)).toBe("1 %!d(MISSING)");
    expect(sprintf("%d", 1, "a")).toBe("1%!(EXTRA string=a)");
    expect(sprintf("%")).toBe("%!(NOVERB)");
    expect(sprintf("%!")).toBe("%!!(MISSING)");
    expect(sprintf("%[3]d", 1)).toBe("%!d(BADINDEX)");
    expect(sprintf("%*d", "x", 3)).toBe("%!(BADWIDTH)3");
  });

  it("integers: flags, width, precision, bases", () => {
    expect(sprintf("%+d|% d|%5d|%-5d|%05d", 5, 5, 42, 42, -42)).toBe("+5| 5|   42|42   |-0042");
    expect(sprintf("%.3d", 7)).toBe("007");
    expect(sprintf("%x %X %#x %x", 255, 255, 255, -255)).toBe("ff FF 0xff -ff");
    expect(sprintf("%o %#o %O %b", 8, 8, 8, 5)).toBe("10 010 0o10 101");
    expect(sprintf("%c %q %U %#U", 65, 65, 0x1f600, 65)).toBe("A 'A' U+1F600 U+0041 'A'");
  });

  it("floats: shortest %v/%g, rounding half to even on the exact value", () => {
    expect(sprintf("%v", 0.000012)).toBe("1.2e-05");
    expect(sprintf("%v", 1234567.5)).toBe("1.2345675e+06");
    expect(sprintf("%v", 123456.5)).toBe("123456.5");
    expect(sprintf("%v", n("0.1234567890123456789"))).toBe("0.12345678901234568");
    expect(sprintf("%.2f", 3.14159)).toBe("3.14");
    expect(sprintf("%.2f", 2.675)).toBe("2.67");
    expect(sprintf("%.0f %.0f %.1f", 0.5, 1.5, 0.25)).toBe("0 2 0.2");
    expect(sprintf("%f", 1.5)).toBe("1.500000");
    expect(sprintf("%e %E", 1234.5678, 1234.5678)).toBe("1.234568e+03 1.234568E+03");
    expect(sprintf("%g %.3g %g", 1e-7, 1234.5678, 0.5)).toBe("1e-07 1.23e+03 0.5");
    expect(sprintf("%08.3f|%+.1e|%8.3g|", -3.14159, 12345.5, 3.14159)).toBe("-003.142|+1.2e+04|    3.14|");
    expect(sprintf("%6.2f%%", 12.3456)).toBe(" 12.35%");
    expect(sprintf("%#g", 1.5)).toBe("1.50000");
    expect(sprintf("%x %b", 3.5, 1.5)).toBe("0x1.cp+01 6755399441055744p-52");
  });

  it("strings: padding, truncation, hex and quoting", () => {
    expect(sprintf("%5s|%-5s|%.2s|%5.1s", "ab", "cd", "abc", "abc")).toBe("   ab|cd   |ab|    a");
    expect(sprintf("%x|% x|%# x|%#x|%X", "hi", "hi", "hi", "hi", "hi")).toBe(
      "6869|68 69|0x68 0x69|0x6869|6869",
    );
    expect(sprintf("%q", 'a"b\n')).toBe('"a\\"b\\n"');
    expect(sprintf("%+q|%#q|%q", "é", "abc", "é\u0001")).toBe('"\\u00e9"|`abc`|"é\\x01"');
    expect(sprintf("%#v", "x")).toBe('"x"');
    expect(sprintf("%4s|", "😀")).toBe("   😀|");
  });

  it("supports explicit argument indexes and * width/precision", () => {
    expect(sprintf("%[2]d %[1]d", 1, 2)).toBe("2 1");
    expect(sprintf("%*d|%-*d|", 5, 3, 3, 1)).toBe("    3|1  |");
    expect(sprintf("%.*f", 2, 3.14159)).toBe("3.14");
  });

  it("checks its operands", () => {
    const e = (() => {
      try {
        builtins[0]!.fn(["%s", "x"], ctx);
      } catch (err) {
        return err as BuiltinError;
      }
      throw new Error("no error");
    })();
    expect(e.code).toBe("eval_type_error");
    expect(e.message).toBe("sprintf: operand 2 must be array but got string");
  });
});
