import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/template.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { makeObject, makeSet, type Value } from "../../../../pdp/rego/value.js";
import { numFromText } from "../../../../pdp/rego/number.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };
const render = (t: Value, vars: Value) => builtins[0]!.fn([t, vars], ctx);
function fails(t: Value, vars: Value): BuiltinError {
  try {
    render(t, vars);
  } catch (e) {
    if (e instanceof BuiltinError) return e;
    throw e;
  }
  throw new Error("render_template did not fail");
}

describe("strings.render_template", () => {
  it("renders fields, numbers and missing keys as OPA does", () => {
    expect(render("{{.test}}", { test: "hello world" })).toBe("hello world");
    expect(render("{{.test}}", { test: 2023 })).toBe("2023");
    expect(render("test {{.foo}} {{.bar}} {{.baz}}", { baz: 1 })).toBe("test <undefined> <undefined> 1");
    expect(render("{{ .a.b }}|{{.a.missing}}|{{.n}}", { a: { b: 1.5 }, n: null })).toBe(
      "1.5|<undefined>|<undefined>",
    );
    const big = numFromText("123456789012345678901234567890")!;
    expect(render("{{.big}}", { big })).toBe("123456789012345678901234567890");
  });

  it("prints composite values like Go's fmt", () => {
    expect(render("{{.m}} {{.l}}", { m: { b: [1, "x"], a: null }, l: [true, { k: "v" }] })).toBe(
      "map[a:<nil> b:[1 x]] [true map[k:v]]",
    );
  });

  it("supports range, if/else, with, variables and trim markers", () => {
    expect(
      render("{{range $i, $name := .hellonames}}{{if $i}},{{end}}hello {{$name}}{{end}}", {
        hellonames: ["rohan", "john doe"],
      }),
    ).toBe("hello rohan,hello john doe");
    expect(render("{{range $k, $v := .m}}{{$k}}={{$v}};{{end}}", { m: { b: 2, a: 1 } })).toBe("a=1;b=2;");
    expect(render("{{range .l}}x{{else}}empty{{end}}", { l: [] })).toBe("empty");
    expect(render("{{if .t}}yes{{else if .u}}maybe{{else}}no{{end}}", { t: false, u: "s" })).toBe("maybe");
    expect(render("{{with .a}}{{.b}}{{end}}", { a: { b: "B" } })).toBe("B");
    expect(render("  {{- .x -}}  \n  !", { x: "X" })).toBe("X!");
    expect(render("{{/* comment */}}a{{- /* trimmed */ -}}  b", {})).toBe("ab");
    expect(render("{{$x := 1}}{{$x = 2}}{{$x}}", {})).toBe("2");
    expect(render('{{range .l}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}', { l: ["a", "b", "c"] })).toBe(
      "a",
    );
    expect(render("{{range 3}}{{.}}{{end}}", {})).toBe("012");
  });

  it("has Go's builtin functions", () => {
    expect(
      render('{{len .l}} {{index .l 1}} {{index .m "k"}} {{slice .s 1 3}}', {
        l: [1, 2],
        m: { k: "v" },
        s: "hello",
      }),
    ).toBe("2 2 v el");
    expect(
      render('{{eq .s "str"}} {{ne 1 2}} {{lt 1 2}} {{and 1 0}} {{or 0 "" "z"}} {{not .s}}', { s: "str" }),
    ).toBe("true true true 0 z false");
    expect(render('{{printf "%s-%d-%v-%5.2f|%q" .s 3 .m 3.14159 .s}}', { s: "x", m: { a: 1 } })).toBe(
      'x-3-map[a:1]- 3.14|"x"',
    );
    // Numbers in the variables are json.Number: strings to Go's fmt.
    expect(render('{{printf "%d" .n}}', { n: 5 })).toBe("%!d(json.Number=5)");
    expect(render('{{print 1 2 "a" 3}}|{{println 1 "x"}}', {})).toBe("1 2a3|1 x\n");
    expect(
      render("{{html .h}} {{js .j}} {{urlquery .u}}", { h: "<a href='x'>", j: "a'b<", u: "a b&c" }),
    ).toBe("&lt;a href=&#39;x&#39;&gt; a\\'b\\u003C a+b%26c");
    expect(render('{{define "T"}}[{{.}}]{{end}}{{template "T" .s}}', { s: "q" })).toBe("[q]");
  });

  it("reports Go's parse and execution errors as builtin errors", () => {
    const undef = fails("{{foo}}", {});
    expect(undef.code).toBe("eval_builtin_error");
    expect(undef.message).toBe('strings.render_template: template: template:1: function "foo" not defined');
    expect(fails("{{.x", {}).message).toBe("strings.render_template: template: template:1: unclosed action");
    expect(fails("{{if .x}}", {}).message).toBe(
      "strings.render_template: template: template:1: unexpected EOF",
    );
    expect(fails("a\n{{.s.x}}", { s: "str" }).message).toBe(
      'strings.render_template: template: template:2:4: executing "template" at <.s.x>: can\'t evaluate field x in type interface {}',
    );
    expect(fails("{{.n.x}}", { n: null }).message).toContain("nil pointer evaluating interface {}.x");
    expect(fails("{{index .l 5}}", { l: [1] }).message).toBe(
      'strings.render_template: template: template:1:2: executing "template" at <index .l 5>: error calling index: index out of range: 5',
    );
  });

  it("rejects variables OPA cannot decode as JSON", () => {
    expect(fails("x", { a: makeSet([1, 2]) }).message).toBe(
      "strings.render_template: invalid character '1' looking for beginning of object key string",
    );
    expect(fails("x", makeObject([[1, "a"]])).message).toContain(
      "strings.render_template: invalid character",
    );
    expect(fails(1, {}).message).toBe("strings.render_template: operand 1 must be string but got number");
    expect(fails("x", []).message).toBe("strings.render_template: operand 2 must be object but got array");
  });

  it("bounds work and recursion", () => {
    expect(fails("{{range 1000000000}}{{end}}", {}).message).toContain("too many execution steps");
    expect(fails('{{define "r"}}{{template "r"}}{{end}}{{template "r"}}', {}).message).toContain(
      "exceeded maximum template depth",
    );
  });
});
