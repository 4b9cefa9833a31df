// RE2 (Go regexp/syntax, Perl flavour) parser and JavaScript RegExp emitter
// for the regex builtins; the translation rules are documented at the top of
// ../regex.ts.

export class RE2Error extends Error {
  constructor(
    readonly code: string,
    readonly expr: string,
  ) {
    super(`error parsing regexp: ${code}: \`${expr}\``);
    this.name = "RE2Error";
  }
}

const ERR_MISSING_BRACKET = "missing closing ]";
const ERR_MISSING_PAREN = "missing closing )";
const ERR_UNEXPECTED_PAREN = "unexpected )";
const ERR_INVALID_ESCAPE = "invalid escape sequence";
const ERR_INVALID_CHAR_RANGE = "invalid character class range";
const ERR_MISSING_REPEAT_ARG = "missing argument to repetition operator";
const ERR_INVALID_REPEAT_OP = "invalid nested repetition operator";
const ERR_INVALID_REPEAT_SIZE = "invalid repeat count";
const ERR_INVALID_PERL_OP = "invalid or unsupported Perl syntax";
const ERR_INVALID_NAMED_CAPTURE = "invalid named capture";
const ERR_TRAILING_BACKSLASH = "trailing backslash at end of expression";
const ERR_NESTING_DEPTH = "expression nests too deeply";
const ERR_INVALID_UTF8 = "invalid UTF-8";

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  U: boolean;
}

export type Range = [number, number];

/** A class member: code point ranges, or a Unicode property JS knows. */
export type ClassItem = { r: Range } | { prop: string; neg: boolean };

export type Node =
  | { k: "lit"; cp: number; fold: boolean }
  | { k: "class"; items: ClassItem[]; neg: boolean; fold: boolean }
  | { k: "any"; nl: boolean }
  | { k: "bol"; multi: boolean }
  | { k: "eol"; multi: boolean }
  | { k: "bot" }
  | { k: "eot" }
  | { k: "wordb" }
  | { k: "nwordb" }
  | { k: "cap"; idx: number; sub: Node }
  | { k: "group"; sub: Node }
  | { k: "concat"; subs: Node[] }
  | { k: "alt"; subs: Node[] }
  | { k: "rep"; sub: Node; min: number; max: number; greedy: boolean }
  | { k: "empty" };

const MAX_RUNE = 0x10ffff;

// ---- character sets ----

const PERL_CLASSES: Record<string, Range[]> = {
  d: [[0x30, 0x39]],
  s: [
    [0x09, 0x0a],
    [0x0c, 0x0d],
    [0x20, 0x20],
  ],
  w: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
};

const POSIX_CLASSES: Record<string, Range[]> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};

// Go's unicode.Categories (JS accepts the same short names, except that Go's C
// excludes unassigned code points).
const CATEGORIES = new Set(
  "L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs Cc Cf Co Cs".split(
    " ",
  ),
);

function normalizeRanges(rs: Range[]): Range[] {
  const sorted = [...rs].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(rs: Range[]): Range[] {
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of normalizeRanges(rs)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
}

// Case orbits JS's toLowerCase/toUpperCase do not close on their own.
const EXTRA_FOLDS: number[][] = [
  [0x4b, 0x6b, 0x212a],
  [0x53, 0x73, 0x17f],
  [0xc5, 0xe5, 0x212b],
  [0x3a9, 0x3c9, 0x2126],
  [0xb5, 0x39c, 0x3bc],
  [0x3a3, 0x3c2, 0x3c3],
  [0x392, 0x3b2, 0x3d0],
  [0x398, 0x3b8, 0x3d1, 0x3f4],
  [0x3a6, 0x3c6, 0x3d5],
  [0x3a0, 0x3c0, 0x3d6],
  [0x39a, 0x3ba, 0x3f0],
  [0x3a1, 0x3c1, 0x3f1],
  [0x395, 0x3b5, 0x3f5],
  [0x1e60, 0x1e61, 0x1e9b],
  [0x399, 0x3b9, 0x345, 0x1fbe],
];
const EXTRA_FOLD_MAP = new Map<number, number[]>();
for (const orbit of EXTRA_FOLDS) for (const c of orbit) EXTRA_FOLD_MAP.set(c, orbit);

/** The simple case-folding orbit of a code point (Go's unicode.SimpleFold closure). */
export function foldOrbit(cp: number): number[] {
  const extra = EXTRA_FOLD_MAP.get(cp);
  if (extra) return extra;
  const out = new Set<number>([cp]);
  const s = String.fromCodePoint(cp);
  for (const t of [s.toLowerCase(), s.toUpperCase()]) {
    const c = t.codePointAt(0)!;
    if (t.length === String.fromCodePoint(c).length && c !== cp) {
      out.add(c);
      const e = EXTRA_FOLD_MAP.get(c);
      if (e) for (const x of e) out.add(x);
    }
  }
  return [...out];
}

/** Adds the case variants of ranges (mixed-case patterns only; big ranges are left alone). */
function foldRanges(rs: Range[]): Range[] {
  const out: Range[] = [...rs];
  for (const [lo, hi] of rs) {
    if (hi - lo > 0x3000) continue;
    for (let c = lo; c <= hi; c++) for (const f of foldOrbit(c)) if (f !== c) out.push([f, f]);
  }
  return normalizeRanges(out);
}

// ---- parser ----

const isDigitCode = (c: string | undefined): boolean => c !== undefined && c >= "0" && c <= "9";
const isAlnum = (c: string): boolean => /^[0-9A-Za-z]$/.test(c);

function unhex(c: string): number {
  if (c >= "0" && c <= "9") return c.charCodeAt(0) - 48;
  if (c >= "a" && c <= "f") return c.charCodeAt(0) - 87;
  if (c >= "A" && c <= "F") return c.charCodeAt(0) - 55;
  return -1;
}

class Parser {
  private pos = 0;
  numCap = 0;
  readonly names: (string | undefined)[] = [undefined];
  sawFold = false;
  sawNoFold = false;
  private depth = 0;

  constructor(private readonly src: string) {}

  private rest(): string {
    return this.src.slice(this.pos);
  }

  private peek(off = 0): string | undefined {
    const cp = this.src.codePointAt(this.pos + off);
    return cp === undefined ? undefined : String.fromCodePoint(cp);
  }

  /** Next code point (as a string) and advance. */
  private next(): string {
    const cp = this.src.codePointAt(this.pos)!;
    const s = String.fromCodePoint(cp);
    this.pos += s.length;
    return s;
  }

  private noteFold(fold: boolean): void {
    if (fold) this.sawFold = true;
    else this.sawNoFold = true;
  }

  parse(): Node {
    const flags: Flags = { i: false, m: false, s: false, U: false };
    const node = this.parseAlt(flags, false);
    if (this.pos < this.src.length) throw new RE2Error(ERR_UNEXPECTED_PAREN, this.src);
    return node;
  }

  /** Alternatives up to `)` (inGroup) or the end. Inline flags last to the end of the group. */
  private parseAlt(flags: Flags, inGroup: boolean): Node {
    if (++this.depth > 1000) throw new RE2Error(ERR_NESTING_DEPTH, this.src);
    const alts: Node[] = [];
    let seq: Node[] = [];
    // The text of the previous repetition operator, for Go's stacking check.
    let lastRepeat: string | null = null;
    for (;;) {
      const c = this.peek();
      if (c === undefined) {
        if (inGroup) throw new RE2Error(ERR_MISSING_PAREN, this.src);
        break;
      }
      if (c === ")") {
        if (!inGroup) throw new RE2Error(ERR_UNEXPECTED_PAREN, this.src);
        break;
      }
      let repeat: string | null = null;
      switch (c) {
        case "|":
          this.pos++;
          alts.push(concat(seq));
          seq = [];
          break;
        case "(": {
          if (this.src.startsWith("(?", this.pos)) {
            const sub = this.parsePerlGroup(flags);
            if (sub) seq.push(sub);
          } else {
            this.pos++;
            const idx = ++this.numCap;
            this.names[idx] = undefined;
            const inner = this.parseAlt({ ...flags }, true);
            this.pos++; // )
            seq.push({ k: "cap", idx, sub: inner });
          }
          break;
        }
        case "[":
          seq.push(this.parseClass(flags));
          break;
        case "^":
          this.pos++;
          seq.push({ k: "bol", multi: flags.m });
          break;
        case "$":
          this.pos++;
          seq.push({ k: "eol", multi: flags.m });
          break;
        case ".":
          this.pos++;
          seq.push({ k: "any", nl: flags.s });
          break;
        case "*":
        case "+":
        case "?": {
          const before = this.pos;
          this.pos++;
          const min = c === "+" ? 1 : 0;
          const max = c === "?" ? 1 : -1;
          repeat = this.applyRepeat(seq, flags, min, max, before, lastRepeat);
          break;
        }
        case "{": {
          const before = this.pos;
          const rep = this.parseRepeatSpec();
          if (!rep) {
            this.pos++;
            this.pushLit(seq, 0x7b, flags);
            break;
          }
          const [min, max] = rep;
          if (min < 0 || min > 1000 || max > 1000 || (max >= 0 && min > max)) {
            throw new RE2Error(ERR_INVALID_REPEAT_SIZE, this.src.slice(before, this.pos));
          }
          repeat = this.applyRepeat(seq, flags, min, max, before, lastRepeat);
          break;
        }
        case "\\":
          this.parseBackslash(seq, flags);
          break;
        default:
          this.pos += c.length;
          this.pushLit(seq, c.codePointAt(0)!, flags);
      }
      lastRepeat = repeat;
    }
    alts.push(concat(seq));
    this.depth--;
    return alts.length === 1 ? alts[0]! : { k: "alt", subs: alts };
  }

  private pushLit(seq: Node[], cp: number, flags: Flags): void {
    const fold = flags.i && foldOrbit(cp).length > 1;
    this.noteFold(flags.i);
    seq.push({ k: "lit", cp, fold });
  }

  /** `{n}`, `{n,}`, `{n,m}` at pos; advances past it, or returns null (then `{` is a literal). */
  private parseRepeatSpec(): [number, number] | null {
    const save = this.pos;
    this.pos++; // {
    const min = this.parseInt();
    if (min === null) {
      this.pos = save;
      return null;
    }
    let max = min;
    if (this.peek() === ",") {
      this.pos++;
      if (this.peek() === "}") max = -1;
      else {
        const m = this.parseInt();
        if (m === null) {
          this.pos = save;
          return null;
        }
        max = m;
      }
    }
    if (this.peek() !== "}") {
      this.pos = save;
      return null;
    }
    this.pos++;
    return [min, max];
  }

  /** Go's parseInt: digits without leading zeros; -1 when too large. */
  private parseInt(): number | null {
    const t = this.rest();
    if (!isDigitCode(t[0])) return null;
    if (t.length >= 2 && t[0] === "0" && isDigitCode(t[1])) return null;
    let i = 0;
    let n = 0;
    while (isDigitCode(t[i])) {
      if (n >= 1e8) n = -1;
      else if (n >= 0) n = n * 10 + (t.charCodeAt(i) - 48);
      i++;
    }
    this.pos += i;
    return n;
  }

  private applyRepeat(
    seq: Node[],
    flags: Flags,
    min: number,
    max: number,
    before: number,
    lastRepeat: string | null,
  ): string {
    let greedy = !flags.U;
    if (this.peek() === "?") {
      this.pos++;
      greedy = !greedy;
    }
    const opText = this.src.slice(before, this.pos);
    if (lastRepeat !== null) throw new RE2Error(ERR_INVALID_REPEAT_OP, lastRepeat + opText);
    const sub = seq.pop();
    if (!sub) throw new RE2Error(ERR_MISSING_REPEAT_ARG, opText);
    const node: Node = { k: "rep", sub, min, max, greedy };
    if ((min >= 2 || max >= 2) && !repeatIsValid(node, 1000)) {
      throw new RE2Error(ERR_INVALID_REPEAT_SIZE, opText);
    }
    seq.push(node);
    return opText;
  }

  /** `(?…`: flags, non-capturing or named groups. Returns a node, or null for a bare flag change. */
  private parsePerlGroup(flags: Flags): Node | null {
    const t = this.rest();
    // Named captures: (?P<name>re) and (?<name>re).
    if ((t.length > 4 && t[2] === "P" && t[3] === "<") || (t.length > 3 && t[2] === "<")) {
      const begin = t[2] === "P" ? 4 : 3;
      const end = t.indexOf(">");
      if (end < 0) throw new RE2Error(ERR_INVALID_NAMED_CAPTURE, t);
      const capture = t.slice(0, end + 1);
      const name = t.slice(begin, end);
      if (!/^[0-9A-Za-z_]+$/.test(name)) throw new RE2Error(ERR_INVALID_NAMED_CAPTURE, capture);
      this.pos += end + 1;
      const idx = ++this.numCap;
      this.names[idx] = name;
      const inner = this.parseAlt({ ...flags }, true);
      this.pos++;
      return { k: "cap", idx, sub: inner };
    }
    const start = this.pos;
    this.pos += 2;
    const nf: Flags = { ...flags };
    let neg = false;
    let sawFlag = false;
    while (this.pos < this.src.length) {
      const c = this.next();
      switch (c) {
        case "i":
        case "m":
        case "s":
        case "U":
          nf[c] = !neg;
          sawFlag = true;
          continue;
        case "-":
          if (neg) break;
          neg = true;
          sawFlag = false;
          continue;
        case ":":
        case ")": {
          if (neg && !sawFlag) break;
          if (c === ":") {
            const inner = this.parseAlt(nf, true);
            this.pos++;
            return { k: "group", sub: inner };
          }
          flags.i = nf.i;
          flags.m = nf.m;
          flags.s = nf.s;
          flags.U = nf.U;
          return null;
        }
      }
      break;
    }
    throw new RE2Error(ERR_INVALID_PERL_OP, this.src.slice(start, this.pos));
  }

  private parseBackslash(seq: Node[], flags: Flags): void {
    const t = this.rest();
    if (t.length >= 2) {
      switch (t[1]) {
        case "A":
          this.pos += 2;
          seq.push({ k: "bot" });
          return;
        case "z":
          this.pos += 2;
          seq.push({ k: "eot" });
          return;
        case "b":
          this.pos += 2;
          seq.push({ k: "wordb" });
          return;
        case "B":
          this.pos += 2;
          seq.push({ k: "nwordb" });
          return;
        case "C":
          throw new RE2Error(ERR_INVALID_ESCAPE, t.slice(0, 2));
        case "Q": {
          const endIdx = t.indexOf("\\E", 2);
          const lit = endIdx < 0 ? t.slice(2) : t.slice(2, endIdx);
          this.pos += endIdx < 0 ? t.length : endIdx + 2;
          for (const ch of lit) this.pushLit(seq, ch.codePointAt(0)!, flags);
          return;
        }
      }
    }
    const uni = this.parseUnicodeClass();
    if (uni) {
      this.noteFold(flags.i);
      seq.push({ k: "class", items: uni, neg: false, fold: flags.i });
      return;
    }
    const perl = this.parsePerlClass(flags);
    if (perl) {
      this.noteFold(flags.i);
      seq.push({ k: "class", items: perl.map((r) => ({ r })), neg: false, fold: false });
      return;
    }
    this.pushLit(seq, this.parseEscape(), flags);
  }

  /** \d \D \s \S \w \W as ranges (folded when case-insensitive, as Go does). */
  private parsePerlClass(flags: Flags): Range[] | null {
    const t = this.rest();
    if (t.length < 2 || t[0] !== "\\") return null;
    const base = PERL_CLASSES[t[1]!.toLowerCase()];
    if (!base || !/[dDsSwW]/.test(t[1]!)) return null;
    this.pos += 2;
    const rs = flags.i ? foldRanges(base) : base;
    return t[1] === t[1]!.toUpperCase() ? complement(rs) : rs;
  }

  /** \pL, \p{Greek}, \P{^Greek} as property items; null when not at \p / \P. */
  private parseUnicodeClass(): ClassItem[] | null {
    const t = this.rest();
    if (t.length < 2 || t[0] !== "\\" || (t[1] !== "p" && t[1] !== "P")) return null;
    let neg = t[1] === "P";
    let seqText: string;
    let name: string;
    if (t.length < 3) throw new RE2Error(ERR_INVALID_CHAR_RANGE, t);
    if (t[2] !== "{") {
      const cp = String.fromCodePoint(t.codePointAt(2)!);
      seqText = t.slice(0, 2 + cp.length);
      name = cp;
    } else {
      const end = t.indexOf("}");
      if (end < 0) throw new RE2Error(ERR_INVALID_CHAR_RANGE, t);
      seqText = t.slice(0, end + 1);
      name = t.slice(3, end);
    }
    if (name.startsWith("^")) {
      neg = !neg;
      name = name.slice(1);
    }
    let items: ClassItem[];
    if (name === "Any") items = [{ r: [0, MAX_RUNE] }];
    else if (name === "C") items = ["Cc", "Cf", "Co", "Cs"].map((p) => ({ prop: p, neg: false }));
    else if (CATEGORIES.has(name)) items = [{ prop: name, neg: false }];
    else if (/^[A-Za-z_]+$/.test(name) && scriptKnown(name)) items = [{ prop: `Script=${name}`, neg: false }];
    else throw new RE2Error(ERR_INVALID_CHAR_RANGE, seqText);
    this.pos += seqText.length;
    if (!neg) return items;
    if (items.length === 1) {
      const it = items[0]!;
      if ("prop" in it) return [{ prop: it.prop, neg: true }];
      return complement([it.r]).map((r) => ({ r }));
    }
    return negatedC();
  }

  /** A single escape sequence (Go's parseEscape) as a code point. */
  private parseEscape(): number {
    const start = this.pos;
    this.pos++; // backslash
    if (this.pos >= this.src.length) throw new RE2Error(ERR_TRAILING_BACKSLASH, "");
    const c = this.next();
    const fail = (): never => {
      throw new RE2Error(ERR_INVALID_ESCAPE, this.src.slice(start, this.pos));
    };
    if (c >= "0" && c <= "7") {
      // A single non-zero digit would be a backreference, which RE2 lacks.
      const n0 = this.peek();
      if (c !== "0" && (n0 === undefined || n0 < "0" || n0 > "7")) return fail();
      let r = c.charCodeAt(0) - 48;
      for (let i = 1; i < 3; i++) {
        const n = this.peek();
        if (n === undefined || n < "0" || n > "7") break;
        r = r * 8 + (n.charCodeAt(0) - 48);
        this.pos++;
      }
      return r;
    }
    switch (c) {
      case "x": {
        if (this.pos >= this.src.length) return fail();
        const d = this.next();
        if (d === "{") {
          let nhex = 0;
          let r = 0;
          for (;;) {
            if (this.pos >= this.src.length) return fail();
            const h = this.next();
            if (h === "}") break;
            const v = unhex(h);
            if (v < 0) return fail();
            r = r * 16 + v;
            if (r > MAX_RUNE) return fail();
            nhex++;
          }
          if (nhex === 0) return fail();
          return r;
        }
        if (this.pos >= this.src.length) return fail();
        const e = this.next();
        const x = unhex(d);
        const y = unhex(e);
        if (x < 0 || y < 0) return fail();
        return x * 16 + y;
      }
      case "a":
        return 7;
      case "f":
        return 12;
      case "n":
        return 10;
      case "r":
        return 13;
      case "t":
        return 9;
      case "v":
        return 11;
      default:
        if (c.codePointAt(0)! < 0x80 && !isAlnum(c)) return c.codePointAt(0)!;
        return fail();
    }
  }

  private parseClass(flags: Flags): Node {
    const whole = this.rest();
    this.pos++; // [
    let neg = false;
    if (this.peek() === "^") {
      neg = true;
      this.pos++;
    }
    const ranges: Range[] = [];
    const props: ClassItem[] = [];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === "]" && !first) break;
      first = false;
      const t = this.rest();
      if (t.length > 2 && t[0] === "[" && t[1] === ":") {
        const i = t.indexOf(":]", 2);
        if (i >= 0) {
          const nameText = t.slice(0, i + 2);
          let name = t.slice(2, i);
          let gneg = false;
          if (name.startsWith("^")) {
            gneg = true;
            name = name.slice(1);
          }
          const g = Object.prototype.hasOwnProperty.call(POSIX_CLASSES, name)
            ? POSIX_CLASSES[name]
            : undefined;
          if (!g) throw new RE2Error(ERR_INVALID_CHAR_RANGE, nameText);
          const rs = flags.i ? foldRanges(g) : g;
          ranges.push(...(gneg ? complement(rs) : rs));
          this.pos += nameText.length;
          continue;
        }
      }
      const uni = this.parseUnicodeClass();
      if (uni) {
        for (const it of uni) {
          if ("r" in it) ranges.push(it.r);
          else props.push(it);
        }
        continue;
      }
      const perl = this.parsePerlClass(flags);
      if (perl) {
        ranges.push(...perl);
        continue;
      }
      const rngStart = this.pos;
      const lo = this.parseClassChar(whole);
      let hi = lo;
      const t2 = this.rest();
      if (t2.length >= 2 && t2[0] === "-" && t2[1] !== "]") {
        this.pos++;
        hi = this.parseClassChar(whole);
        if (hi < lo) throw new RE2Error(ERR_INVALID_CHAR_RANGE, this.src.slice(rngStart, this.pos));
      }
      ranges.push([lo, hi]);
    }
    this.pos++; // ]
    this.noteFold(flags.i);
    const items: ClassItem[] = normalizeRanges(flags.i ? foldRanges(ranges) : ranges).map((r) => ({ r }));
    items.push(...props);
    return { k: "class", items, neg, fold: false };
  }

  private parseClassChar(whole: string): number {
    if (this.pos >= this.src.length) throw new RE2Error(ERR_MISSING_BRACKET, whole);
    if (this.src[this.pos] === "\\") return this.parseEscape();
    return this.next().codePointAt(0)!;
  }
}

/**
 * Go's \P{C}: Go's C is Cc|Cf|Co|Cs, JS's also has Cn (unassigned), so "not C"
 * is JS's \P{C} plus the unassigned code points.
 */
function negatedC(): ClassItem[] {
  return [
    { prop: "C", neg: true },
    { prop: "Cn", neg: false },
  ];
}

const scriptCache = new Map<string, boolean>();
function scriptKnown(name: string): boolean {
  let ok = scriptCache.get(name);
  if (ok === undefined) {
    try {
      new RegExp(`\\p{Script=${name}}`, "u");
      ok = true;
    } catch {
      ok = false;
    }
    scriptCache.set(name, ok);
  }
  return ok;
}

function concat(seq: Node[]): Node {
  if (seq.length === 0) return { k: "empty" };
  if (seq.length === 1) return seq[0]!;
  return { k: "concat", subs: seq };
}

function repeatIsValid(re: Node, n: number): boolean {
  if (re.k === "rep" && !(re.min === 0 && re.max === -1) && !(re.min === 1 && re.max === -1)) {
    let m = re.max;
    if (m === 0) return true;
    if (m < 0) m = re.min;
    if (m > n) return false;
    if (m > 0) n = Math.trunc(n / m);
  }
  switch (re.k) {
    case "rep":
    case "cap":
    case "group":
      return repeatIsValid(re.sub, n);
    case "concat":
    case "alt":
      return re.subs.every((s) => repeatIsValid(s, n));
    default:
      return true;
  }
}

// ---- emitter ----

const SYNTAX_OUT = new Set([..."^$\\.*+?()[]{}|/"]);
const SYNTAX_IN = new Set([..."\\]^-["]);

function escCp(cp: number, inClass: boolean): string {
  const ch = String.fromCodePoint(cp);
  if ((inClass ? SYNTAX_IN : SYNTAX_OUT).has(ch)) return "\\" + ch;
  if (
    cp < 0x20 ||
    cp === 0x7f ||
    (cp >= 0x80 && cp <= 0x9f) ||
    (cp >= 0xd800 && cp <= 0xdfff) ||
    cp === 0x2028 ||
    cp === 0x2029
  ) {
    return `\\u{${cp.toString(16)}}`;
  }
  return ch;
}

function emitClassItems(items: ClassItem[], fold: boolean): string {
  let out = "";
  for (const it of items) {
    if ("prop" in it) {
      out += `${it.neg ? "\\P" : "\\p"}{${it.prop}}`;
      continue;
    }
    const rs = fold ? foldRanges([it.r]) : [it.r];
    for (const [lo, hi] of rs) {
      out += escCp(lo, true);
      if (hi > lo) out += (hi > lo + 1 ? "-" : "") + escCp(hi, true);
    }
  }
  return out;
}

interface EmitOpts {
  /** expand case-insensitive literals into classes (mixed-flag patterns) */
  expandFold: boolean;
}

function isAtom(n: Node): boolean {
  return n.k === "lit" || n.k === "class" || n.k === "any" || n.k === "cap" || n.k === "group";
}

function emit(n: Node, o: EmitOpts): string {
  switch (n.k) {
    case "lit":
      if (n.fold && o.expandFold) {
        return (
          "[" +
          foldOrbit(n.cp)
            .sort((a, b) => a - b)
            .map((c) => escCp(c, true))
            .join("") +
          "]"
        );
      }
      return escCp(n.cp, false);
    case "class":
      return "[" + (n.neg ? "^" : "") + emitClassItems(n.items, n.fold && o.expandFold) + "]";
    case "any":
      return n.nl ? "[\\s\\S]" : "[^\\n]";
    case "bol":
      return n.multi ? "(?<![^\\n])" : "^";
    case "eol":
      return n.multi ? "(?![^\\n])" : "$";
    case "bot":
      return "^";
    case "eot":
      return "$";
    case "wordb":
      return "\\b";
    case "nwordb":
      return "\\B";
    case "cap":
      return "(" + emit(n.sub, o) + ")";
    case "group":
      return "(?:" + emit(n.sub, o) + ")";
    case "concat":
      return n.subs.map((s) => (s.k === "alt" ? "(?:" + emit(s, o) + ")" : emit(s, o))).join("");
    case "alt":
      return n.subs.map((s) => emit(s, o)).join("|");
    case "rep": {
      const inner = emit(n.sub, o);
      const atom = isAtom(n.sub) ? inner : "(?:" + inner + ")";
      let q: string;
      if (n.min === 0 && n.max === -1) q = "*";
      else if (n.min === 1 && n.max === -1) q = "+";
      else if (n.min === 0 && n.max === 1) q = "?";
      else if (n.max === -1) q = `{${n.min},}`;
      else if (n.min === n.max) q = `{${n.min}}`;
      else q = `{${n.min},${n.max}}`;
      return atom + q + (n.greedy ? "" : "?");
    }
    case "empty":
      return "(?:)";
  }
}

export interface CompiledRE2 {
  /** Global (`g`) regexp: always set lastIndex before exec. */
  re: RegExp;
  /** The parsed pattern; patterns prone to exponential backtracking run on lib/re2vm.ts instead of `re`. */
  ast: Node;
  /** Whether `re` may backtrack exponentially (repetition nested in repetition). */
  risky: boolean;
  /** Capture group names by group number (index 0 unused). */
  names: (string | undefined)[];
  numCap: number;
  source: string;
}

function checkUTF8(s: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      throw new RE2Error(ERR_INVALID_UTF8, s.slice(i));
    }
    if (c >= 0xdc00 && c <= 0xdfff) throw new RE2Error(ERR_INVALID_UTF8, s.slice(i));
  }
}

/** Parses an RE2 pattern and builds the JS equivalent. Throws RE2Error. */
export function compileRE2(pattern: string): CompiledRE2 {
  checkUTF8(pattern);
  const p = new Parser(pattern);
  const root = p.parse();
  const globalFold = p.sawFold && !p.sawNoFold;
  const source = emit(root, { expandFold: p.sawFold && p.sawNoFold });
  let re: RegExp;
  try {
    re = new RegExp(source, globalFold ? "giu" : "gu");
  } catch {
    throw new RE2Error(ERR_INVALID_CHAR_RANGE, pattern);
  }
  return { re, ast: root, risky: nestedRepetition(root, false), names: p.names, numCap: p.numCap, source };
}

/** A repetition (or alternation) inside an unbounded or multiple repetition: backtracking can explode. */
function nestedRepetition(n: Node, inRep: boolean): boolean {
  switch (n.k) {
    case "rep": {
      const multiple = n.max === -1 || n.max > 1;
      if (inRep && multiple) return true;
      return nestedRepetition(n.sub, inRep || multiple);
    }
    case "alt":
      if (inRep) return true;
      return n.subs.some((s) => nestedRepetition(s, inRep));
    case "concat":
      return n.subs.some((s) => nestedRepetition(s, inRep));
    case "cap":
    case "group":
      return nestedRepetition(n.sub, inRep);
    default:
      return false;
  }
}

/** Go's regexp.QuoteMeta. */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}
