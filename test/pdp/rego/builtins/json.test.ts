import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/json.js";
import { builtinTester } from "./helpers.js";
import { makeObject, makeSet, toJS, toJSONText, type Value } from "../../../../pdp/rego/value.js";
import { numFromText } from "../../../../pdp/rego/number.js";

const { run, fails } = builtinTester(builtins);
const call = (name: string, ...args: Value[]) => run(name, args);
const js = (name: string, ...args: Value[]) => {
  const v = call(name, ...args);
  return v === undefined ? undefined : toJS(v);
};

describe("json.marshal", () => {
  it("writes Go's compact JSON: sorted keys, sets as arrays, HTML-safe escapes", () => {
    expect(call("json.marshal", { b: [1, 2.5], a: makeSet(["z", "y"]), c: null })).toBe(
      '{"a":["y","z"],"b":[1,2.5],"c":null}',
    );
    expect(call("json.marshal", "<a & b>\u2028\b\u0001")).toBe(
      '"\\u003ca \\u0026 b\\u003e\\u2028\\b\\u0001"',
    );
    expect(call("json.marshal", numFromText("123456789123456789123")!)).toBe("123456789123456789123");
    expect(
      call(
        "json.marshal",
        makeObject([
          [1, "x"],
          [[1], "y"],
        ]),
      ),
    ).toBe('{"1":"x","[1]":"y"}');
  });

  it("marshal_with_options pretty-prints like json.MarshalIndent", () => {
    expect(call("json.marshal_with_options", { a: [1, {}], b: [] }, { pretty: true })).toBe(
      '{\n\t"a": [\n\t\t1,\n\t\t{}\n\t],\n\t"b": []\n}',
    );
    expect(call("json.marshal_with_options", { a: 1 }, { prefix: "--", indent: "  " })).toBe(
      '--{\n--  "a": 1\n--}',
    );
    expect(call("json.marshal_with_options", { a: 1 }, { indent: "  ", pretty: false })).toBe('{"a":1}');
    expect(call("json.marshal_with_options", { a: 1 }, {})).toBe('{"a":1}');
  });

  it("marshal_with_options validates the options object", () => {
    expect(fails("json.marshal_with_options", 1, { foo: 1 }).message).toBe(
      "json.marshal_with_options: operand 2 object contained unknown key foo",
    );
    expect(fails("json.marshal_with_options", 1, { pretty: "yes" }).message).toBe(
      "json.marshal_with_options: operand 2 key pretty failed cast to bool",
    );
    expect(fails("json.marshal_with_options", 1, { indent: 1 }).message).toBe(
      "json.marshal_with_options: operand 2 key indent failed cast to string: operand 0 must be string but got number",
    );
    expect(fails("json.marshal_with_options", 1, []).code).toBe("eval_type_error");
  });
});

describe("json.unmarshal and json.is_valid", () => {
  it("keeps numbers exact", () => {
    const v = call(
      "json.unmarshal",
      '{"a": 12345678901234567890, "b": [0.1, -2e3, true, null, "\\u00e9\\ud83d\\ude00"]}',
    );
    expect(toJSONText(v!)).toBe('{"a":12345678901234567890,"b":[0.1,-2000,true,null,"é😀"]}');
  });

  it("reports Go's decoder errors", () => {
    const msg = (s: string) => fails("json.unmarshal", s).message;
    expect(msg("")).toBe("json.unmarshal: EOF");
    expect(msg("{")).toBe("json.unmarshal: unexpected EOF");
    expect(msg('{"a" 1}')).toBe("json.unmarshal: invalid character '1' after object key");
    expect(msg("[1,]")).toBe("json.unmarshal: invalid character ']' looking for beginning of value");
    expect(msg("1 2")).toBe("json.unmarshal: error: invalid character '2' after top-level value");
    expect(msg("plainstring")).toBe("json.unmarshal: invalid character 'p' looking for beginning of value");
    expect(fails("json.unmarshal", "{").code).toBe("eval_builtin_error");
    expect(fails("json.unmarshal", 1).message).toBe(
      "json.unmarshal: operand 1 must be string but got number",
    );
  });

  it("is_valid is strict and false for non-strings", () => {
    expect(call("json.is_valid", '{"json": "ok"}')).toBe(true);
    expect(call("json.is_valid", "{")).toBe(false);
    expect(call("json.is_valid", "plainstring")).toBe(false);
    expect(call("json.is_valid", "1 null")).toBe(false);
    expect(call("json.is_valid", 1)).toBe(false);
  });
});

describe("json.filter and json.remove", () => {
  const doc = { a: { b: { c: 7, d: 8, x: 0 } }, e: 9 };

  it("filter keeps the selected paths (strings or segment arrays)", () => {
    expect(js("json.filter", {}, makeSet(["a/b"]))).toEqual({});
    expect(js("json.filter", doc, makeSet(["a/b/d", ["a", "b", "c"]]))).toEqual({ a: { b: { c: 7, d: 8 } } });
    expect(js("json.filter", doc, ["a", "a/b/c"])).toEqual({ a: { b: { c: 7, d: 8, x: 0 } } });
    expect(js("json.filter", { a: [10, 11, 12] }, ["a/0", "a/2"])).toEqual({ a: [10, 12] });
    expect(js("json.filter", { "a/b": 1, "c~d": 2 }, ["a~1b", "c~0d"])).toEqual({ "a/b": 1, "c~d": 2 });
    expect(fails("json.filter", doc, "a").message).toBe(
      "json.filter: operand 2 must be one of {set, array} but got string",
    );
    expect(fails("json.filter", doc, [1]).message).toBe(
      "json.filter: operand 2 must be one of {set, array} containing string paths or array of path segments but got number",
    );
  });

  it("remove drops the selected paths", () => {
    expect(js("json.remove", { a: { b: { c: 7, d: 8 } }, e: 9 }, makeSet(["a/b/c"]))).toEqual({
      a: { b: { d: 8 } },
      e: 9,
    });
    expect(js("json.remove", { a: { b: { c: 7, d: 8 }, e: 9 } }, ["a/b/c", "a/e"])).toEqual({
      a: { b: { d: 8 } },
    });
    expect(js("json.remove", { a: { b: 7 }, c: 1 }, ["a", "a/b"])).toEqual({ c: 1 });
    expect(js("json.remove", { a: [1, 2, 3] }, ["/a/1"])).toEqual({ a: [1, 3] });
    expect(js("json.remove", { a: makeSet(["x", "y"]) }, ["a/x"])).toEqual({ a: ["y"] });
  });
});

describe("json.patch", () => {
  const patch = (doc: Value, ...ops: Value[]) => js("json.patch", doc, ops);

  it("applies RFC 6902 operations", () => {
    expect(patch({ a: 1 }, { op: "add", path: "/b", value: 2 })).toEqual({ a: 1, b: 2 });
    expect(patch({ a: [1, 2] }, { op: "add", path: "/a/1", value: 9 })).toEqual({ a: [1, 9, 2] });
    expect(patch({ a: [1, 2] }, { op: "add", path: "/a/-", value: 9 })).toEqual({ a: [1, 2, 9] });
    expect(patch({ a: 1, b: 2 }, { op: "remove", path: "/a" })).toEqual({ b: 2 });
    expect(patch({ a: [1, 2, 3] }, { op: "remove", path: "/a/0" })).toEqual({ a: [2, 3] });
    expect(patch({ a: 1 }, { op: "replace", path: "/a", value: [2] })).toEqual({ a: [2] });
    expect(patch({ a: { b: 1 }, c: {} }, { op: "move", from: "/a/b", path: "/c/d" })).toEqual({
      a: {},
      c: { d: 1 },
    });
    expect(patch({ a: { b: 1 } }, { op: "copy", from: "/a", path: "/c" })).toEqual({
      a: { b: 1 },
      c: { b: 1 },
    });
    expect(
      patch({ a: 1 }, { op: "test", path: "/a", value: 1 }, { op: "add", path: "/t", value: true }),
    ).toEqual({
      a: 1,
      t: true,
    });
    expect(patch({ a: 1 }, { op: "add", path: "", value: [1] })).toEqual([1]);
    expect(patch({ s: makeSet(["x"]) }, { op: "add", path: ["s", "y"], value: "y" })).toEqual({
      s: ["x", "y"],
    });
  });

  it("is undefined when a patch does not apply", () => {
    expect(patch([1, 2, 3], { op: "add", path: "1.2", value: "foo" })).toBeUndefined();
    expect(patch({ a: 1 }, { op: "test", path: "/a", value: 2 })).toBeUndefined();
    expect(patch({ a: 1 }, { op: "remove", path: "/b" })).toBeUndefined();
    expect(patch([1], { op: "add", path: "/5", value: 0 })).toBeUndefined();
    expect(patch([1, 2], { op: "remove", path: "/01" })).toBeUndefined();
    expect(patch({ a: 1 }, { op: "bogus", path: "/a" })).toBeUndefined();
    expect(patch({ a: 1 }, { op: "add", path: "/b" })).toBeUndefined();
    expect(patch({ a: 1 }, "not an op")).toBeUndefined();
    expect(patch({ s: makeSet(["x"]) }, { op: "add", path: "/s/y", value: "z" })).toBeUndefined();
  });

  it("wants an array of operations", () => {
    expect(fails("json.patch", {}, {}).message).toBe("json.patch: operand 2 must be array but got object");
  });

  it("leaves its operands alone", () => {
    const doc = { a: [1, 2], b: { c: 1 } };
    patch(doc, { op: "remove", path: "/a/0" }, { op: "add", path: "/b/d", value: 2 });
    expect(doc).toEqual({ a: [1, 2], b: { c: 1 } });
  });
});
