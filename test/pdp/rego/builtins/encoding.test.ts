import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/encoding.js";
import { builtinTester } from "./helpers.js";
import { makeObject, makeSet, toJS, type Value } from "../../../../pdp/rego/value.js";

const { run, fails } = builtinTester(builtins);
const call = (name: string, ...args: Value[]) => run(name, args);

describe("base64 and base64url", () => {
  it("encodes UTF-8", () => {
    expect(call("base64.encode", "there")).toBe("dGhlcmU=");
    expect(call("base64.encode", "subjects?_d")).toBe("c3ViamVjdHM/X2Q=");
    expect(call("base64.encode", "é")).toBe("w6k=");
    expect(call("base64url.encode", "subjects?_d")).toBe("c3ViamVjdHM_X2Q=");
    expect(call("base64url.encode_no_pad", "subjects?_d")).toBe("c3ViamVjdHM_X2Q");
  });

  it("decodes strictly, like Go's StdEncoding", () => {
    expect(call("base64.decode", "aGVsbG8=")).toBe("hello");
    expect(call("base64.decode", "aGVs\nbG8=")).toBe("hello");
    const bad = (s: string) => fails("base64.decode", s).message;
    expect(bad("aGVsbG8")).toBe("base64.decode: illegal base64 data at input byte 4");
    expect(bad("aGVs!G8=")).toBe("base64.decode: illegal base64 data at input byte 4");
    expect(bad("aGVsbG8=x")).toBe("base64.decode: illegal base64 data at input byte 8");
    expect(fails("base64.decode", "a").code).toBe("eval_builtin_error");
    expect(call("base64.is_valid", "aGVsbG8=")).toBe(true);
    expect(call("base64.is_valid", "aGVsbG8")).toBe(false);
    expect(call("base64.is_valid", 1)).toBe(false);
  });

  it("base64url.decode restores missing padding", () => {
    expect(call("base64url.decode", "aGVsbG8=")).toBe("hello");
    expect(call("base64url.decode", "aGVsbG8")).toBe("hello");
    expect(call("base64url.decode", "c3ViamVjdHM_X2Q")).toBe("subjects?_d");
    expect(fails("base64url.decode", "aGVsb").message).toBe(
      "base64url.decode: illegal base64url string: aGVsb",
    );
  });
});

describe("hex", () => {
  it("encodes and decodes bytes", () => {
    expect(call("hex.encode", "hi é")).toBe("686920c3a9");
    expect(call("hex.decode", "686920C3A9")).toBe("hi é");
  });

  it("reports Go's errors", () => {
    const e = fails("hex.decode", "fghijkl");
    expect(e.code).toBe("eval_builtin_error");
    expect(e.message).toBe("hex.decode: encoding/hex: invalid byte: U+0067 'g'");
    expect(fails("hex.decode", "abc").message).toBe("hex.decode: encoding/hex: odd length hex string");
    expect(fails("hex.decode", "ab\n").message).toBe("hex.decode: encoding/hex: invalid byte: U+000A");
  });
});

describe("urlquery", () => {
  it("encode / decode", () => {
    expect(call("urlquery.encode", "a=b+1")).toBe("a%3Db%2B1");
    expect(call("urlquery.encode", "")).toBe("");
    expect(call("urlquery.encode", "a b/é!*~")).toBe("a+b%2F%C3%A9%21%2A~");
    expect(call("urlquery.decode", "a+b%2F%C3%A9")).toBe("a b/é");
    const e = fails("urlquery.decode", "a%zz");
    expect(e.code).toBe("eval_builtin_error");
    expect(e.message).toBe('urlquery.decode: invalid URL escape "%zz"');
    expect(fails("urlquery.decode", "%4").message).toBe('urlquery.decode: invalid URL escape "%4"');
  });

  it("encode_object sorts keys and repeats array values", () => {
    expect(call("urlquery.encode_object", { b: ["x", "y"], a: "1 2", c: makeSet(["q"]) })).toBe(
      "a=1+2&b=x&b=y&c=q",
    );
    expect(call("urlquery.encode_object", {})).toBe("");
    expect(fails("urlquery.encode_object", { a: 1 }).message).toBe(
      "urlquery.encode_object: operand 1 values must be string, array[string], or set[string]",
    );
    expect(fails("urlquery.encode_object", "a=b").message).toBe(
      "urlquery.encode_object: operand 1 must be object but got string",
    );
  });

  it("decode_object collects every value of a key", () => {
    expect(toJS(call("urlquery.decode_object", "a=1&b=2&a=3&c&=v")!)).toEqual({
      a: ["1", "3"],
      b: ["2"],
      c: [""],
      "": ["v"],
    });
    expect(fails("urlquery.decode_object", "a=1;b=2").message).toBe(
      "urlquery.decode_object: invalid semicolon separator in query",
    );
  });
});

describe("yaml", () => {
  it("marshals like go-yaml v2 via JSON", () => {
    expect(call("yaml.marshal", [{ foo: makeSet([1, 2, 3]) }])).toBe("- foo:\n  - 1\n  - 2\n  - 3\n");
    expect(call("yaml.marshal", { b: { c: [1, "two"], d: {} }, a10: 1, a2: 2, "1": "x" })).toBe(
      '"1": x\na2: 2\na10: 1\nb:\n  c:\n  - 1\n  - two\n  d: {}\n',
    );
    expect(
      call("yaml.marshal", ["true", "", "a: b", "- x", "multi\nline", "x\n", 1.5, null, "yes", "#c"]),
    ).toBe(
      "- \"true\"\n- \"\"\n- 'a: b'\n- '- x'\n- |-\n  multi\n  line\n- |\n  x\n- 1.5\n- null\n- \"yes\"\n- '#c'\n",
    );
    expect(call("yaml.marshal", "plain")).toBe("plain\n");
    expect(call("yaml.marshal", {})).toBe("{}\n");
  });

  it("unmarshals YAML 1.1 as go-yaml v2 does", () => {
    expect(
      toJS(call("yaml.unmarshal", "a: yes\nb: 0777\nc: 2001-12-14\nd: [1, 2.5]\n1: x\ne: ~\n")!),
    ).toEqual({
      "1": "x",
      a: true,
      b: 511,
      c: "2001-12-14",
      d: [1, 2.5],
      e: null,
    });
    expect(call("yaml.unmarshal", "")).toBe(null);
    expect(toJS(call("yaml.unmarshal", "a: 1\n---\nb: 2\n")!)).toEqual({ a: 1 });
    expect(fails("yaml.unmarshal", "a: [1").code).toBe("eval_builtin_error");
  });

  it("round-trips", () => {
    const v = makeObject([["k", [{ foo: ["1", 2, "multi\nline", "it's"] }]]]);
    const back = call("yaml.unmarshal", call("yaml.marshal", v)!);
    expect(toJS(back!)).toEqual(toJS(v));
  });

  it("is_valid", () => {
    expect(call("yaml.is_valid", "foo:\n  - qux: bar\n  - baz: 2")).toBe(true);
    expect(call("yaml.is_valid", "foo:\n  - qux: bar\n  - baz: {")).toBe(false);
    expect(call("yaml.is_valid", '{"json": "ok"}')).toBe(true);
    expect(call("yaml.is_valid", "  test:\ntest1: hello\n")).toBe(false);
    expect(call("yaml.is_valid", "a: 1\n---\n\tb: 2\n")).toBe(false);
    expect(call("yaml.is_valid", "a: 1\n---\nb: 2\n")).toBe(true);
    expect(call("yaml.is_valid", 1)).toBe(false);
  });
});
