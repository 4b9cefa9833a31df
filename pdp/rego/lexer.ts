// Tokenizer for Rego v1 source, modelled on OPA's scanner (v1/ast/internal/scanner)
// so that the parser can reproduce OPA's error messages. The whole input is
// tokenized up front into an array: the parser backtracks in a few places
// (comprehension vs. collection, `if` literal vs. `{ body }`), and re-reading an
// array is cheaper than re-scanning text.

export type Keyword =
  | "package"
  | "import"
  | "as"
  | "default"
  | "else"
  | "not"
  | "some"
  | "with"
  | "null"
  | "true"
  | "false"
  | "in"
  | "every"
  | "contains"
  | "if";

export type Punct =
  | "["
  | "]"
  | "{"
  | "}"
  | "("
  | ")"
  | ","
  | ":"
  | ";"
  | "."
  | "+"
  | "-"
  | "*"
  | "/"
  | "%"
  | "&"
  | "|"
  | "="
  | "=="
  | ":="
  | "!="
  | "<"
  | "<="
  | ">"
  | ">=";

export type TokenKind = "ident" | "number" | "string" | "eof" | "illegal" | Keyword | Punct;

export interface Token {
  kind: TokenKind;
  /**
   * ident: the name; number: the literal text; string: the decoded value;
   * keyword/punct: the source text; illegal: the scanner's error message.
   */
  text: string;
  row: number;
  col: number;
  /** Whitespace or a comment precedes the token (refs and calls must be contiguous). */
  ws: boolean;
  /** A newline precedes the token (separates body expressions). */
  nl: boolean;
}

export const KEYWORDS: ReadonlySet<string> = new Set<Keyword>([
  "package",
  "import",
  "as",
  "default",
  "else",
  "not",
  "some",
  "with",
  "null",
  "true",
  "false",
  "in",
  "every",
  "contains",
  "if",
]);

/** OPA's token names as they appear in `unexpected X token` messages. */
const PUNCT_NAMES: Readonly<Record<Punct, string>> = {
  "[": "[",
  "]": "]",
  "{": "{",
  "}": "}",
  "(": "(",
  ")": ")",
  ",": ",",
  ":": ":",
  ";": ";",
  ".": ".",
  "+": "plus",
  "-": "minus",
  "*": "mul",
  "/": "div",
  "%": "rem",
  "&": "and",
  "|": "or",
  "=": "eq",
  "==": "equal",
  ":=": "assign",
  "!=": "neq",
  "<": "lt",
  "<=": "lte",
  ">": "gt",
  ">=": "gte",
};

/** `unexpected <name> <token|keyword>` as OPA words it. */
export function describeToken(kind: TokenKind): string {
  if (KEYWORDS.has(kind)) return `${kind} keyword`;
  switch (kind) {
    case "ident":
    case "number":
    case "string":
    case "eof":
    case "illegal":
      return `${kind} token`;
    default:
      return `${PUNCT_NAMES[kind as Punct]} token`;
  }
}

function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

function isDecimal(c: number): boolean {
  return c >= 48 && c <= 57;
}

const UNICODE_DIGIT = /^\p{Nd}$/u;

/** Go's unicode.IsDigit, which OPA accepts after the first character of an identifier. */
function isDigit(cp: number): boolean {
  if (cp < 0x80) return isDecimal(cp);
  return UNICODE_DIGIT.test(String.fromCodePoint(cp));
}

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

function isHex4(s: string): boolean {
  return /^[0-9a-fA-F]{4}$/.test(s);
}

/**
 * Decodes the inside of a `"…"` literal the way Go's json.Unmarshal does (OPA's
 * decoder): unpaired surrogates become U+FFFD, raw control characters are
 * rejected. Returns null when the literal is invalid.
 */
function decodeJSONString(inner: string): string | null {
  let out = "";
  let i = 0;
  const n = inner.length;
  while (i < n) {
    const c = inner.charCodeAt(i);
    if (c < 0x20) return null;
    if (c !== 92) {
      let j = i + 1;
      while (j < n) {
        const d = inner.charCodeAt(j);
        if (d === 92 || d < 0x20) break;
        j++;
      }
      out += inner.slice(i, j);
      i = j;
      continue;
    }
    const e = inner[i + 1];
    if (e === undefined) return null;
    if (e !== "u") {
      const r = ESCAPES[e];
      if (r === undefined) return null;
      out += r;
      i += 2;
      continue;
    }
    const hex = inner.slice(i + 2, i + 6);
    if (!isHex4(hex)) return null;
    const u = parseInt(hex, 16);
    i += 6;
    if (u >= 0xd800 && u <= 0xdbff) {
      if (inner[i] === "\\" && inner[i + 1] === "u") {
        const hex2 = inner.slice(i + 2, i + 6);
        if (isHex4(hex2)) {
          const lo = parseInt(hex2, 16);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            out += String.fromCharCode(u, lo);
            i += 6;
            continue;
          }
        }
      }
      out += "\ufffd";
    } else if (u >= 0xdc00 && u <= 0xdfff) {
      out += "\ufffd";
    } else {
      out += String.fromCharCode(u);
    }
  }
  return out;
}

/**
 * Tokenizes `src`. Never throws: scanner errors become a single `illegal` token
 * (whose text is OPA's message), after which scanning stops — the parser can
 * never consume an illegal token, so nothing beyond it could matter.
 */
export function lex(src: string): Token[] {
  const toks: Token[] = [];
  const n = src.length;
  let i = 0;
  let row = 1;
  let col = 1;
  let ws = false;
  let nl = false;

  if (n > 0 && src.charCodeAt(0) === 0xfeff) i = 1;

  const push = (kind: TokenKind, text: string, r: number, c: number): void => {
    toks.push({ kind, text, row: r, col: c, ws, nl });
    ws = false;
    nl = false;
  };

  // Advances over one code point inside a literal or comment, tracking rows.
  // Returns an error message for characters OPA's scanner rejects anywhere.
  const step = (): string | null => {
    const c = src.charCodeAt(i);
    if (c === 10) {
      row++;
      col = 1;
      i++;
      return null;
    }
    if (c === 0) return "illegal null character";
    if (c === 0xfeff) return "illegal byte-order mark";
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = src.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    i++;
    col++;
    return null;
  };

  const fail = (msg: string, r: number, c: number): Token[] => {
    push("illegal", msg, r, c);
    push("eof", "", row, col);
    return toks;
  };

  while (i < n) {
    const c = src.charCodeAt(i);
    const r0 = row;
    const c0 = col;

    if (c === 32 || c === 9 || c === 13) {
      i++;
      col++;
      ws = true;
      continue;
    }
    if (c === 10) {
      i++;
      row++;
      col = 1;
      ws = true;
      nl = true;
      continue;
    }
    if (c === 35) {
      // '#': comment to end of line
      i++;
      col++;
      while (i < n && src.charCodeAt(i) !== 10) {
        const err = step();
        if (err) return fail(err, row, col);
      }
      ws = true;
      continue;
    }

    if (isLetter(c)) {
      const start = i;
      i++;
      col++;
      for (;;) {
        if (i >= n) break;
        const d = src.charCodeAt(i);
        if (isLetter(d) || isDecimal(d)) {
          i++;
          col++;
          continue;
        }
        if (d < 0x80) break;
        const cp = src.codePointAt(i)!;
        if (!isDigit(cp)) break;
        i += cp > 0xffff ? 2 : 1;
        col++;
      }
      const word = src.slice(start, i);
      push(KEYWORDS.has(word) ? (word as Keyword) : "ident", word, r0, c0);
      continue;
    }

    if (isDecimal(c)) {
      const start = i;
      while (i < n && isDecimal(src.charCodeAt(i))) i++;
      let err: string | null = null;
      if (src.charCodeAt(i) === 46) {
        i++;
        const f = i;
        while (i < n && isDecimal(src.charCodeAt(i))) i++;
        if (i === f) err = "expected fraction";
      }
      if (!err && (src.charCodeAt(i) | 32) === 101) {
        i++;
        const s = src.charCodeAt(i);
        if (s === 43 || s === 45) i++;
        const f = i;
        while (i < n && isDecimal(src.charCodeAt(i))) i++;
        if (i === f) err = "expected exponent";
      }
      if (!err && i < n && isLetter(src.charCodeAt(i))) err = "illegal number format";
      col += i - start;
      if (err) return fail(err, r0, c0);
      push("number", src.slice(start, i), r0, c0);
      continue;
    }

    if (c === 34) {
      // '"': JSON-style string on one line
      const start = i;
      i++;
      col++;
      let escaped = false;
      let closed = false;
      while (i < n) {
        const d = src.charCodeAt(i);
        if (d === 10) break;
        if (d === 34) {
          i++;
          col++;
          closed = true;
          break;
        }
        if (d === 92) {
          escaped = true;
          i++;
          col++;
          const e = src[i];
          if (e !== undefined && e !== "\n" && e in ESCAPES) {
            i++;
            col++;
          } else if (e === "u") {
            // Like OPA, skip four characters blindly; validity is checked on decode.
            i++;
            col++;
            for (let k = 0; k < 4 && i < n && src.charCodeAt(i) !== 10; k++) {
              const err = step();
              if (err) return fail(err, row, col);
            }
          } else {
            return fail("illegal escape sequence", row, col);
          }
          continue;
        }
        const err = step();
        if (err) return fail(err, row, col);
      }
      if (!closed) return fail("non-terminated string", row, col);
      const lit = src.slice(start, i);
      let value = lit.slice(1, -1);
      if (escaped) {
        const decoded = decodeJSONString(value);
        if (decoded === null) return fail(`illegal string literal: ${lit}`, r0, c0);
        value = decoded;
      }
      push("string", value, r0, c0);
      continue;
    }

    if (c === 96) {
      // '`': raw string, may span lines, no escapes
      const start = i + 1;
      i++;
      col++;
      let closed = false;
      while (i < n) {
        if (src.charCodeAt(i) === 96) {
          closed = true;
          break;
        }
        const err = step();
        if (err) return fail(err, row, col);
      }
      if (!closed) return fail("non-terminated string", row, col);
      push("string", src.slice(start, i), r0, c0);
      i++;
      col++;
      continue;
    }

    const next = src.charCodeAt(i + 1);
    let kind: Punct | null = null;
    let len = 1;
    switch (c) {
      case 91:
        kind = "[";
        break;
      case 93:
        kind = "]";
        break;
      case 123:
        kind = "{";
        break;
      case 125:
        kind = "}";
        break;
      case 40:
        kind = "(";
        break;
      case 41:
        kind = ")";
        break;
      case 44:
        kind = ",";
        break;
      case 59:
        kind = ";";
        break;
      case 46:
        kind = ".";
        break;
      case 43:
        kind = "+";
        break;
      case 45:
        kind = "-";
        break;
      case 42:
        kind = "*";
        break;
      case 47:
        kind = "/";
        break;
      case 37:
        kind = "%";
        break;
      case 38:
        kind = "&";
        break;
      case 124:
        kind = "|";
        break;
      case 58:
        if (next === 61) [kind, len] = [":=", 2];
        else kind = ":";
        break;
      case 61:
        if (next === 61) [kind, len] = ["==", 2];
        else kind = "=";
        break;
      case 60:
        if (next === 61) [kind, len] = ["<=", 2];
        else kind = "<";
        break;
      case 62:
        if (next === 61) [kind, len] = [">=", 2];
        else kind = ">";
        break;
      case 33:
        if (next === 61) [kind, len] = ["!=", 2];
        else return fail("illegal ! character", r0, c0);
        break;
      case 36:
        return fail("illegal $ character", r0, c0);
      case 0:
        return fail("illegal null character", r0, c0);
      case 0xfeff:
        return fail("illegal byte-order mark", r0, c0);
      default:
        return fail("illegal token", r0, c0);
    }
    push(kind, kind, r0, c0);
    i += len;
    col += len;
  }
  push("eof", "", row, col);

  // OPA lets keywords start a ref (`input.if`, `not.x`, `data.else[0]`): a keyword
  // directly followed by `.` or `[` is an identifier. (After a dot, the parser
  // accepts any keyword by itself.)
  for (let k = 0; k + 1 < toks.length; k++) {
    const t = toks[k]!;
    if (t.kind === "ident" || !KEYWORDS.has(t.kind)) continue;
    const nx = toks[k + 1]!;
    if (!nx.ws && (nx.kind === "." || nx.kind === "[")) t.kind = "ident";
  }
  return toks;
}
