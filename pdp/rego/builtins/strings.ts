// String builtins. Go strings are UTF-8 and OPA counts positions in code
// points (runes), so every index here is a code point index, never a UTF-16
// one; the BMP fast paths rely on the two coinciding when no surrogates occur.
import type { BuiltinDef } from "./registry.js";
import { compare, isArray, isSet, objectKeys, objectGet, type Value } from "../value.js";
import { toBigInt, type Num } from "../number.js";
import {
  builtinErr,
  def,
  elemErr,
  intArg,
  intDigits,
  isAscii,
  isBmp,
  MAX_INT_DIGITS,
  numArg,
  objArg,
  operandErr,
  runeCount,
  runes,
  stringsOf,
  strArg,
  typeErr,
} from "./lib/args.js";

function str2(name: string, args: Value[]): [string, string] {
  return [strArg(name, args[0]!, 1), strArg(name, args[1]!, 2)];
}

function concat([d, coll]: Value[]): Value {
  const sep = strArg("concat", d!, 1);
  let items: Value[];
  if (isArray(coll!)) items = coll;
  else if (isSet(coll!)) items = coll.sorted();
  else throw typeErr("concat", 2, coll!, "set", "array");
  for (const x of items) if (typeof x !== "string") throw elemErr("concat", 2, coll!, x, "string");
  return (items as string[]).join(sep);
}

function truncToBigInt(n: Num): bigint {
  if (typeof n === "number") return BigInt(Math.trunc(n));
  const digits = intDigits(n);
  if (digits <= 0) return 0n;
  if (digits > MAX_INT_DIGITS) throw builtinErr("format_int", "operand 1 is too large");
  // BigInt division truncates toward zero, as big.Float.Int does.
  return toBigInt(n) ?? n.m / 10n ** BigInt(-n.e);
}

function formatInt([a, b]: Value[]): Value {
  const n = numArg("format_int", a!, 1);
  const base = numArg("format_int", b!, 2);
  if (base !== 2 && base !== 8 && base !== 10 && base !== 16) {
    throw operandErr("format_int", 2, "must be one of {2, 8, 10, 16}");
  }
  if (typeof n === "number" && Number.isInteger(n)) return n.toString(base);
  return truncToBigInt(n).toString(base);
}

function indexOf(args: Value[]): Value {
  const [base, search] = str2("indexof", args);
  if (search === "") throw builtinErr("indexof", "empty search character");
  const i = base.indexOf(search);
  if (i <= 0 || isBmp(base)) return i;
  return runeCount(base.slice(0, i));
}

function indexOfN(args: Value[]): Value {
  const [base, search] = str2("indexof_n", args);
  if (search === "") throw builtinErr("indexof_n", "empty search character");
  const out: Value[] = [];
  const bmp = isBmp(base);
  let from = 0;
  let prev = 0;
  let prevRunes = 0;
  for (;;) {
    const i = base.indexOf(search, from);
    if (i < 0) break;
    if (bmp) out.push(i);
    else {
      prevRunes += runeCount(base.slice(prev, i));
      prev = i;
      out.push(prevRunes);
    }
    // Advance one code point: matches may overlap.
    const c = base.charCodeAt(i);
    from = i + (c >= 0xd800 && c <= 0xdbff ? 2 : 1);
  }
  return out;
}

function substring([s, a, b]: Value[]): Value {
  const base = strArg("substring", s!, 1);
  const start = intArg("substring", a!, 2);
  const length = intArg("substring", b!, 3);
  if (start < 0) throw builtinErr("substring", "negative offset");
  if (isBmp(base)) {
    if (start >= base.length) return "";
    if (length < 0) return base.slice(start);
    return start === 0 && length >= base.length ? base : base.slice(start, start + length);
  }
  const rs = runes(base);
  if (start >= rs.length) return "";
  if (length < 0) return rs.slice(start).join("");
  return rs.slice(start, start + length).join("");
}

function stringCount(args: Value[]): Value {
  const [s, sub] = str2("strings.count", args);
  if (sub === "") return runeCount(s) + 1;
  let n = 0;
  for (let i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + sub.length)) n++;
  return n;
}

// Go maps case one code point at a time (unicode.ToLower/ToUpper): no
// expansions (ß stays ß) and no context (a final Σ still becomes σ).
function mapCase(s: string, lower: boolean): string {
  if (isAscii(s)) return lower ? s.toLowerCase() : s.toUpperCase();
  let out = "";
  for (const ch of s) {
    const m = lower ? ch.toLowerCase() : ch.toUpperCase();
    if (m.length === ch.length || runeCount(m) === 1) out += m;
    else if (lower && ch === "\u0130") out += "i";
    else out += ch;
  }
  return out;
}

function split(s: string, delim: string): string[] {
  return delim === "" ? runes(s) : s.split(delim);
}

function splitN([a, b, c]: Value[]): Value {
  const s = strArg("strings.split_n", a!, 1);
  const delim = strArg("strings.split_n", b!, 2);
  const n = intArg("strings.split_n", c!, 3);
  const parts = split(s, delim);
  if (n >= 0) return n >= parts.length ? parts : parts.slice(0, n);
  return -n >= parts.length ? parts : parts.slice(parts.length + n);
}

function replace([a, b, c]: Value[]): Value {
  const s = strArg("replace", a!, 1);
  const old = strArg("replace", b!, 2);
  const repl = strArg("replace", c!, 3);
  if (old === "") return repl + runes(s).join(repl) + (s === "" ? "" : repl);
  return s.split(old).join(repl);
}

/**
 * Go's strings.NewReplacer (generic algorithm): scanning left to right, at
 * each position the earliest pair (in argument order) whose key matches
 * wins; an empty key matches at every position but not twice in a row.
 * Output is never rescanned.
 */
function replaceMany(s: string, keys: string[], vals: string[]): string {
  const emptyIdx = keys.indexOf("");
  const byFirst = new Map<number, number[]>();
  keys.forEach((k, i) => {
    if (k === "") return;
    const c = k.charCodeAt(0);
    const list = byFirst.get(c);
    if (list) list.push(i);
    else byFirst.set(c, [i]);
  });
  let out = "";
  let last = 0;
  let prevEmpty = false;
  for (let i = 0; i <= s.length;) {
    let match = -1;
    const cands = i < s.length ? byFirst.get(s.charCodeAt(i)) : undefined;
    if (cands) {
      for (const j of cands) {
        if (emptyIdx >= 0 && emptyIdx < j && !prevEmpty) break;
        if (s.startsWith(keys[j]!, i)) {
          match = j;
          break;
        }
      }
    }
    if (match < 0 && emptyIdx >= 0 && !prevEmpty) match = emptyIdx;
    prevEmpty = match >= 0 && keys[match] === "";
    if (match >= 0) {
      out += s.slice(last, i) + vals[match]!;
      i += keys[match]!.length;
      last = i;
      continue;
    }
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
  }
  return last < s.length ? out + s.slice(last) : out;
}

function replaceN([p, a]: Value[]): Value {
  const name = "strings.replace_n";
  const patterns = objArg(name, p!, 1);
  const keys = objectKeys(patterns).sort(compare);
  const s = strArg(name, a!, 2);
  const ks: string[] = [];
  const vs: string[] = [];
  for (const k of keys) {
    if (typeof k !== "string") throw operandErr(name, 1, "non-string key found in pattern object");
    const v = objectGet(patterns, k)!;
    if (typeof v !== "string") throw operandErr(name, 1, "non-string value found in pattern object");
    ks.push(k);
    vs.push(v);
  }
  if (ks.length === 0) return s;
  return replaceMany(s, ks, vs);
}

function cutsetOf(cutset: string): (cp: string) => boolean {
  if (cutset.length === 1) return (c) => c === cutset;
  const set = new Set(runes(cutset));
  return (c) => set.has(c);
}

function trimLeftRunes(s: string, inSet: (c: string) => boolean): string {
  let i = 0;
  while (i < s.length) {
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (!inSet(ch)) break;
    i += ch.length;
  }
  return i === 0 ? s : s.slice(i);
}

function trimRightRunes(s: string, inSet: (c: string) => boolean): string {
  let j = s.length;
  while (j > 0) {
    let k = j - 1;
    const c = s.charCodeAt(k);
    if (c >= 0xdc00 && c <= 0xdfff && k > 0) {
      const h = s.charCodeAt(k - 1);
      if (h >= 0xd800 && h <= 0xdbff) k--;
    }
    if (!inSet(s.slice(k, j))) break;
    j = k;
  }
  return j === s.length ? s : s.slice(0, j);
}

function trimFn(name: string, left: boolean, right: boolean): BuiltinDef {
  return def(name, 2, (args) => {
    const [s, cutset] = str2(name, args);
    if (s === "" || cutset === "") return s;
    const inSet = cutsetOf(cutset);
    let r = s;
    if (left) r = trimLeftRunes(r, inSet);
    if (right) r = trimRightRunes(r, inSet);
    return r;
  });
}

/** unicode.IsSpace (JS's trim also strips U+FEFF and misses U+0085). */
function isSpace(c: string): boolean {
  const cp = c.codePointAt(0)!;
  if (cp <= 0xff) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) || cp === 0x85 || cp === 0xa0;
  return (
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

function anyMatch(name: string, args: Value[], test: (s: string, affix: string) => boolean): Value {
  const [a, b] = args;
  const strs = typeof a === "string" ? [a] : isArray(a!) || isSet(a!) ? stringsOf(name, a!, 1) : null;
  if (strs === null) throw typeErr(name, 1, a!, "string", "set", "array");
  const affixes = typeof b === "string" ? [b] : isArray(b!) || isSet(b!) ? stringsOf(name, b!, 2) : null;
  if (affixes === null) throw typeErr(name, 2, b!, "string", "set", "array");
  for (const p of affixes) for (const s of strs) if (test(s, p)) return true;
  return false;
}

export const builtins: BuiltinDef[] = [
  def("concat", 2, concat),
  def("format_int", 2, formatInt),
  def("indexof", 2, indexOf),
  def("indexof_n", 2, indexOfN),
  def("substring", 3, substring),
  def("contains", 2, (args) => {
    const [s, sub] = str2("contains", args);
    return s.includes(sub);
  }),
  def("strings.count", 2, stringCount),
  def("startswith", 2, (args) => {
    const [s, p] = str2("startswith", args);
    return s.startsWith(p);
  }),
  def("endswith", 2, (args) => {
    const [s, p] = str2("endswith", args);
    return s.endsWith(p);
  }),
  def("lower", 1, ([s]) => mapCase(strArg("lower", s!, 1), true)),
  def("upper", 1, ([s]) => mapCase(strArg("upper", s!, 1), false)),
  def("split", 2, (args) => {
    const [s, d] = str2("split", args);
    return split(s, d);
  }),
  def("strings.split_n", 3, splitN),
  def("replace", 3, replace),
  def("strings.replace_n", 2, replaceN),
  trimFn("trim", true, true),
  trimFn("trim_left", true, false),
  trimFn("trim_right", false, true),
  def("trim_prefix", 2, (args) => {
    const [s, p] = str2("trim_prefix", args);
    return p !== "" && s.startsWith(p) ? s.slice(p.length) : s;
  }),
  def("trim_suffix", 2, (args) => {
    const [s, p] = str2("trim_suffix", args);
    return p !== "" && s.endsWith(p) ? s.slice(0, s.length - p.length) : s;
  }),
  def("trim_space", 1, ([s]) => {
    const str = strArg("trim_space", s!, 1);
    return trimRightRunes(trimLeftRunes(str, isSpace), isSpace);
  }),
  def("strings.reverse", 1, ([s]) => {
    const str = strArg("strings.reverse", s!, 1);
    return isBmp(str) ? str.split("").reverse().join("") : runes(str).reverse().join("");
  }),
  def("strings.any_prefix_match", 2, (args) =>
    anyMatch("strings.any_prefix_match", args, (s, p) => s.startsWith(p)),
  ),
  def("strings.any_suffix_match", 2, (args) =>
    anyMatch("strings.any_suffix_match", args, (s, p) => s.endsWith(p)),
  ),
];
