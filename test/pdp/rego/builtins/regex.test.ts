import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/regex.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { compileRE2, RE2Error } from "../../../../pdp/rego/builtins/lib/re2.js";
import { compileProgram, vmExec } from "../../../../pdp/rego/builtins/lib/re2vm.js";
import type { Value } from "../../../../pdp/rego/value.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };

function call(name: string, ...args: Value[]): Value | undefined {
  const d = builtins.find((b) => b.name === name);
  if (!d) throw new Error(`no builtin ${name}`);
  expect(args.length).toBe(d.arity);
  return d.fn(args, ctx);
}

function callErr(name: string, ...args: Value[]): BuiltinError {
  try {
    call(name, ...args);
  } catch (e) {
    if (e instanceof BuiltinError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

describe("regex.match", () => {
  it("matches like Go", () => {
    expect(call("regex.match", "^[a-z]+\\[[0-9]+\\]$", "foo[1]")).toBe(true);
    expect(call("regex.match", "^$", "")).toBe(true);
    expect(call("regex.match", "", "")).toBe(true);
    expect(call("regex.match", "", "x")).toBe(true);
    expect(call("regex.match", "^$", "something")).toBe(false);
    expect(call("re_match", "^a.c$", "abc")).toBe(true);
  });

  it("reports bad patterns with Go's message", () => {
    const e = callErr("regex.match", "$^[[[", "something");
    expect(e.code).toBe("eval_builtin_error");
    expect(e.message).toBe("regex.match: error parsing regexp: missing closing ]: `[[[`");
  });

  it("checks operand types", () => {
    const e = callErr("regex.match", 1, "x");
    expect(e.code).toBe("eval_type_error");
    expect(e.message).toBe("regex.match: operand 1 must be string but got number");
  });

  it("supports RE2 flags and escapes", () => {
    expect(call("regex.match", "(?i)^HeLLo$", "hello")).toBe(true);
    expect(call("regex.match", "^a(?i)b$", "aB")).toBe(true);
    expect(call("regex.match", "^a(?i)b$", "AB")).toBe(false);
    expect(call("regex.match", "^(?i:a)b$", "Ab")).toBe(true);
    expect(call("regex.match", "^(?i:a)b$", "AB")).toBe(false);
    expect(call("regex.match", "(?s)^a.b$", "a\nb")).toBe(true);
    expect(call("regex.match", "^a.b$", "a\nb")).toBe(false);
    expect(call("regex.match", "^a.b$", "a\rb")).toBe(true);
    expect(call("regex.match", "(?m)^b$", "a\nb\nc")).toBe(true);
    expect(call("regex.match", "^b$", "a\nb\nc")).toBe(false);
    expect(call("regex.match", "a$", "a\n")).toBe(false);
    expect(call("regex.match", "\\Aab\\z", "ab")).toBe(true);
    expect(call("regex.match", "^\\Q.*+\\E$", ".*+")).toBe(true);
    expect(call("regex.match", "^\\Q.*+\\E$", "ab")).toBe(false);
    expect(call("regex.match", "^(?P<year>\\d{4})-(?<m>\\d\\d)$", "2024-05")).toBe(true);
    expect(call("regex.match", "^\\x{1F600}$", "😀")).toBe(true);
    expect(call("regex.match", "^\\x41\\101$", "AA")).toBe(true);
    expect(call("regex.match", "^[[:alpha:]]+$", "abcXYZ")).toBe(true);
    expect(call("regex.match", "^[[:^digit:]]+$", "abc")).toBe(true);
    expect(call("regex.match", "^[[:^digit:]]+$", "ab1")).toBe(false);
    expect(call("regex.match", "^\\pL+$", "héllo")).toBe(true);
    expect(call("regex.match", "^\\p{Greek}+$", "αβγ")).toBe(true);
    expect(call("regex.match", "^\\P{Greek}+$", "αβγ")).toBe(false);
    expect(call("regex.match", "^\\p{^Greek}+$", "abc")).toBe(true);
    expect(call("regex.match", "^\\s$", "\u00a0")).toBe(false); // RE2's \s is ASCII
    expect(call("regex.match", "^\\w+$", "é")).toBe(false);
    expect(call("regex.match", "^[]a]+$", "]a]")).toBe(true);
    expect(call("regex.match", "^[a-]+$", "a-a")).toBe(true);
    expect(call("regex.match", "^a{2,3}$", "aaa")).toBe(true);
    expect(call("regex.match", "^a{,3}$", "a{,3}")).toBe(true); // not a repeat: literal
    expect(call("regex.match", "^x{$", "x{")).toBe(true);
    expect(call("regex.match", "^[^a]$", "\n")).toBe(true);
    expect(call("regex.match", "(?U)^(a+)", "aaa")).toBe(true);
    expect(call("regex.match", "^\\.\\_$", "._")).toBe(true);
    expect(call("regex.match", "^/\\-$", "/-")).toBe(true);
  });

  it("rejects what RE2 lacks", () => {
    const cases: [string, string][] = [
      ["(a)\\1", "error parsing regexp: invalid escape sequence: `\\1`"],
      ["a(?=b)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"],
      ["a(?!b)", "error parsing regexp: invalid or unsupported Perl syntax: `(?!`"],
      ["(?<=a)b", "error parsing regexp: invalid named capture: `(?<=a)b`"],
      ["a**", "error parsing regexp: invalid nested repetition operator: `**`"],
      ["*a", "error parsing regexp: missing argument to repetition operator: `*`"],
      ["a{1001}", "error parsing regexp: invalid repeat count: `{1001}`"],
      ["(a", "error parsing regexp: missing closing ): `(a`"],
      ["a)", "error parsing regexp: unexpected ): `a)`"],
      ["[z-a]", "error parsing regexp: invalid character class range: `z-a`"],
      ["\\Z", "error parsing regexp: invalid escape sequence: `\\Z`"],
      ["a\\", "error parsing regexp: trailing backslash at end of expression: ``"],
      ["[[:foo:]]", "error parsing regexp: invalid character class range: `[:foo:]`"],
      ["\\p{Foo}", "error parsing regexp: invalid character class range: `\\p{Foo}`"],
    ];
    for (const [p, msg] of cases) {
      expect(() => compileRE2(p), p).toThrow(RE2Error);
      try {
        compileRE2(p);
      } catch (e) {
        expect((e as Error).message, p).toBe(msg);
      }
    }
  });
});

describe("regex.is_valid", () => {
  it("validates", () => {
    expect(call("regex.is_valid", ".*")).toBe(true);
    expect(call("regex.is_valid", "*")).toBe(false);
    expect(call("regex.is_valid", 10)).toBe(false);
    expect(call("regex.is_valid", "(?i)x")).toBe(true);
  });
});

describe("regex.split", () => {
  it("splits like Go's Regexp.Split", () => {
    expect(call("regex.split", "^[a-z]+\\[[0-9]+\\]$", "")).toEqual([""]);
    expect(call("regex.split", "^[a-z]+", "foobar baz")).toEqual(["", " baz"]);
    expect(call("regex.split", "[a-z]+$", "foobar baz")).toEqual(["foobar ", ""]);
    expect(call("regex.split", "^[a-z]+$", "foobar baz")).toEqual(["foobar baz"]);
    expect(call("regex.split", "^[a-z ]+$", "foobar baz")).toEqual(["", ""]);
    expect(call("regex.split", "a", "banana")).toEqual(["b", "n", "n", ""]);
    expect(call("regex.split", "/", "foo//bar/baz")).toEqual(["foo", "", "bar", "baz"]);
    expect(call("regex.split", "", "abc")).toEqual(["a", "b", "c"]);
    expect(call("regex.split", "", "")).toEqual([]);
    expect(call("regex.split", "x*", "axbc")).toEqual(["a", "b", "c"]);
  });
});

describe("regex.find_n / find_all_string_submatch_n", () => {
  it("finds", () => {
    expect(call("regex.find_n", "a.", "paranormal", -1)).toEqual(["ar", "an", "al"]);
    expect(call("regex.find_n", "a.", "paranormal", 2)).toEqual(["ar", "an"]);
    expect(call("regex.find_n", "a.", "paranormal", 0)).toEqual([]);
    expect(call("regex.find_n", "[oa]+", "foo bar", -1)).toEqual(["oo", "a"]);
    expect(call("regex.find_n", "a*", "baaab", -1)).toEqual(["", "aaa", ""]);
    expect(call("regex.find_n", "", "😀a", -1)).toEqual(["", "", ""]);
  });
  it("finds submatches", () => {
    expect(call("regex.find_all_string_submatch_n", "a(x*)b", "-", -1)).toEqual([]);
    expect(call("regex.find_all_string_submatch_n", "a(x*)b", "-ab-", -1)).toEqual([["ab", ""]]);
    expect(call("regex.find_all_string_submatch_n", "a(x*)b(c)?", "-axxb-ab-", -1)).toEqual([
      ["axxb", "xx", ""],
      ["ab", "", ""],
    ]);
  });
  it("wants an integer n", () => {
    expect(callErr("regex.find_n", "a", "a", 1.5).message).toBe(
      "regex.find_n: operand 3 must be integer number but got floating-point number",
    );
  });
});

describe("regex.replace", () => {
  it("replaces like Go's ReplaceAllString", () => {
    expect(call("regex.replace", "-wy-wxxy-", "w(x*)y", "0")).toBe("-0-0-");
    expect(call("regex.replace", "foo", "(foo)", "$1$1")).toBe("foofoo");
    expect(call("regex.replace", "abc 123 abcdefg", "[abc]+", "XXX")).toBe("XXX 123 XXXdefg");
    expect(call("regex.replace", "abc", "x*", "-")).toBe("-a-b-c-");
    expect(call("regex.replace", "foo", "(?P<w>o)", "[${w}]")).toBe("f[o][o]");
    expect(call("regex.replace", "foo", "(o)", "$1x")).toBe("f"); // $1x is group "1x"
    expect(call("regex.replace", "foo", "(o)", "${1}x")).toBe("foxox");
    expect(call("regex.replace", "foo", "o", "$$")).toBe("f$$");
  });
  it("fails on bad patterns", () => {
    expect(callErr("regex.replace", "foo", "[", "$1").code).toBe("eval_builtin_error");
  });
});

describe("regex.template_match", () => {
  it("matches templates", () => {
    expect(call("regex.template_match", "urn:foo:{.*}", "urn:foo:bar:baz", "{", "}")).toBe(true);
    expect(call("regex.template_match", "urn:foo:{.*}", "urn:fo:bar:baz", "{", "}")).toBe(false);
    expect(
      call("regex.template_match", "/users/id-{[0-9]{1,4}}/update", "/users/id-123/update", "{", "}"),
    ).toBe(true);
    expect(
      call("regex.template_match", "/users/id-{[0-9]{1,4}}/update", "/users/id-123123/update", "{", "}"),
    ).toBe(false);
    expect(call("regex.template_match", "urn:foo.bar.com:{.*}", "urn:foo.bar.com:bar:baz", "<", ">")).toBe(
      false,
    );
    expect(call("regex.template_match", "urn:foo.bar.com:<.*>", "urn:foo.bar.com:bar:baz", "<", ">")).toBe(
      true,
    );
  });
  it("checks delimiters and balance", () => {
    expect(callErr("regex.template_match", "a", "a", "{{", "}").message).toBe(
      "regex.template_match: start delimiter has to be exactly one character long but is 2 long",
    );
    expect(callErr("regex.template_match", "a{b", "a", "{", "}").message).toContain("unbalanced braces");
  });
});

describe("regex.globs_match", () => {
  const nonEmpty: Record<string, string[]> = {
    abcd: ["abcd", "....", "[a-d]*"],
    pqrs: [".qrs", "p.rs", "pq.s", "pqr."],
    ".*": ["asdklfj", "jasdfh", "asdhfajfh", "asdflkasdfjl"],
    "d*": ["[abcd][abcd]", "d[a-z]+", ".....", "[d]*"],
    "[a-p]+": ["[p-z]+", "apapapaapapapap", ".*", "abcdefgh*"],
    "abcd[a-c]z+": ["abcd[b-d][yz]*", "abcdazzzz", "abcdbzzz", "abcdcz"],
    ".*\\\\": [".*", "asdfasdf\\\\"],
    ".a.a": ["b.b.", "c.c.", "d.d.", "e.e."],
    ".*.*.*.*.*.*.*.*.*.*.*.*.*.*.*": [".*.*.*.*.*.*.*.*.*.*.*"],
    "foo.*bar": ["foobar", "fooalkdsjfbar"],
  };
  const empty: Record<string, string[]> = {
    abcd: ["lsdfhda", "abcdla", "asdlfk", "ksdfj"],
    "[a-d]+": ["xyz", "p+", "[e-f]+"],
    "[0-9]*": ["[a-z]", ".\\*"],
    "mamama.*": ["dadada.*", "nanana.*"],
    ".*mamama": [".*dadada", ".*nanana"],
    ".xyz.": ["paaap", ".*pqr.*"],
    "ab+": ["a", "b", "abc"],
    ".*.*.*.*f": [".*.*.*.*g"],
  };
  it("agrees with glob-intersection's test suite", () => {
    for (const [l, rs] of Object.entries(nonEmpty))
      for (const r of rs) expect(call("regex.globs_match", l, r), `${l} ~ ${r}`).toBe(true);
    for (const [l, rs] of Object.entries(empty))
      for (const r of rs) expect(call("regex.globs_match", l, r), `${l} ~ ${r}`).toBe(false);
    expect(call("regex.globs_match", "a.a.", ".b.b")).toBe(true);
    expect(call("regex.globs_match", "[a-z]+", "[0-9]*")).toBe(false);
  });
  it("reports malformed globs", () => {
    expect(callErr("regex.globs_match", "a]", "a").message).toContain("set-close ']' with no preceding '['");
    expect(callErr("regex.globs_match", "*a", "a").message).toContain("must be preceded by a non-flag");
  });
});

describe("linear-time fallback (lib/re2vm.ts)", () => {
  const patterns = [
    "a+",
    "(a|ab)(c|bcd)(d*)",
    "(?i)héllo\\s+w\\w+",
    "^(\\d{1,3})\\.(\\d{1,3})$",
    "(?m)^b$",
    "x*",
    "\\bfoo\\b",
    "[^a-c]+?z",
    "(a*)+$",
    "(?:ab|a)+?c",
    "\\p{Greek}+",
    "(?s).{2,3}$",
    "a{2}b{0,2}",
    "😀+.",
    "(?U)a+",
    "^$",
  ];
  const inputs = [
    "",
    "abcd",
    "Héllo  World!",
    "12.345",
    "a\nb\nc",
    "xxyx",
    "a foo b",
    "ddz",
    "aaaa",
    "ababc",
    "αβγ x",
    "a\nbc",
    "aabbb",
    "😀😀😀x",
    "aaa",
  ];
  it("agrees with the JS engine", () => {
    for (const p of patterns) {
      const c = compileRE2(p);
      const prog = compileProgram(c.ast, c.numCap);
      for (const s of inputs) {
        for (let pos = 0; pos <= s.length; pos++) {
          const u = s.charCodeAt(pos);
          if (u >= 0xdc00 && u <= 0xdfff) continue; // never a search start in Go
          c.re.lastIndex = pos;
          const m = c.re.exec(s);
          const want = m ? { start: m.index, end: m.index + m[0].length, groups: Array.from(m) } : null;
          expect(vmExec(prog, s, pos), `${p} on ${JSON.stringify(s)} at ${pos}`).toEqual(want);
        }
      }
    }
  });
  it("runs patterns with nested repetition in linear time", () => {
    const s = "a".repeat(20000) + "!";
    const t = Date.now();
    expect(call("regex.match", "^(a+)+$", s)).toBe(false);
    expect(call("regex.match", "(a|aa)+$", "a".repeat(5000) + "!")).toBe(false);
    expect(call("regex.match", "^(a|aa)+$", "a".repeat(5000))).toBe(true);
    expect(call("regex.find_n", "(x+x+)+y", "x".repeat(3000), -1)).toEqual([]);
    expect(Date.now() - t).toBeLessThan(5000);
    expect(call("regex.find_all_string_submatch_n", "(a|b)+", "abba-ba", -1)).toEqual([
      ["abba", "a"],
      ["ba", "a"],
    ]);
  });
});
