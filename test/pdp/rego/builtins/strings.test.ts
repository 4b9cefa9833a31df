import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/strings.js";
import { builtinTester } from "./helpers.js";
import { makeObject, makeSet, type Value } from "../../../../pdp/rego/value.js";
import { numFromText } from "../../../../pdp/rego/number.js";

const { run, fails } = builtinTester(builtins);
const call = (name: string, ...args: Value[]) => run(name, args);

describe("concat, split, strings.split_n", () => {
  it("concat joins arrays and (sorted) sets of strings", () => {
    expect(call("concat", "/", ["", "foo", "bar", "0", "baz"])).toBe("/foo/bar/0/baz");
    expect(call("concat", ",", makeSet(["b", "a"]))).toBe("a,b");
    expect(call("concat", ",", [])).toBe("");
    expect(fails("concat", ",", ["a", 1]).message).toBe(
      "concat: operand 2 must be array of strings but got array containing number",
    );
    expect(fails("concat", ",", "ab").message).toBe(
      "concat: operand 2 must be one of {set, array} but got string",
    );
    expect(fails("concat", 1, []).message).toBe("concat: operand 1 must be string but got number");
  });

  it("split", () => {
    expect(call("split", "a,b,,c", ",")).toEqual(["a", "b", "", "c"]);
    expect(call("split", "a", ",")).toEqual(["a"]);
    expect(call("split", "", ",")).toEqual([""]);
    expect(call("split", "a😀b", "")).toEqual(["a", "😀", "b"]);
  });

  it("split_n keeps the first n parts, or the last -n", () => {
    const s = "a.b.c.d";
    expect(call("strings.split_n", s, ".", 2)).toEqual(["a", "b"]);
    expect(call("strings.split_n", s, ".", 10)).toEqual(["a", "b", "c", "d"]);
    expect(call("strings.split_n", s, ".", 0)).toEqual([]);
    expect(call("strings.split_n", s, ".", -2)).toEqual(["c", "d"]);
    expect(call("strings.split_n", s, ".", -10)).toEqual(["a", "b", "c", "d"]);
    expect(call("strings.split_n", "abc", "", 2)).toEqual(["a", "b"]);
    expect(call("strings.split_n", "abc", "", -2)).toEqual(["b", "c"]);
    expect(call("strings.split_n", "", ".", 2)).toEqual([""]);
    expect(fails("strings.split_n", "a.b", ".", 1.5).message).toBe(
      "strings.split_n: operand 3 must be integer number but got floating-point number",
    );
  });
});

describe("searching", () => {
  it("indexof counts code points", () => {
    expect(call("indexof", "μx", "x")).toBe(1);
    expect(call("indexof", "μ", "μμ")).toBe(-1);
    expect(call("indexof", "skön var våren", "vår")).toBe(9);
    expect(call("indexof", "🍧🍨🧁🍰🍮", "🍮")).toBe(4);
    expect(call("indexof", "🍧🍨", "🍧🍨")).toBe(0);
    expect(call("indexof", "abc", "c")).toBe(2);
    const e = fails("indexof", "abc", "");
    expect(e.code).toBe("eval_builtin_error");
    expect(e.message).toBe("indexof: empty search character");
  });

  it("indexof_n finds overlapping matches", () => {
    expect(call("indexof_n", "aaa", "aa")).toEqual([0, 1]);
    expect(call("indexof_n", "😀a😀a", "a")).toEqual([1, 3]);
    expect(call("indexof_n", "abc", "x")).toEqual([]);
  });

  it("contains, startswith, endswith, strings.count", () => {
    expect(call("contains", "abcdefgh", "defg")).toBe(true);
    expect(call("contains", "abc", "")).toBe(true);
    expect(call("startswith", "abc", "ab")).toBe(true);
    expect(call("endswith", "abc", "ab")).toBe(false);
    expect(call("strings.count", "cheese", "e")).toBe(3);
    expect(call("strings.count", "aaaa", "aa")).toBe(2);
    expect(call("strings.count", "five", "")).toBe(5);
    expect(fails("startswith", "a", 1).message).toBe("startswith: operand 2 must be string but got number");
  });

  it("any_prefix_match / any_suffix_match accept strings, arrays and sets", () => {
    expect(call("strings.any_prefix_match", ["a/b/c", "e/f/g"], ["x/", "e/"])).toBe(true);
    expect(call("strings.any_prefix_match", "a/b/c", makeSet(["g/", "d/"]))).toBe(false);
    expect(call("strings.any_prefix_match", ["", "a"], [""])).toBe(true);
    expect(call("strings.any_prefix_match", [], ["a"])).toBe(false);
    expect(call("strings.any_suffix_match", "a/b/c", ["b/c", "x"])).toBe(true);
    expect(call("strings.any_suffix_match", makeSet(["a.rego"]), ".json")).toBe(false);
    expect(fails("strings.any_prefix_match", [1], "a").message).toBe(
      "strings.any_prefix_match: operand 1 must be array of strings but got array containing number",
    );
    expect(fails("strings.any_prefix_match", "a", 1).message).toBe(
      "strings.any_prefix_match: operand 2 must be one of {string, set, array} but got number",
    );
  });
});

describe("substring and format_int", () => {
  it("substring counts code points; a negative length runs to the end", () => {
    expect(call("substring", "abcde", 1, 3)).toBe("bcd");
    expect(call("substring", "abc", 1, -1)).toBe("bc");
    expect(call("substring", "abc", 5, 1)).toBe("");
    expect(call("substring", "abc", 0, 100)).toBe("abc");
    expect(call("substring", "😀a😀b", 1, 2)).toBe("a😀");
    expect(call("substring", "", 0, 1)).toBe("");
    expect(fails("substring", "abc", -1, 1).message).toBe("substring: negative offset");
    expect(fails("substring", "abc", 0.5, 1).code).toBe("eval_type_error");
  });

  it("format_int truncates toward zero", () => {
    expect(call("format_int", 15.5, 16)).toBe("f");
    expect(call("format_int", -15.5, 16)).toBe("-f");
    expect(call("format_int", 4.1, 10)).toBe("4");
    expect(call("format_int", 10, 2)).toBe("1010");
    expect(call("format_int", 8, 8)).toBe("10");
    expect(call("format_int", numFromText("123456789123456789123.7")!, 10)).toBe("123456789123456789123");
    expect(call("format_int", numFromText("-9e-1000000")!, 10)).toBe("0");
    expect(fails("format_int", numFromText("1e1000000")!, 10).code).toBe("eval_builtin_error");
    const e = fails("format_int", 1, 3);
    expect(e.code).toBe("eval_type_error");
    expect(e.message).toBe("format_int: operand 2 must be one of {2, 8, 10, 16}");
  });
});

describe("case and reversal", () => {
  it("maps case one code point at a time, as Go does", () => {
    expect(call("lower", "AbC")).toBe("abc");
    expect(call("upper", "àb")).toBe("ÀB");
    expect(call("upper", "ß")).toBe("ß");
    expect(call("lower", "İ")).toBe("i");
    expect(call("lower", "ΑΣ")).toBe("ασ");
  });

  it("strings.reverse reverses code points", () => {
    expect(call("strings.reverse", "abc")).toBe("cba");
    expect(call("strings.reverse", "a😀b")).toBe("b😀a");
  });
});

describe("replace and strings.replace_n", () => {
  it("replace replaces every occurrence", () => {
    expect(call("replace", "aaa", "a", "b")).toBe("bbb");
    expect(call("replace", "abab", "ab", "x")).toBe("xx");
    expect(call("replace", "abc", "", "-")).toBe("-a-b-c-");
    expect(call("replace", "", "", "-")).toBe("-");
  });

  it("replace_n follows Go's strings.Replacer with keys in sorted order", () => {
    const r = (p: Record<string, string>, s: string) => call("strings.replace_n", p, s);
    expect(r({ info: "X", anotherinfo: "Y" }, "anotherinfo")).toBe("Y");
    expect(r({ a: "YY", bba: "bX" }, "bbab")).toBe("bXb");
    expect(r({ ab: "b", b: "Y" }, "baaabbbba")).toBe("YaabYYYa");
    expect(r({ a: "b", b: "a" }, "abba")).toBe("baab");
    expect(r({ a: "Xa", ab: "X", ba: "bYa", aaa: "X" }, "aaaaab")).toBe("XaXaXaXaXab");
    expect(r({ aab: "Y", a: "", b: "" }, "bbaab")).toBe("");
    expect(r({ "": "X" }, "")).toBe("X");
    expect(r({ "": "X" }, "ab")).toBe("XaXbX");
    expect(r({ "": "X", a: "Y" }, "ab")).toBe("XYXbX");
    expect(r({ "": "-", é: "e" }, "aéb")).toBe("-a-e-b-");
    expect(r({}, "abc")).toBe("abc");
  });

  it("replace_n validates its operands in OPA's order", () => {
    expect(fails("strings.replace_n", makeObject([[2, "x"]]), "foo").message).toBe(
      "strings.replace_n: operand 1 non-string key found in pattern object",
    );
    expect(fails("strings.replace_n", { f: 100 }, "foo").message).toBe(
      "strings.replace_n: operand 1 non-string value found in pattern object",
    );
    expect(fails("strings.replace_n", { foo: "baz" }, 100).message).toBe(
      "strings.replace_n: operand 2 must be string but got number",
    );
    expect(fails("strings.replace_n", { f: 100 }, 100).message).toBe(
      "strings.replace_n: operand 2 must be string but got number",
    );
  });
});

describe("trimming", () => {
  it("trim, trim_left, trim_right remove code points of the cutset", () => {
    expect(call("trim", "¡¡¡foo, bar!!!", "i")).toBe("¡¡¡foo, bar!!!");
    expect(call("trim", "¡¡¡foo, bar!!!", "!¡")).toBe("foo, bar");
    expect(call("trim_left", "!!!foo, bar¡¡¡", "¡")).toBe("!!!foo, bar¡¡¡");
    expect(call("trim_left", "!!!foo, bar¡¡¡", "!")).toBe("foo, bar¡¡¡");
    expect(call("trim_right", "héé", "é")).toBe("h");
    expect(call("trim_right", "x😀😀", "😀")).toBe("x");
    expect(call("trim", "abc", "")).toBe("abc");
  });

  it("trim_prefix / trim_suffix remove one occurrence", () => {
    expect(call("trim_prefix", "¡¡¡foo, bar!!!", "¡¡¡foo")).toBe(", bar!!!");
    expect(call("trim_prefix", "aab", "a")).toBe("ab");
    expect(call("trim_suffix", "¡¡¡foo, bar!!!", ", bar!!!")).toBe("¡¡¡foo");
    expect(call("trim_suffix", "abc", "x")).toBe("abc");
  });

  it("trim_space uses Go's notion of white space", () => {
    expect(call("trim_space", "  foo, bar\t\n")).toBe("foo, bar");
    expect(call("trim_space", "\u0085\u00a0x\u3000")).toBe("x");
    expect(call("trim_space", "\ufeffx")).toBe("\ufeffx");
    expect(call("trim_space", "   ")).toBe("");
  });
});
