// The regex family (OPA's topdown/regex.go). Patterns are Go RE2 syntax, which
// lib/re2.ts parses with Go's grammar (what Go rejects we reject, with Go's
// message: `error parsing regexp: <code>: `<expr>``) and translates to a JS
// RegExp compiled with the `u` flag. Where the dialects differ:
//
//   RE2                         emitted JS
//   (?flags) / (?flags:re)      no inline flags in JS: flags are applied while
//                               emitting. i → the global `i` flag when every
//                               literal/class is case-insensitive, otherwise
//                               per-literal case-variant classes; s → `.` as
//                               [\s\S] or [^\n]; m → ^/$ as (?<![^\n]) / (?![^\n]);
//                               U → quantifier greediness swapped
//   .                           [^\n] (JS `.` also stops at \r, U+2028, U+2029)
//   ^ $ (no m)                  ^ $ (JS without m: start/end of input only)
//   \A  \z                      ^  $
//   \d \s \w (ASCII in RE2)     [0-9] [\t\n\f\r ] [0-9A-Za-z_] (JS \s is Unicode)
//   [[:alpha:]] POSIX classes   explicit ASCII ranges
//   \pL \p{Greek} \p{^Greek}    \p{L} \p{Script=Greek} \P{Script=Greek}
//   \Q…\E                       escaped literals
//   (?P<n>re) (?<n>re)          plain capturing groups (names kept aside for
//                               `${name}` in replacement templates)
//   \x{10FFFF} \123 \a \v       \u{…} code point escapes
//
// Constructs JS has but RE2 lacks are rejected as Go rejects them:
// backreferences (\1: invalid escape sequence), lookaround ((?= (?! (?<= (?<!:
// invalid or unsupported Perl syntax / invalid named capture), stacked
// quantifiers (a** : invalid nested repetition operator), \Z, \C.
//
// JS backtracks where RE2 is linear-time: patterns with nested repetition
// ((a+)+, (a|b)*…), which can backtrack exponentially, run on a Pike VM
// (lib/re2vm.ts) instead. Match iteration (find_n, split, replace) follows
// Go's regexp package exactly, including its treatment of empty matches.
// Compiled patterns are cached (bounded, oldest evicted first). Remaining
// difference on the JS path: a capture inside a repeated group that does not
// take part in the last iteration is reset by JS but kept by RE2.
import type { BuiltinDef } from "./registry.js";
import { builtinErr, def, intArg, strArg } from "./lib/args.js";
import { compileRE2, quoteMeta, RE2Error, type CompiledRE2 } from "./lib/re2.js";
import { globsIntersect, GlobIntersectError } from "./lib/globintersect.js";
import { compileProgram, vmExec, type Program } from "./lib/re2vm.js";

// Bounded cache of compiled patterns: the oldest entry goes first.
const CACHE_MAX = 256;
const cache = new Map<string, CompiledRE2 | RE2Error>();

export function compileCached(pattern: string): CompiledRE2 {
  let c = cache.get(pattern);
  if (c === undefined) {
    try {
      c = compileRE2(pattern);
    } catch (e) {
      if (!(e instanceof RE2Error)) throw e;
      c = e;
    }
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(pattern, c);
  }
  if (c instanceof RE2Error) throw c;
  return c;
}

function getRegexp(name: string, pattern: string): CompiledRE2 {
  try {
    return compileCached(pattern);
  } catch (e) {
    if (e instanceof RE2Error) throw builtinErr(name, e.message);
    throw e;
  }
}

interface Match {
  start: number;
  end: number;
  groups: (string | undefined)[];
}

const programs = new WeakMap<CompiledRE2, Program>();

function execAt(c: CompiledRE2, s: string, pos: number): Match | null {
  if (c.risky) {
    let prog = programs.get(c);
    if (!prog) {
      prog = compileProgram(c.ast, c.numCap);
      programs.set(c, prog);
    }
    return vmExec(prog, s, pos);
  }
  c.re.lastIndex = pos;
  const m = c.re.exec(s);
  if (!m) return null;
  return { start: m.index, end: m.index + m[0].length, groups: Array.from(m) };
}

function runeWidth(s: string, pos: number): number {
  if (pos >= s.length) return 0;
  const c = s.codePointAt(pos)!;
  return c > 0xffff ? 2 : 1;
}

/** Go's Regexp.allMatches: successive non-overlapping matches; n < 0 means all. */
function allMatches(c: CompiledRE2, s: string, n: number): Match[] {
  const out: Match[] = [];
  if (n < 0) n = s.length + 1;
  let pos = 0;
  let prevMatchEnd = -1;
  while (out.length < n && pos <= s.length) {
    const m = execAt(c, s, pos);
    if (!m) break;
    let accept = true;
    if (m.end === pos) {
      // An empty match right after a previous match is not reported.
      if (m.start === prevMatchEnd) accept = false;
      const w = runeWidth(s, pos);
      pos += w > 0 ? w : 1;
    } else {
      pos = m.end;
    }
    prevMatchEnd = m.end;
    if (accept) out.push(m);
  }
  return out;
}

function split(c: CompiledRE2, pattern: string, s: string): string[] {
  if (pattern.length > 0 && s.length === 0) return [""];
  const out: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of allMatches(c, s, -1)) {
    end = m.start;
    if (m.end !== 0) out.push(s.slice(beg, end));
    beg = m.end;
  }
  if (end !== s.length) out.push(s.slice(beg));
  return out;
}

const isNameChar = (ch: string): boolean => /^[\p{L}\p{Nd}_]$/u.test(ch);

/** Go's Regexp.Expand of a `$1` / `${name}` template for one match. */
function expand(c: CompiledRE2, template: string, m: Match): string {
  let out = "";
  let t = template;
  for (;;) {
    const i = t.indexOf("$");
    if (i < 0) break;
    out += t.slice(0, i);
    t = t.slice(i + 1);
    if (t.startsWith("$")) {
      out += "$";
      t = t.slice(1);
      continue;
    }
    // extract(): a name of letters, digits and '_', optionally in braces.
    let rest = t;
    const brace = rest.startsWith("{");
    if (brace) rest = rest.slice(1);
    let j = 0;
    for (const ch of rest) {
      if (!isNameChar(ch)) break;
      j += ch.length;
    }
    if (j === 0 || (brace && rest[j] !== "}")) {
      out += "$";
      continue;
    }
    const name = rest.slice(0, j);
    t = rest.slice(j + (brace ? 1 : 0));
    let num = -1;
    if (/^[0-9]+$/.test(name) && !(name.length > 1 && name[0] === "0") && name.length <= 9)
      num = Number(name);
    if (num >= 0) {
      out += m.groups[num] ?? "";
    } else {
      for (let g = 1; g < c.names.length; g++) {
        if (c.names[g] === name && m.groups[g] !== undefined) {
          out += m.groups[g];
          break;
        }
      }
    }
  }
  return out + t;
}

/** Go's Regexp.ReplaceAllString. */
function replaceAll(c: CompiledRE2, src: string, template: string): string {
  let out = "";
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= src.length) {
    const m = execAt(c, src, searchPos);
    if (!m) break;
    out += src.slice(lastMatchEnd, m.start);
    // No replacement for an empty match right after another match.
    if (m.end > lastMatchEnd || m.start === 0) out += expand(c, template, m);
    lastMatchEnd = m.end;
    const w = runeWidth(src, searchPos);
    if (searchPos + w > m.end) searchPos += w;
    else if (searchPos + 1 > m.end) searchPos++;
    else searchPos = m.end;
  }
  return out + src.slice(lastMatchEnd);
}

/** gorilla/mux-style template: literal text with delimited regexps, anchored at both ends. */
function compileTemplate(name: string, tpl: string, open: string, close: string): CompiledRE2 {
  const idxs: number[] = [];
  let level = 0;
  let idx = 0;
  for (let i = 0; i < tpl.length; i++) {
    const ch = tpl[i];
    if (ch === open) {
      if (++level === 1) idx = i;
    } else if (ch === close) {
      if (--level === 0) idxs.push(idx, i + 1);
      else if (level < 0) throw builtinErr(name, `unbalanced braces in ${JSON.stringify(tpl)}`);
    }
  }
  if (level !== 0) throw builtinErr(name, `unbalanced braces in ${JSON.stringify(tpl)}`);
  let pattern = "^";
  let end = 0;
  for (let i = 0; i < idxs.length; i += 2) {
    const raw = tpl.slice(end, idxs[i]);
    end = idxs[i + 1]!;
    const patt = tpl.slice(idxs[i]! + 1, end - 1);
    pattern += `${quoteMeta(raw)}(${patt})`;
    getRegexp(name, `^${patt}$`);
  }
  pattern += quoteMeta(tpl.slice(end)) + "$";
  return getRegexp(name, pattern);
}

function test(c: CompiledRE2, s: string): boolean {
  if (c.risky) return execAt(c, s, 0) !== null;
  c.re.lastIndex = 0;
  return c.re.test(s);
}

function regexMatch(name: string) {
  return (args: Parameters<BuiltinDef["fn"]>[0]) => {
    const pattern = strArg(name, args[0]!, 1);
    const s = strArg(name, args[1]!, 2);
    return test(getRegexp(name, pattern), s);
  };
}

/** UTF-8 length, for Go's byte-counted delimiter checks. */
const utf8Len = (s: string): number => Buffer.byteLength(s, "utf8");

export const builtins: BuiltinDef[] = [
  def("regex.match", 2, regexMatch("regex.match")),
  def("re_match", 2, regexMatch("re_match")),
  def("regex.is_valid", 1, (args) => {
    const p = args[0]!;
    if (typeof p !== "string") return false;
    try {
      compileCached(p);
      return true;
    } catch {
      return false;
    }
  }),
  def("regex.split", 2, (args) => {
    const name = "regex.split";
    const pattern = strArg(name, args[0]!, 1);
    const s = strArg(name, args[1]!, 2);
    return split(getRegexp(name, pattern), pattern, s);
  }),
  def("regex.find_n", 3, (args) => {
    const name = "regex.find_n";
    const pattern = strArg(name, args[0]!, 1);
    const s = strArg(name, args[1]!, 2);
    const n = intArg(name, args[2]!, 3);
    const c = getRegexp(name, pattern);
    if (n === 0) return [];
    return allMatches(c, s, n).map((m) => s.slice(m.start, m.end));
  }),
  def("regex.find_all_string_submatch_n", 3, (args) => {
    const name = "regex.find_all_string_submatch_n";
    const pattern = strArg(name, args[0]!, 1);
    const s = strArg(name, args[1]!, 2);
    const n = intArg(name, args[2]!, 3);
    const c = getRegexp(name, pattern);
    if (n === 0) return [];
    return allMatches(c, s, n).map((m) => m.groups.map((g) => g ?? ""));
  }),
  def("regex.replace", 3, (args) => {
    const name = "regex.replace";
    const base = strArg(name, args[0]!, 1);
    const pattern = strArg(name, args[1]!, 2);
    const value = strArg(name, args[2]!, 3);
    return replaceAll(getRegexp(name, pattern), base, value);
  }),
  def("regex.template_match", 4, (args) => {
    const name = "regex.template_match";
    const pattern = strArg(name, args[0]!, 1);
    const match = strArg(name, args[1]!, 2);
    const start = strArg(name, args[2]!, 3);
    const end = strArg(name, args[3]!, 4);
    if (utf8Len(start) !== 1) {
      throw builtinErr(
        name,
        `start delimiter has to be exactly one character long but is ${utf8Len(start)} long`,
      );
    }
    // OPA reports the start delimiter's length here too.
    if (utf8Len(end) !== 1) {
      throw builtinErr(
        name,
        `end delimiter has to be exactly one character long but is ${utf8Len(start)} long`,
      );
    }
    return test(compileTemplate(name, pattern, start, end), match);
  }),
  def("regex.globs_match", 2, (args) => {
    const name = "regex.globs_match";
    const a = strArg(name, args[0]!, 1);
    const b = strArg(name, args[1]!, 2);
    try {
      return globsIntersect(a, b);
    } catch (e) {
      if (e instanceof GlobIntersectError) throw builtinErr(name, e.message);
      throw e;
    }
  }),
];
