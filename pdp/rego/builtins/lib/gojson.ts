// JSON as OPA reads and writes it through Go's encoding/json: numbers are kept
// exactly (json.Number), object keys come out sorted, strings are escaped the
// way json.Marshal does (HTML-safe: <, >, & and U+2028/9 as \u escapes), and
// syntax errors carry Go's messages.
import {
  ObjectBuilder,
  compareStrings,
  isArray,
  isBigNum,
  isSet,
  objectEntries,
  type Value,
} from "../../value.js";
import { numFromText, numToString } from "../../number.js";

// ---- writing ----

const ESC: string[] = [];
for (let c = 0; c < 0x20; c++) ESC[c] = "\\u00" + (c < 16 ? "0" : "") + c.toString(16);
ESC[0x08] = "\\b";
ESC[0x09] = "\\t";
ESC[0x0a] = "\\n";
ESC[0x0c] = "\\f";
ESC[0x0d] = "\\r";

// Characters json.Marshal escapes: controls, quote, backslash, HTML-sensitive
// ones, the JS line separators, and lone surrogates (invalid UTF-8 → U+FFFD).
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/;

/** Go's json.Marshal of a string. */
export function goJSONString(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return '"' + s + '"';
  let out = '"';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x20) rep = ESC[c];
    else if (c === 0x22) rep = '\\"';
    else if (c === 0x5c) rep = "\\\\";
    else if (c === 0x3c) rep = "\\u003c";
    else if (c === 0x3e) rep = "\\u003e";
    else if (c === 0x26) rep = "\\u0026";
    else if (c === 0x2028) rep = "\\u2028";
    else if (c === 0x2029) rep = "\\u2029";
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++;
        continue;
      }
      rep = "\\ufffd";
    } else if (c >= 0xdc00 && c <= 0xdfff) rep = "\\ufffd";
    if (rep === undefined) continue;
    out += s.slice(from, i) + rep;
    from = i + 1;
  }
  return out + s.slice(from) + '"';
}

/** Key text of an object key, as ast.JSON does it for non-string keys. */
function keyText(k: Value): string {
  return typeof k === "string" ? k : goJSON(k);
}

function sortedEntries(o: Value): [string, Value][] {
  const entries = objectEntries(o as Parameters<typeof objectEntries>[0]);
  const out: [string, Value][] = new Array(entries.length);
  let allStrings = true;
  for (let i = 0; i < entries.length; i++) {
    const [k, v] = entries[i]!;
    if (typeof k !== "string") allStrings = false;
    out[i] = [keyText(k), v];
  }
  if (!allStrings) {
    // Converted keys may collide (1 and "1"); Go's map keeps the last one.
    const m = new Map<string, Value>();
    for (const [k, v] of out) m.set(k, v);
    return [...m.entries()].sort((a, b) => compareStrings(a[0], b[0]));
  }
  return out;
}

/** json.Marshal(ast.JSON(v)): compact, exact numbers, sorted keys, sets as arrays. */
export function goJSON(v: Value): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      return numToString(v);
    case "string":
      return goJSONString(v);
  }
  if (isBigNum(v)) return numToString(v);
  if (isArray(v) || isSet(v)) {
    const items = isArray(v) ? v : v.sorted();
    let out = "[";
    for (let i = 0; i < items.length; i++) out += (i ? "," : "") + goJSON(items[i]!);
    return out + "]";
  }
  let out = "{";
  let first = true;
  for (const [k, x] of sortedEntries(v)) {
    out += (first ? "" : ",") + goJSONString(k) + ":" + goJSON(x);
    first = false;
  }
  return out + "}";
}

/** json.MarshalIndent(ast.JSON(v), prefix, indent), without the prefix before the first line. */
export function goJSONIndent(v: Value, prefix: string, indent: string, cur = ""): string {
  if (v === null || typeof v !== "object" || isBigNum(v)) return goJSON(v);
  const inner = cur + indent;
  const nl = "\n" + prefix;
  if (isArray(v) || isSet(v)) {
    const items = isArray(v) ? v : v.sorted();
    if (items.length === 0) return "[]";
    let out = "[";
    for (let i = 0; i < items.length; i++) {
      out += (i ? "," : "") + nl + inner + goJSONIndent(items[i]!, prefix, indent, inner);
    }
    return out + nl + cur + "]";
  }
  const entries = sortedEntries(v);
  if (entries.length === 0) return "{}";
  let out = "{";
  entries.forEach(([k, x], i) => {
    out += (i ? "," : "") + nl + inner + goJSONString(k) + ": " + goJSONIndent(x, prefix, indent, inner);
  });
  return out + nl + cur + "}";
}

// ---- reading ----

export class JSONSyntaxError extends Error {}

/** Go's quoteChar for scanner errors. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const q = JSON.stringify(c);
  return "'" + q.slice(1, q.length - 1) + "'";
}

const WS = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  /** EOF inside a value: the decoder reports io.ErrUnexpectedEOF. */
  fail(context: string): never {
    if (this.i >= this.s.length) throw new JSONSyntaxError("unexpected EOF");
    const cp = this.s.codePointAt(this.i)!;
    throw new JSONSyntaxError(`invalid character ${quoteChar(String.fromCodePoint(cp))} ${context}`);
  }

  ws(): void {
    while (this.i < this.s.length && WS(this.s.charCodeAt(this.i))) this.i++;
  }

  value(): Value {
    this.ws();
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b:
        return this.object();
      case 0x5b:
        return this.array();
      case 0x22:
        return this.string();
      case 0x74:
        return this.literal("true", true);
      case 0x66:
        return this.literal("false", false);
      case 0x6e:
        return this.literal("null", null);
    }
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    return this.fail("looking for beginning of value");
  }

  literal<T extends Value>(word: string, v: T): T {
    for (let k = 1; k < word.length; k++) {
      this.i++;
      if (this.s[this.i] !== word[k]) this.fail(`in literal ${word} (expecting '${word[k]}')`);
    }
    this.i++;
    return v;
  }

  numberText(): string {
    const s = this.s;
    const start = this.i;
    const digit = (): boolean => {
      const c = s.charCodeAt(this.i);
      return c >= 0x30 && c <= 0x39;
    };
    if (s[this.i] === "-") {
      this.i++;
      if (!digit()) this.fail("in numeric literal");
    }
    if (s[this.i] === "0") this.i++;
    else while (digit()) this.i++;
    if (s[this.i] === ".") {
      this.i++;
      if (!digit()) this.fail("after decimal point in numeric literal");
      while (digit()) this.i++;
    }
    if (s[this.i] === "e" || s[this.i] === "E") {
      this.i++;
      if (s[this.i] === "+" || s[this.i] === "-") this.i++;
      if (!digit()) this.fail("in exponent of numeric literal");
      while (digit()) this.i++;
    }
    return s.slice(start, this.i);
  }

  number(): Value {
    const text = this.numberText();
    const n = numFromText(text);
    if (n === null) throw new JSONSyntaxError(`invalid number ${text}`);
    return n;
  }

  string(): string {
    const s = this.s;
    this.i++; // opening quote
    let out = "";
    let from = this.i;
    for (;;) {
      if (this.i >= s.length) this.fail("in string literal");
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(from, this.i);
        this.i++;
        return out;
      }
      if (c < 0x20) this.fail("in string literal");
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += s.slice(from, this.i);
      this.i++;
      const e = s[this.i];
      switch (e) {
        case '"':
        case "\\":
        case "/":
          out += e;
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const cu = this.hex4();
          if (cu >= 0xd800 && cu <= 0xdbff && s[this.i + 1] === "\\" && s[this.i + 2] === "u") {
            const save = this.i;
            this.i += 2;
            const lo = this.hex4();
            if (lo >= 0xdc00 && lo <= 0xdfff) {
              out += String.fromCharCode(cu, lo);
              break;
            }
            this.i = save;
          }
          out += cu >= 0xd800 && cu <= 0xdfff ? "\ufffd" : String.fromCharCode(cu);
          break;
        }
        default:
          this.fail("in string escape code");
      }
      this.i++;
      from = this.i;
    }
  }

  /** Reads XXXX after "\u", leaving i on the last hex digit. */
  hex4(): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      this.i++;
      const c = this.s.charCodeAt(this.i);
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else return this.fail("in \\u hexadecimal character escape");
      v = v * 16 + d;
    }
    return v;
  }

  array(): Value[] {
    this.i++;
    const out: Value[] = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value());
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === ",") continue;
      if (c === "]") return out;
      this.i--;
      this.fail("after array element");
    }
  }

  object(): Value {
    this.i++;
    const b = new ObjectBuilder();
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return b.build();
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail("looking for beginning of object key string");
      const k = this.string();
      this.ws();
      if (this.s[this.i] !== ":") this.fail("after object key");
      this.i++;
      b.put(k, this.value());
      this.ws();
      const c = this.s[this.i];
      this.i++;
      if (c === ",") continue;
      if (c === "}") return b.build();
      this.i--;
      this.fail("after object key:value pair");
    }
  }
}

/** json.Valid */
export function isValidJSON(s: string): boolean {
  const p = new Parser(s);
  try {
    p.value();
    p.ws();
    return p.i === s.length;
  } catch (e) {
    if (e instanceof JSONSyntaxError) return false;
    throw e;
  }
}

/**
 * Go's json.Unmarshal of a whole document (what JWT headers and payloads go
 * through): exact numbers, the last duplicate key wins, nothing may follow the
 * value. Throws JSONSyntaxError with Go's message.
 */
export function parseJSONStrict(s: string): Value {
  const p = new Parser(s);
  let v: Value;
  try {
    v = p.value();
  } catch (e) {
    if (e instanceof JSONSyntaxError && e.message === "unexpected EOF") {
      throw new JSONSyntaxError("unexpected end of JSON input");
    }
    throw e;
  }
  p.ws();
  if (p.i < s.length) p.fail("after top-level value");
  return v;
}

/**
 * OPA's util.UnmarshalJSON: decodes the first value, then complains about
 * whatever token follows it (a trailing `null` slips through, as in OPA).
 * Throws JSONSyntaxError with Go's message.
 */
export function parseJSON(s: string): Value {
  const p = new Parser(s);
  p.ws();
  if (p.i >= s.length) throw new JSONSyntaxError("EOF");
  const v = p.value();
  p.ws();
  if (p.i >= s.length) return v;
  const c = s[p.i];
  let tok: string;
  if (c === "{" || c === "[") tok = c;
  else if (c === '"') tok = p.string();
  else if (c === "-" || (c! >= "0" && c! <= "9")) tok = p.numberText();
  else if (c === "t" || c === "f") tok = `%!s(bool=${p.value() as boolean})`;
  else if (c === "n") {
    p.value();
    return v;
  } else return p.fail("looking for beginning of value");
  throw new JSONSyntaxError(`error: invalid character '${tok}' after top-level value`);
}
