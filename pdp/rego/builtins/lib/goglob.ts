// gobwas/glob (v0.2.3, what OPA's glob.match uses): its lexer and parser, and
// a matcher with the same meaning as the compiled gobwas matchers.
//
//   *        any run of non-separator characters
//   **       any run of characters
//   ?        one non-separator character
//   [abc] [a-z] [!abc] [!a-z]   one character in / not in the list or range
//                               (separators are not special here)
//   {a,b*}   alternatives, each a pattern
//   \x       x literally
//
// Matching runs a Thompson NFA over the code points (linear time, no
// backtracking blow-up on patterns like `*a*a*a*b`).

export class GlobError extends Error {}

type GNode =
  | { k: "text"; cps: number[] }
  | { k: "any" }
  | { k: "super" }
  | { k: "single" }
  | { k: "list"; chars: Set<number>; not: boolean }
  | { k: "range"; lo: number; hi: number; not: boolean }
  | { k: "anyof"; alts: GNode[][] };

type Tok =
  | { t: "eof" }
  | { t: "error"; msg: string }
  | { t: "text"; s: string }
  | { t: "any" }
  | { t: "super" }
  | { t: "single" }
  | { t: "not" }
  | { t: "sep" }
  | { t: "rangeOpen" }
  | { t: "rangeClose" }
  | { t: "rangeLo"; s: string }
  | { t: "rangeHi"; s: string }
  | { t: "rangeBetween" }
  | { t: "termsOpen" }
  | { t: "termsClose" };

function lex(pattern: string): Tok[] {
  const cps = Array.from(pattern);
  const toks: Tok[] = [];
  let i = 0;
  let termsLevel = 0;
  const fetchText = (breakers: string[]): void => {
    let data = "";
    let escaped = false;
    while (i < cps.length) {
      const r = cps[i++]!;
      if (!escaped) {
        if (r === "\\") {
          escaped = true;
          continue;
        }
        if (breakers.includes(r)) {
          i--;
          break;
        }
      }
      escaped = false;
      data += r;
    }
    // A trailing backslash is silently dropped, as in v0.2.3.
    if (data.length > 0) toks.push({ t: "text", s: data });
  };
  const fetchRange = (): boolean => {
    let wantHi = false;
    let wantClose = false;
    let seenNot = false;
    for (;;) {
      if (i >= cps.length) {
        toks.push({ t: "error", msg: "unexpected end of input" });
        return false;
      }
      const r = cps[i++]!;
      if (wantClose) {
        if (r !== "]") {
          toks.push({ t: "error", msg: "expected close range character" });
          return false;
        }
        toks.push({ t: "rangeClose" });
        return true;
      }
      if (wantHi) {
        toks.push({ t: "rangeHi", s: r });
        wantClose = true;
        continue;
      }
      if (!seenNot && r === "!") {
        toks.push({ t: "not" });
        seenNot = true;
        continue;
      }
      if (cps[i] === "-") {
        i++;
        toks.push({ t: "rangeLo", s: r }, { t: "rangeBetween" });
        wantHi = true;
        continue;
      }
      i--;
      fetchText(["]"]);
      wantClose = true;
    }
  };
  const textBreakers = ["?", "*", "[", "{"];
  const termsBreakers = [...textBreakers, "}", ","];
  while (i < cps.length) {
    const r = cps[i++]!;
    if (r === "{") {
      termsLevel++;
      toks.push({ t: "termsOpen" });
    } else if (r === "," && termsLevel > 0) {
      toks.push({ t: "sep" });
    } else if (r === "}" && termsLevel > 0) {
      toks.push({ t: "termsClose" });
      termsLevel--;
    } else if (r === "[") {
      toks.push({ t: "rangeOpen" });
      if (!fetchRange()) return toks;
    } else if (r === "?") {
      toks.push({ t: "single" });
    } else if (r === "*") {
      if (cps[i] === "*") {
        i++;
        toks.push({ t: "super" });
      } else {
        toks.push({ t: "any" });
      }
    } else {
      i--;
      fetchText(termsLevel > 0 ? termsBreakers : textBreakers);
    }
  }
  toks.push({ t: "eof" });
  return toks;
}

interface PatternNode {
  items: GNode[];
  /** the anyof node this pattern is an alternative of, and its enclosing pattern */
  parent: { anyof: { k: "anyof"; alts: GNode[][] }; outer: PatternNode } | null;
}

export function parseGlob(pattern: string): GNode[] {
  const toks = lex(pattern);
  const root: PatternNode = { items: [], parent: null };
  let cur = root;
  let i = 0;
  for (;;) {
    const tok = toks[i++]!;
    switch (tok.t) {
      case "eof":
        return root.items;
      case "error":
        throw new GlobError(tok.msg);
      case "text":
        cur.items.push({ k: "text", cps: Array.from(tok.s, (c) => c.codePointAt(0)!) });
        break;
      case "any":
        cur.items.push({ k: "any" });
        break;
      case "super":
        cur.items.push({ k: "super" });
        break;
      case "single":
        cur.items.push({ k: "single" });
        break;
      case "termsOpen": {
        const anyof: { k: "anyof"; alts: GNode[][] } = { k: "anyof", alts: [] };
        cur.items.push(anyof);
        const p: PatternNode = { items: [], parent: { anyof, outer: cur } };
        anyof.alts.push(p.items);
        cur = p;
        break;
      }
      case "sep": {
        if (!cur.parent) throw new GlobError("unexpected token: separator");
        const p: PatternNode = { items: [], parent: cur.parent };
        cur.parent.anyof.alts.push(p.items);
        cur = p;
        break;
      }
      case "termsClose":
        if (!cur.parent) throw new GlobError("unexpected token: terms_close");
        cur = cur.parent.outer;
        break;
      case "rangeOpen": {
        let not = false;
        let lo = 0;
        let hi = 0;
        let chars = "";
        for (;;) {
          const r = toks[i++]!;
          if (r.t === "eof") throw new GlobError("unexpected end");
          if (r.t === "error") throw new GlobError(r.msg);
          if (r.t === "not") not = true;
          else if (r.t === "rangeLo") lo = r.s.codePointAt(0)!;
          else if (r.t === "rangeHi") {
            hi = r.s.codePointAt(0)!;
            if (hi < lo)
              throw new GlobError(
                `hi character '${r.s}' should be greater than lo '${String.fromCodePoint(lo)}'`,
              );
          } else if (r.t === "text") chars = r.s;
          else if (r.t === "rangeClose") {
            const isRange = lo !== 0 && hi !== 0;
            const isChars = chars !== "";
            if (isRange === isChars) throw new GlobError("could not parse range");
            if (isRange) cur.items.push({ k: "range", lo, hi, not });
            else
              cur.items.push({ k: "list", chars: new Set(Array.from(chars, (c) => c.codePointAt(0)!)), not });
            break;
          }
        }
        break;
      }
      default:
        throw new GlobError(`unexpected token: ${tok.t}`);
    }
  }
}

// ---- NFA ----

type State =
  | { k: "char"; pred: (c: number) => boolean; next: number }
  | { k: "loop"; pred: (c: number) => boolean; next: number }
  | { k: "split"; next: number[] }
  | { k: "match" };

/** `\u{…}` escape of one code point inside a RegExp with the `u` flag. */
const cpEsc = (c: number): string => `\\u{${c.toString(16)}}`;

/**
 * A RegExp equivalent to the glob when that is safe from backtracking blow-up:
 * a plain sequence with at most one `*` or `**` (the common shapes, such as
 * `/payments/**` or `user:*`). Anything else runs on the NFA.
 */
function fastRegExp(nodes: GNode[], separators: number[]): RegExp | null {
  let stars = 0;
  const notSep = separators.length === 0 ? "[\\s\\S]" : `[^${separators.map(cpEsc).join("")}]`;
  let src = "";
  for (const n of nodes) {
    switch (n.k) {
      case "text":
        src += n.cps.map(cpEsc).join("");
        break;
      case "any":
        stars++;
        src += notSep + "*";
        break;
      case "super":
        stars++;
        src += "[\\s\\S]*";
        break;
      case "single":
        src += notSep;
        break;
      case "list":
        if (n.chars.size === 0) return null;
        src += `[${n.not ? "^" : ""}${[...n.chars].map(cpEsc).join("")}]`;
        break;
      case "range":
        src += `[${n.not ? "^" : ""}${cpEsc(n.lo)}-${cpEsc(n.hi)}]`;
        break;
      default:
        return null;
    }
  }
  if (stars > 1) return null;
  try {
    return new RegExp(`^${src}$`, "u");
  } catch {
    return null;
  }
}

export class CompiledGlob {
  private readonly states: State[] = [];
  private readonly start: number;
  private readonly re: RegExp | null;

  constructor(nodes: GNode[], separators: number[]) {
    this.re = fastRegExp(nodes, separators);
    const seps = new Set(separators);
    const notSep = (c: number): boolean => !seps.has(c);
    this.states.push({ k: "match" });
    this.start = this.build(nodes, 0, notSep);
  }

  private add(s: State): number {
    this.states.push(s);
    return this.states.length - 1;
  }

  private build(seq: GNode[], next: number, notSep: (c: number) => boolean): number {
    for (let i = seq.length - 1; i >= 0; i--) {
      const n = seq[i]!;
      switch (n.k) {
        case "text":
          for (let j = n.cps.length - 1; j >= 0; j--) {
            const want = n.cps[j]!;
            next = this.add({ k: "char", pred: (c) => c === want, next });
          }
          break;
        case "any":
          next = this.add({ k: "loop", pred: notSep, next });
          break;
        case "super":
          next = this.add({ k: "loop", pred: () => true, next });
          break;
        case "single":
          next = this.add({ k: "char", pred: notSep, next });
          break;
        case "list": {
          const { chars, not } = n;
          next = this.add({ k: "char", pred: (c) => chars.has(c) !== not, next });
          break;
        }
        case "range": {
          const { lo, hi, not } = n;
          next = this.add({ k: "char", pred: (c) => (c >= lo && c <= hi) !== not, next });
          break;
        }
        case "anyof": {
          const outs = n.alts.map((alt) => this.build(alt, next, notSep));
          next = this.add({ k: "split", next: outs });
          break;
        }
      }
    }
    return next;
  }

  private closure(set: Set<number>, s: number): void {
    if (set.has(s)) return;
    set.add(s);
    const st = this.states[s]!;
    if (st.k === "split") for (const n of st.next) this.closure(set, n);
    else if (st.k === "loop") this.closure(set, st.next);
  }

  match(s: string): boolean {
    if (this.re) return this.re.test(s);
    let cur = new Set<number>();
    this.closure(cur, this.start);
    for (const ch of s) {
      const c = ch.codePointAt(0)!;
      const nxt = new Set<number>();
      for (const id of cur) {
        const st = this.states[id]!;
        if (st.k === "char" && st.pred(c)) this.closure(nxt, st.next);
        else if (st.k === "loop" && st.pred(c)) this.closure(nxt, id);
      }
      if (nxt.size === 0) return false;
      cur = nxt;
    }
    return cur.has(0);
  }
}

export function compileGlob(pattern: string, separators: number[]): CompiledGlob {
  return new CompiledGlob(parseGlob(pattern), separators);
}

/** gobwas QuoteMeta: escapes * ? \ [ ] { }. */
export function globQuoteMeta(s: string): string {
  return s.replace(/[*?\\[\]{}]/g, "\\$&");
}
