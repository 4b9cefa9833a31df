// Go's text/template (text/template and text/template/parse, Go 1.22+),
// ported for strings.render_template. OPA executes templates over the JSON
// decoding of the variables (map[string]any with json.Number numbers), so
// the data model here is exactly that: maps, slices, strings, json.Number,
// bools and nil, plus the ints/floats/strings a template itself produces.
// Parsing, evaluation, the builtin functions (and, or, not, len, index,
// slice, eq…ge, print*, html, js, urlquery, call) and the error texts follow
// Go, because OPA passes them through to policies verbatim.
import { formatFloat, isPrint, quote, quoteRune } from "./gofmt.js";

// ---- data ----

/** json.Number: a string-kinded Go type whose text is the number literal. */
export class JNum {
  constructor(readonly text: string) {}
}
/** The JSON data OPA hands to Execute (json.Decoder with UseNumber). */
export type JD = null | boolean | string | JNum | JD[] | Map<string, JD>;

export class TemplateError extends Error {}

// ---- lexer ----

const enum T {
  Error,
  Bool,
  Char,
  CharConstant,
  Complex,
  Assign,
  Declare,
  EOF,
  Field,
  Identifier,
  LeftDelim,
  LeftParen,
  Number,
  Pipe,
  RawString,
  RightDelim,
  RightParen,
  Space,
  String,
  Text,
  Variable,
  Keyword, // keywords follow
  Block,
  Break,
  Continue,
  Dot,
  Define,
  Else,
  End,
  If,
  Nil,
  Range,
  Template,
  With,
}

const KEYWORDS: Record<string, T> = {
  ".": T.Dot,
  block: T.Block,
  break: T.Break,
  continue: T.Continue,
  define: T.Define,
  else: T.Else,
  end: T.End,
  if: T.If,
  range: T.Range,
  nil: T.Nil,
  template: T.Template,
  with: T.With,
};

interface Item {
  typ: T;
  pos: number; // UTF-16 index into the template text
  val: string;
  line: number;
}

const LEFT = "{{";
const RIGHT = "}}";
const isSpace = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\r" || c === "\n";
const SPACE_CHARS = /[ \t\r\n]/;
const ALNUM = /^[\p{L}\p{Nd}_]$/u;
const isAlphaNumeric = (c: string | undefined): boolean => c !== undefined && ALNUM.test(c);

/** fmt's %#U. */
function sharpU(cp: number): string {
  const hex = "U+" + cp.toString(16).toUpperCase().padStart(4, "0");
  return isPrint(cp) ? `${hex} '${String.fromCodePoint(cp)}'` : hex;
}

function hasLeftTrimMarker(s: string, i: number): boolean {
  return s[i] === "-" && isSpace(s[i + 1]);
}
function hasRightTrimMarker(s: string, i: number): boolean {
  return isSpace(s[i]) && s[i + 1] === "-";
}

/** Scans the whole template up front; stops after the first error item, as Go's lexer does. */
function lex(input: string): Item[] {
  const items: Item[] = [];
  let pos = 0;
  let start = 0;
  let parenDepth = 0;
  let lineAt = 1;
  let lineCountedTo = 0;
  const lineOf = (p: number): number => {
    // Items are emitted in order, so count incrementally.
    for (; lineCountedTo < p; lineCountedTo++) if (input[lineCountedTo] === "\n") lineAt++;
    return lineAt;
  };
  const emit = (typ: T): void => {
    items.push({ typ, pos: start, val: input.slice(start, pos), line: lineOf(start) });
    start = pos;
  };
  const fail = (msg: string): void => {
    items.push({ typ: T.Error, pos: start, val: msg, line: lineOf(start) });
  };
  const cpAt = (i: number): string | undefined => {
    if (i >= input.length) return undefined;
    return String.fromCodePoint(input.codePointAt(i)!);
  };
  const atRightDelim = (): [boolean, boolean] => {
    if (hasRightTrimMarker(input, pos) && input.startsWith(RIGHT, pos + 2)) return [true, true];
    if (input.startsWith(RIGHT, pos)) return [true, false];
    return [false, false];
  };
  const leftTrimLength = (from: number): number => {
    let i = from;
    while (i < input.length && SPACE_CHARS.test(input[i]!)) i++;
    return i - from;
  };
  const atTerminator = (): boolean => {
    const r = input[pos];
    if (r === undefined) return true;
    if (isSpace(r)) return true;
    if (".,|:)(".includes(r)) return true;
    return r === RIGHT[0];
  };

  // Returns false when lexing must stop (EOF or error).
  const lexText = (): "left" | "done" => {
    const x = input.indexOf(LEFT, pos);
    if (x >= 0) {
      if (x > pos) {
        pos = x;
        let trim = 0;
        if (hasLeftTrimMarker(input, pos + LEFT.length)) {
          let j = pos;
          while (j > start && SPACE_CHARS.test(input[j - 1]!)) j--;
          trim = pos - j;
        }
        pos -= trim;
        if (pos > start) emit(T.Text);
        pos += trim;
        start = pos;
      }
      return "left";
    }
    pos = input.length;
    if (pos > start) emit(T.Text);
    emit(T.EOF);
    return "done";
  };

  const scanNumber = (): boolean => {
    const accept = (valid: string): boolean => {
      if (pos < input.length && valid.includes(input[pos]!)) {
        pos++;
        return true;
      }
      return false;
    };
    const acceptRun = (valid: string): void => {
      while (pos < input.length && valid.includes(input[pos]!)) pos++;
    };
    accept("+-");
    let digits = "0123456789_";
    if (accept("0")) {
      if (accept("xX")) digits = "0123456789abcdefABCDEF_";
      else if (accept("oO")) digits = "01234567_";
      else if (accept("bB")) digits = "01_";
    }
    acceptRun(digits);
    if (accept(".")) acceptRun(digits);
    if (digits.length === 11 && accept("eE")) {
      accept("+-");
      acceptRun("0123456789_");
    }
    if (digits.length === 23 && accept("pP")) {
      accept("+-");
      acceptRun("0123456789_");
    }
    accept("i");
    if (isAlphaNumeric(cpAt(pos))) {
      pos += cpAt(pos)!.length;
      return false;
    }
    return true;
  };

  // One step inside an action; returns "text" when the action closed, "stop" on error.
  const insideAction = (): "text" | "stop" | "more" => {
    const [delim] = atRightDelim();
    if (delim) {
      if (parenDepth === 0) {
        const [, trimSpace] = atRightDelim();
        if (trimSpace) {
          pos += 2;
          start = pos;
        }
        pos += RIGHT.length;
        emit(T.RightDelim);
        if (trimSpace) {
          pos += leftTrimLength(pos);
          start = pos;
        }
        return "text";
      }
      fail("unclosed left paren");
      return "stop";
    }
    const r = cpAt(pos);
    if (r === undefined) {
      fail("unclosed action");
      return "stop";
    }
    if (isSpace(r)) {
      let n = 0;
      while (isSpace(input[pos])) {
        pos++;
        n++;
      }
      // A space may belong to a " -}}" trim marker.
      if (hasRightTrimMarker(input, pos - 1) && input.startsWith(RIGHT, pos + 1)) {
        pos--;
        if (n === 1) return "more"; // now at the trim-marked delimiter
      }
      emit(T.Space);
      return "more";
    }
    pos += r.length;
    switch (r) {
      case "=":
        emit(T.Assign);
        return "more";
      case ":":
        if (input[pos] !== "=") {
          if (pos < input.length) pos++;
          fail("expected :=");
          return "stop";
        }
        pos++;
        emit(T.Declare);
        return "more";
      case "|":
        emit(T.Pipe);
        return "more";
      case '"':
      case "'": {
        const what = r === '"' ? "unterminated quoted string" : "unterminated character constant";
        for (;;) {
          const c = input[pos];
          if (c === undefined) {
            fail(what);
            return "stop";
          }
          pos++;
          if (c === "\\") {
            const d = input[pos];
            if (d === undefined || d === "\n") {
              if (d === "\n") pos++;
              fail(what);
              return "stop";
            }
            pos++;
            continue;
          }
          if (c === "\n") {
            fail(what);
            return "stop";
          }
          if (c === r) break;
        }
        emit(r === '"' ? T.String : T.CharConstant);
        return "more";
      }
      case "`": {
        const end = input.indexOf("`", pos);
        if (end < 0) {
          pos = input.length;
          fail("unterminated raw quoted string");
          return "stop";
        }
        pos = end + 1;
        emit(T.RawString);
        return "more";
      }
      case "$":
      case ".": {
        if (r === "." && pos < input.length && input[pos]! >= "0" && input[pos]! <= "9") {
          pos--;
          return lexNumber();
        }
        const typ = r === "$" ? T.Variable : T.Field;
        if (atTerminator()) {
          emit(typ === T.Variable ? T.Variable : T.Dot);
          return "more";
        }
        let c: string | undefined;
        for (;;) {
          c = cpAt(pos);
          if (!isAlphaNumeric(c)) break;
          pos += c!.length;
        }
        if (!atTerminator()) {
          if (c !== undefined) pos += c.length;
          fail(`bad character ${sharpU(c === undefined ? -1 : c.codePointAt(0)!)}`);
          return "stop";
        }
        emit(typ);
        return "more";
      }
      case "(":
        parenDepth++;
        emit(T.LeftParen);
        return "more";
      case ")":
        parenDepth--;
        if (parenDepth < 0) {
          fail("unexpected right paren");
          return "stop";
        }
        emit(T.RightParen);
        return "more";
    }
    if (r === "+" || r === "-" || (r >= "0" && r <= "9")) {
      pos -= r.length;
      return lexNumber();
    }
    if (isAlphaNumeric(r)) {
      let c: string | undefined;
      for (;;) {
        c = cpAt(pos);
        if (!isAlphaNumeric(c)) break;
        pos += c!.length;
      }
      if (!atTerminator()) {
        if (c !== undefined) pos += c.length;
        fail(`bad character ${sharpU(c!.codePointAt(0)!)}`);
        return "stop";
      }
      const word = input.slice(start, pos);
      const kw = KEYWORDS[word];
      if (kw !== undefined && kw > T.Keyword) emit(kw);
      else if (word === "true" || word === "false") emit(T.Bool);
      else emit(T.Identifier);
      return "more";
    }
    const cp = r.codePointAt(0)!;
    if (cp <= 0x7f && isPrint(cp)) {
      emit(T.Char);
      return "more";
    }
    fail(`unrecognized character in action: ${sharpU(cp)}`);
    return "stop";
  };

  const lexNumber = (): "more" | "stop" => {
    if (!scanNumber()) {
      fail(`bad number syntax: ${quote(input.slice(start, pos))}`);
      return "stop";
    }
    const sign = input[pos];
    if (sign === "+" || sign === "-") {
      if (!scanNumber() || input[pos - 1] !== "i") {
        fail(`bad number syntax: ${quote(input.slice(start, pos))}`);
        return "stop";
      }
      emit(T.Complex);
    } else emit(T.Number);
    return "more";
  };

  for (;;) {
    if (lexText() === "done") return items;
    // At a left delimiter.
    pos += LEFT.length;
    const trimSpace = hasLeftTrimMarker(input, pos);
    const after = trimSpace ? 2 : 0;
    if (input.startsWith("/*", pos + after)) {
      pos += after;
      start = pos;
      pos += 2;
      const x = input.indexOf("*/", pos);
      if (x < 0) {
        fail("unclosed comment");
        return items;
      }
      pos = x + 2;
      const [delim, trim] = atRightDelim();
      if (!delim) {
        fail("comment ends before closing delimiter");
        return items;
      }
      if (trim) pos += 2;
      pos += RIGHT.length;
      if (trim) pos += leftTrimLength(pos);
      start = pos;
      continue;
    }
    emit(T.LeftDelim);
    pos += after;
    start = pos;
    parenDepth = 0;
    for (;;) {
      const step = insideAction();
      if (step === "stop") return items;
      if (step === "text") break;
    }
  }
}

// ---- parse tree ----

type Node =
  | { t: "list"; pos: number; nodes: Node[] }
  | { t: "text"; pos: number; text: string }
  | { t: "action"; pos: number; line: number; pipe: PipeNode }
  | BranchNode
  | { t: "template"; pos: number; line: number; name: string; pipe: PipeNode | null }
  | { t: "break" | "continue"; pos: number; line: number }
  | { t: "end" | "else"; pos: number; line: number }
  | PipeNode
  | CommandNode
  | ArgNode;

type ListNode = Extract<Node, { t: "list" }>;
interface BranchNode {
  t: "if" | "range" | "with";
  pos: number;
  line: number;
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | null;
}
interface PipeNode {
  t: "pipe";
  pos: number;
  line: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
interface CommandNode {
  t: "command";
  pos: number;
  args: ArgNode[];
}
interface VariableNode {
  t: "variable";
  pos: number;
  ident: string[];
}
interface NumberNode {
  t: "number";
  pos: number;
  text: string;
  isInt: boolean;
  isUint: boolean;
  isFloat: boolean;
  isComplex: boolean;
  int64: bigint;
  float64: number;
  complex: [number, number];
}
type ArgNode =
  | { t: "field"; pos: number; ident: string[] }
  | VariableNode
  | { t: "chain"; pos: number; node: ArgNode; field: string[] }
  | { t: "identifier"; pos: number; ident: string }
  | { t: "dot"; pos: number }
  | { t: "nil"; pos: number }
  | { t: "bool"; pos: number; val: boolean }
  | { t: "string"; pos: number; quoted: string; text: string }
  | NumberNode
  | PipeNode;

function nodeString(n: Node): string {
  switch (n.t) {
    case "list":
      return n.nodes.map(nodeString).join("");
    case "text":
      return n.text;
    case "action":
      return "{{" + nodeString(n.pipe) + "}}";
    case "if":
    case "range":
    case "with": {
      let s = `{{${n.t} ${nodeString(n.pipe)}}}${nodeString(n.list)}`;
      if (n.elseList) s += "{{else}}" + nodeString(n.elseList);
      return s + "{{end}}";
    }
    case "template":
      return `{{template ${quote(n.name)}${n.pipe ? " " + nodeString(n.pipe) : ""}}}`;
    case "break":
    case "continue":
    case "end":
    case "else":
      return `{{${n.t}}}`;
    case "pipe": {
      let s = "";
      if (n.decl.length > 0) s = n.decl.map(nodeString).join(", ") + (n.isAssign ? " = " : " := ");
      return s + n.cmds.map(nodeString).join(" | ");
    }
    case "command":
      return n.args.map((a) => (a.t === "pipe" ? "(" + nodeString(a) + ")" : nodeString(a))).join(" ");
    case "field":
      return n.ident.map((f) => "." + f).join("");
    case "variable":
      return n.ident.join(".");
    case "chain":
      return (
        (n.node.t === "pipe" ? "(" + nodeString(n.node) + ")" : nodeString(n.node)) +
        n.field.map((f) => "." + f).join("")
      );
    case "identifier":
      return n.ident;
    case "dot":
      return ".";
    case "nil":
      return "nil";
    case "bool":
      return n.val ? "true" : "false";
    case "string":
      return n.quoted;
    case "number":
      return n.text;
  }
}

/** fmt %q / %.10q... of a lexer item, as Go's item.String. */
function itemString(i: Item): string {
  if (i.typ === T.EOF) return "EOF";
  if (i.typ === T.Error) return i.val;
  if (i.typ > T.Keyword) return `<${i.val}>`;
  const cps = Array.from(i.val);
  if (cps.length > 10) return quote(cps.slice(0, 10).join("")) + "...";
  return quote(i.val);
}

const BUILTIN_FUNCS = new Set([
  "and",
  "call",
  "html",
  "index",
  "slice",
  "js",
  "len",
  "not",
  "or",
  "print",
  "printf",
  "println",
  "urlquery",
  "eq",
  "ge",
  "gt",
  "le",
  "lt",
  "ne",
]);

class ParseError extends Error {}

// ---- Go literal syntax (strconv) ----

function unquoteChar(s: string, i: number, quoteCh: string): [number, number] {
  const c = s[i];
  if (c === undefined) throw new ParseError("invalid syntax");
  if (c === quoteCh && (quoteCh === "'" || quoteCh === '"')) throw new ParseError("invalid syntax");
  if (c !== "\\") {
    const cp = s.codePointAt(i)!;
    return [cp, i + (cp > 0xffff ? 2 : 1)];
  }
  const e = s[i + 1];
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92 };
  if (e === undefined) throw new ParseError("invalid syntax");
  if (e in simple) return [simple[e]!, i + 2];
  if (e === "'" || e === '"') {
    if (e !== quoteCh) throw new ParseError("invalid syntax");
    return [e.charCodeAt(0), i + 2];
  }
  const hexN = e === "x" ? 2 : e === "u" ? 4 : e === "U" ? 8 : 0;
  if (hexN > 0) {
    const h = s.slice(i + 2, i + 2 + hexN);
    if (h.length < hexN || !/^[0-9a-fA-F]+$/.test(h)) throw new ParseError("invalid syntax");
    const v = parseInt(h, 16);
    if (e !== "x" && (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))) throw new ParseError("invalid syntax");
    // \xNN is a byte; we keep text as UTF-16, so bytes ≥ 0x80 become U+FFFD.
    return [e === "x" && v >= 0x80 ? 0xfffd : v, i + 2 + hexN];
  }
  if (e >= "0" && e <= "7") {
    const o = s.slice(i + 1, i + 4);
    if (!/^[0-7]{3}$/.test(o)) throw new ParseError("invalid syntax");
    const v = parseInt(o, 8);
    if (v > 255) throw new ParseError("invalid syntax");
    return [v >= 0x80 ? 0xfffd : v, i + 4];
  }
  throw new ParseError("invalid syntax");
}

/** strconv.Unquote for "…" and `…` literals. */
function unquote(lit: string): string {
  if (lit.startsWith("`")) {
    if (!lit.endsWith("`") || lit.length < 2) throw new ParseError("invalid syntax");
    return lit.slice(1, -1).replace(/\r/g, "");
  }
  if (lit.length < 2 || !lit.endsWith('"')) throw new ParseError("invalid syntax");
  const body = lit.slice(1, -1);
  let out = "";
  for (let i = 0; i < body.length;) {
    if (body[i] === "\n") throw new ParseError("invalid syntax");
    const [cp, next] = unquoteChar(body, i, '"');
    out += String.fromCodePoint(cp);
    i = next;
  }
  return out;
}

/** strconv.ParseInt(text, 0, 64) / ParseUint, as bigint; null when invalid. */
function parseGoInt(text: string, unsigned: boolean): bigint | null {
  let s = text;
  let neg = false;
  if (s.startsWith("+") || s.startsWith("-")) {
    if (unsigned) return null;
    neg = s[0] === "-";
    s = s.slice(1);
  }
  let base = 10;
  let prefixed = false;
  if (/^0[xX]/.test(s)) {
    base = 16;
    s = s.slice(2);
    prefixed = true;
  } else if (/^0[oO]/.test(s)) {
    base = 8;
    s = s.slice(2);
    prefixed = true;
  } else if (/^0[bB]/.test(s)) {
    base = 2;
    s = s.slice(2);
    prefixed = true;
  } else if (s.length > 1 && s[0] === "0") {
    base = 8;
    s = s.slice(1);
    prefixed = true;
  }
  if (s.includes("_")) {
    // Underscores only between digits, and only with base-prefix syntax.
    if (!prefixed && base === 10) return null;
    if (/^_|__|_$/.test(s) && !(base === 8 && /^_[0-7]/.test(s))) return null;
    s = s.replace(/_/g, "");
  }
  if (s === "") return null;
  const digits = "0123456789abcdef".slice(0, base);
  for (const c of s.toLowerCase()) if (!digits.includes(c)) return null;
  let v = 0n;
  for (const c of s.toLowerCase()) v = v * BigInt(base) + BigInt(digits.indexOf(c));
  if (neg) v = -v;
  if (unsigned ? v > 2n ** 64n - 1n : v < -(2n ** 63n) || v > 2n ** 63n - 1n) return null;
  return v;
}

function parseGoFloat(text: string): number | null {
  const s = text.replace(/_/g, "");
  if (/^[+-]?0[xX]/.test(s)) {
    const m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(s);
    if (!m || (m[2] === "" && (m[3] ?? "") === "")) return null;
    const mant = parseInt((m[2] || "0") + (m[3] ?? ""), 16) / 16 ** (m[3] ?? "").length;
    const v = mant * 2 ** Number(m[4]);
    return m[1] === "-" ? -v : v;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return null;
  const v = Number(s);
  return Number.isFinite(v) ? v : null;
}

// ---- parser ----

interface Tree {
  name: string;
  root: ListNode | null;
}

class Parser {
  private items: Item[];
  private idx = 0;
  private token: Item[] = [];
  private peekCount = 0;
  private lastLine = 1;
  private vars: string[] = ["$"];
  private rangeDepth = 0;
  private actionLine = 0;

  constructor(
    private readonly text: string,
    private readonly treeSet: Map<string, Tree>,
    items?: Item[],
  ) {
    this.items = items ?? lex(text);
  }

  private lexNext(): Item {
    const it = this.items[Math.min(this.idx, this.items.length - 1)]!;
    if (this.idx < this.items.length) this.idx++;
    this.lastLine = it.line;
    return it;
  }
  private next(): Item {
    if (this.peekCount > 0) this.peekCount--;
    else this.token[0] = this.lexNext();
    return this.token[this.peekCount]!;
  }
  private backup(): void {
    this.peekCount++;
  }
  private backup2(t1: Item): void {
    this.token[1] = t1;
    this.peekCount = 2;
  }
  private backup3(t2: Item, t1: Item): void {
    this.token[1] = t1;
    this.token[2] = t2;
    this.peekCount = 3;
  }
  private peek(): Item {
    if (this.peekCount > 0) return this.token[this.peekCount - 1]!;
    this.peekCount = 1;
    this.token[0] = this.lexNext();
    return this.token[0];
  }
  private nextNonSpace(): Item {
    let t: Item;
    do t = this.next();
    while (t.typ === T.Space);
    return t;
  }
  private peekNonSpace(): Item {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }

  private errorf(msg: string): never {
    throw new ParseError(`template: template:${this.token[0]?.line ?? this.lastLine}: ${msg}`);
  }
  private expect(typ: T, context: string): Item {
    const t = this.nextNonSpace();
    if (t.typ !== typ) this.unexpected(t, context);
    return t;
  }
  private unexpected(t: Item, context: string): never {
    if (t.typ === T.Error) {
      let extra = "";
      if (this.actionLine !== 0 && this.actionLine !== t.line) {
        extra = ` in action started at template:${this.actionLine}`;
        if (t.val.endsWith(" action")) extra = extra.slice(" in action".length);
      }
      this.errorf(itemString(t) + extra);
    }
    this.errorf(`unexpected ${itemString(t)} in ${context}`);
  }

  parseTop(name: string): void {
    const root: ListNode = { t: "list", pos: this.peek().pos, nodes: [] };
    while (this.peek().typ !== T.EOF) {
      if (this.peek().typ === T.LeftDelim) {
        const delim = this.next();
        if (this.nextNonSpace().typ === T.Define) {
          const sub = new Parser(this.text, this.treeSet, this.items);
          sub.idx = this.idx;
          sub.parseDefinition();
          this.idx = sub.idx;
          this.peekCount = 0;
          continue;
        }
        this.backup2(delim);
      }
      const n = this.textOrAction();
      if (n.t === "end" || n.t === "else") this.errorf(`unexpected ${nodeString(n)}`);
      root.nodes.push(n);
    }
    this.add(name, root);
  }

  private add(name: string, root: ListNode): void {
    const prev = this.treeSet.get(name);
    if (!prev || isEmptyTree(prev.root)) {
      this.treeSet.set(name, { name, root });
      return;
    }
    if (!isEmptyTree(root)) this.errorf(`template: multiple definition of template ${quote(name)}`);
  }

  private parseDefinition(): void {
    const context = "define clause";
    const nameTok = this.nextNonSpace();
    if (nameTok.typ !== T.String && nameTok.typ !== T.RawString) this.unexpected(nameTok, context);
    let name: string;
    try {
      name = unquote(nameTok.val);
    } catch (e) {
      if (e instanceof ParseError) this.errorf(e.message);
      throw e;
    }
    this.expect(T.RightDelim, context);
    const [list, end] = this.itemList();
    if (end.t !== "end") this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    this.add(name, list);
  }

  private itemList(): [ListNode, Node] {
    const list: ListNode = { t: "list", pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().typ !== T.EOF) {
      const n = this.textOrAction();
      if (n.t === "end" || n.t === "else") return [list, n];
      list.nodes.push(n);
    }
    this.errorf("unexpected EOF");
  }

  private textOrAction(): Node {
    const t = this.nextNonSpace();
    switch (t.typ) {
      case T.Text:
        return { t: "text", pos: t.pos, text: t.val };
      case T.LeftDelim: {
        this.actionLine = t.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      }
      default:
        this.unexpected(t, "input");
    }
  }

  private action(): Node {
    const t = this.nextNonSpace();
    switch (t.typ) {
      case T.Block:
        return this.blockControl();
      case T.Break:
      case T.Continue: {
        const what = t.typ === T.Break ? "break" : "continue";
        const tok = this.nextNonSpace();
        if (tok.typ !== T.RightDelim) this.unexpected(tok, `{{${what}}}`);
        if (this.rangeDepth === 0) this.errorf(`{{${what}}} outside {{range}}`);
        return { t: what, pos: t.pos, line: t.line };
      }
      case T.Else:
        return this.elseControl();
      case T.End: {
        const tok = this.expect(T.RightDelim, "end");
        return { t: "end", pos: tok.pos, line: tok.line };
      }
      case T.If:
        return this.control("if");
      case T.Range:
        return this.control("range");
      case T.Template:
        return this.templateControl();
      case T.With:
        return this.control("with");
    }
    this.backup();
    const tok = this.peek();
    return { t: "action", pos: tok.pos, line: tok.line, pipe: this.pipeline("command", T.RightDelim) };
  }

  private elseControl(): Node {
    const peek = this.peekNonSpace();
    if (peek.typ === T.If || peek.typ === T.With) return { t: "else", pos: peek.pos, line: peek.line };
    const tok = this.expect(T.RightDelim, "else");
    return { t: "else", pos: tok.pos, line: tok.line };
  }

  private control(context: "if" | "range" | "with"): Node {
    const mark = this.vars.length;
    try {
      const pipe = this.pipeline(context, T.RightDelim);
      if (context === "range") this.rangeDepth++;
      let list: ListNode;
      let next: Node;
      try {
        [list, next] = this.itemList();
      } finally {
        if (context === "range") this.rangeDepth--;
      }
      let elseList: ListNode | null = null;
      if (next.t === "else") {
        if (context === "if" && this.peek().typ === T.If) {
          this.next();
          elseList = { t: "list", pos: next.pos, nodes: [this.control("if")] };
        } else if (context === "with" && this.peek().typ === T.With) {
          this.next();
          elseList = { t: "list", pos: next.pos, nodes: [this.control("with")] };
        } else {
          [elseList, next] = this.itemList();
          if (next.t !== "end") this.errorf(`expected end; found ${nodeString(next)}`);
        }
      }
      return { t: context, pos: pipe.pos, line: pipe.line, pipe, list, elseList };
    } finally {
      this.vars.length = mark;
    }
  }

  private parseTemplateName(tok: Item, context: string): string {
    if (tok.typ === T.String || tok.typ === T.RawString) {
      try {
        return unquote(tok.val);
      } catch (e) {
        if (e instanceof ParseError) this.errorf(e.message);
        throw e;
      }
    }
    this.unexpected(tok, context);
  }

  private templateControl(): Node {
    const context = "template clause";
    const tok = this.nextNonSpace();
    const name = this.parseTemplateName(tok, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().typ !== T.RightDelim) {
      this.backup();
      pipe = this.pipeline(context, T.RightDelim);
    }
    return { t: "template", pos: tok.pos, line: tok.line, name, pipe };
  }

  private blockControl(): Node {
    const context = "block clause";
    const tok = this.nextNonSpace();
    const name = this.parseTemplateName(tok, context);
    const pipe = this.pipeline(context, T.RightDelim);
    const sub = new Parser(this.text, this.treeSet, this.items);
    sub.idx = this.idx;
    sub.token = [...this.token];
    sub.peekCount = this.peekCount;
    const [list, end] = sub.itemList();
    if (end.t !== "end") this.errorf(`unexpected ${nodeString(end)} in ${context}`);
    sub.add(name, list);
    this.idx = sub.idx;
    this.token = sub.token;
    this.peekCount = sub.peekCount;
    return { t: "template", pos: tok.pos, line: tok.line, name, pipe };
  }

  private pipeline(context: string, end: T): PipeNode {
    const first = this.peekNonSpace();
    const pipe: PipeNode = {
      t: "pipe",
      pos: first.pos,
      line: first.line,
      isAssign: false,
      decl: [],
      cmds: [],
    };
    for (;;) {
      const v = this.peekNonSpace();
      if (v.typ !== T.Variable) break;
      this.next();
      const after = this.peek();
      const next = this.peekNonSpace();
      if (next.typ === T.Assign || next.typ === T.Declare) {
        pipe.isAssign = next.typ === T.Assign;
        this.nextNonSpace();
        pipe.decl.push({ t: "variable", pos: v.pos, ident: v.val.split(".") });
        this.vars.push(v.val);
      } else if (next.typ === T.Char && next.val === ",") {
        this.nextNonSpace();
        pipe.decl.push({ t: "variable", pos: v.pos, ident: v.val.split(".") });
        this.vars.push(v.val);
        if (context === "range" && pipe.decl.length < 2) {
          const p = this.peekNonSpace().typ;
          if (p === T.Variable || p === T.RightDelim || p === T.RightParen) continue;
          this.errorf("range can only initialize variables");
        }
        this.errorf(`too many declarations in ${context}`);
      } else if (after.typ === T.Space) {
        this.backup3(v, after);
      } else {
        this.backup2(v);
      }
      break;
    }
    for (;;) {
      const tok = this.nextNonSpace();
      switch (tok.typ) {
        case end:
          this.checkPipeline(pipe, context);
          return pipe;
        case T.Bool:
        case T.CharConstant:
        case T.Complex:
        case T.Dot:
        case T.Field:
        case T.Identifier:
        case T.Number:
        case T.Nil:
        case T.RawString:
        case T.String:
        case T.Variable:
        case T.LeftParen:
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(tok, context);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((c, i) => {
      const t = c.args[0]!.t;
      if (t === "bool" || t === "dot" || t === "nil" || t === "number" || t === "string") {
        this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private command(): CommandNode {
    const cmd: CommandNode = { t: "command", pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const tok = this.next();
      if (tok.typ === T.Space) continue;
      if (tok.typ === T.RightDelim || tok.typ === T.RightParen) this.backup();
      else if (tok.typ !== T.Pipe) this.unexpected(tok, "operand");
      break;
    }
    if (cmd.args.length === 0) this.errorf("empty command");
    return cmd;
  }

  private operand(): ArgNode | null {
    const node = this.term();
    if (!node) return null;
    if (this.peek().typ !== T.Field) return node;
    const pos = this.peek().pos;
    const fields: string[] = [];
    while (this.peek().typ === T.Field) fields.push(this.next().val.slice(1));
    switch (node.t) {
      case "field":
        return { t: "field", pos, ident: [...node.ident, ...fields] };
      case "variable":
        return { t: "variable", pos, ident: [...node.ident, ...fields] };
      case "bool":
      case "string":
      case "number":
      case "nil":
      case "dot":
        this.errorf(`unexpected . after term ${quote(nodeString(node))}`);
    }
    return { t: "chain", pos, node, field: fields };
  }

  private term(): ArgNode | null {
    const tok = this.nextNonSpace();
    switch (tok.typ) {
      case T.Error:
        return this.errorf(tok.val);
      case T.Identifier:
        if (!BUILTIN_FUNCS.has(tok.val)) this.errorf(`function ${quote(tok.val)} not defined`);
        return { t: "identifier", pos: tok.pos, ident: tok.val };
      case T.Dot:
        return { t: "dot", pos: tok.pos };
      case T.Nil:
        return { t: "nil", pos: tok.pos };
      case T.Variable: {
        const ident = tok.val.split(".");
        if (!this.vars.includes(ident[0]!)) this.errorf(`undefined variable ${quote(ident[0]!)}`);
        return { t: "variable", pos: tok.pos, ident };
      }
      case T.Field:
        return { t: "field", pos: tok.pos, ident: tok.val.slice(1).split(".") };
      case T.Bool:
        return { t: "bool", pos: tok.pos, val: tok.val === "true" };
      case T.CharConstant:
      case T.Complex:
      case T.Number:
        return this.newNumber(tok);
      case T.LeftParen:
        return this.pipeline("parenthesized pipeline", T.RightParen);
      case T.String:
      case T.RawString:
        try {
          return { t: "string", pos: tok.pos, quoted: tok.val, text: unquote(tok.val) };
        } catch (e) {
          if (e instanceof ParseError) this.errorf(e.message);
          throw e;
        }
    }
    this.backup();
    return null;
  }

  private newNumber(tok: Item): NumberNode {
    const text = tok.val;
    const n: NumberNode = {
      t: "number",
      pos: tok.pos,
      text,
      isInt: false,
      isUint: false,
      isFloat: false,
      isComplex: false,
      int64: 0n,
      float64: 0,
      complex: [0, 0],
    };
    if (tok.typ === T.CharConstant) {
      let cp: number;
      let next: number;
      try {
        [cp, next] = unquoteChar(text, 1, "'");
      } catch (e) {
        if (e instanceof ParseError) this.errorf(e.message);
        throw e;
      }
      if (text.slice(next) !== "'") this.errorf(`malformed character constant: ${text}`);
      n.isInt = n.isUint = n.isFloat = true;
      n.int64 = BigInt(cp);
      n.float64 = cp;
      return n;
    }
    if (tok.typ === T.Complex) {
      const m = /^([+-]?[^+-]+(?:[eE][+-]?\d+)?)([+-].*)i$/.exec(text);
      const re = m ? parseGoFloat(m[1]!) : null;
      const im = m ? parseGoFloat(m[2]!) : null;
      if (re === null || im === null) this.errorf(`expected integer; found ${text}`);
      return this.simplifyComplex(n, re, im);
    }
    if (text.endsWith("i")) {
      const f = parseGoFloat(text.slice(0, -1));
      if (f !== null) return this.simplifyComplex(n, 0, f);
    }
    const u = parseGoInt(text, true);
    if (u !== null) {
      n.isUint = true;
    }
    const i = parseGoInt(text, false);
    if (i !== null) {
      n.isInt = true;
      n.int64 = i;
      if (i === 0n) n.isUint = true;
    }
    if (n.isInt) {
      n.isFloat = true;
      n.float64 = Number(n.int64);
    } else if (n.isUint) {
      n.isFloat = true;
      n.float64 = Number(u);
    } else {
      const f = parseGoFloat(text);
      if (f !== null) {
        if (!/[.eEpP]/.test(text)) this.errorf(`integer overflow: ${quote(text)}`);
        n.isFloat = true;
        n.float64 = f;
        if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
          n.isInt = true;
          n.int64 = BigInt(f);
        }
        if (Number.isInteger(f) && f >= 0 && f < 2 ** 64) n.isUint = true;
      }
    }
    if (!n.isInt && !n.isUint && !n.isFloat) this.errorf(`illegal number syntax: ${quote(text)}`);
    return n;
  }

  private simplifyComplex(n: NumberNode, re: number, im: number): NumberNode {
    n.isComplex = true;
    n.complex = [re, im];
    if (im === 0) {
      n.isFloat = true;
      n.float64 = re;
      if (Number.isInteger(re) && Math.abs(re) < 2 ** 63) {
        n.isInt = true;
        n.int64 = BigInt(re);
      }
      if (Number.isInteger(re) && re >= 0 && re < 2 ** 64) n.isUint = true;
    }
    return n;
  }
}

function isEmptyTree(n: Node | null): boolean {
  if (n === null) return true;
  switch (n.t) {
    case "list":
      return n.nodes.every(isEmptyTree);
    case "text":
      return n.text.trim() === "";
    default:
      return false;
  }
}

// ---- values ----

/** A reflect.Value as the executor sees it. `iface` is a value whose static type is interface{}. */
type GV =
  | { k: "invalid" }
  | { k: "iface"; v: GV | null }
  | { k: "map"; m: Map<string, JD> }
  | { k: "slice"; a: JD[] }
  | { k: "string"; s: string }
  | { k: "number"; s: string }
  | { k: "bool"; b: boolean }
  | { k: "int"; n: bigint; type: "int" | "int64" | "uint8" }
  | { k: "float"; f: number }
  | { k: "complex"; re: number; im: number };

const INVALID: GV = { k: "invalid" };
const MISSING: GV = { k: "invalid" }; // identity-compared: "no final argument"

function fromData(d: JD): GV {
  if (d === null) return { k: "iface", v: null };
  if (typeof d === "string") return { k: "string", s: d };
  if (typeof d === "boolean") return { k: "bool", b: d };
  if (d instanceof JNum) return { k: "number", s: d.text };
  if (Array.isArray(d)) return { k: "slice", a: d };
  return { k: "map", m: d };
}
/** An element of a map or slice: interface{}-typed. */
function elem(d: JD): GV {
  return { k: "iface", v: d === null ? null : fromData(d) };
}

function typeOf(v: GV): string {
  switch (v.k) {
    case "invalid":
      return "<nil>";
    case "iface":
      return "interface {}";
    case "map":
      return "map[string]interface {}";
    case "slice":
      return "[]interface {}";
    case "string":
      return "string";
    case "number":
      return "json.Number";
    case "bool":
      return "bool";
    case "int":
      return v.type;
    case "float":
      return "float64";
    case "complex":
      return "complex128";
  }
}

/** indirect: through interfaces (there are no pointers in this data model). */
function indirect(v: GV): [GV, boolean] {
  while (v.k === "iface") {
    if (v.v === null) return [v, true];
    v = v.v;
  }
  return [v, false];
}
function indirectInterface(v: GV): GV {
  if (v.k !== "iface") return v;
  return v.v ?? INVALID;
}

function byteLen(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

function isTrue(v: GV): boolean {
  switch (v.k) {
    case "invalid":
      return false;
    case "iface":
      return v.v !== null;
    case "map":
      return v.m.size > 0;
    case "slice":
      return v.a.length > 0;
    case "string":
    case "number":
      return v.s.length > 0;
    case "bool":
      return v.b;
    case "int":
      return v.n !== 0n;
    case "float":
      return v.f !== 0;
    case "complex":
      return v.re !== 0 || v.im !== 0;
  }
}

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

function fmtFloatV(f: number): string {
  if (Number.isNaN(f)) return "NaN";
  if (f === Infinity) return "+Inf";
  if (f === -Infinity) return "-Inf";
  return formatFloat(f, "g", -1);
}

function fmtComplex(re: number, im: number): string {
  const i = fmtFloatV(im);
  return "(" + fmtFloatV(re) + (i.startsWith("-") || i.startsWith("+") ? i : "+" + i) + "i)";
}

/** fmt's %v of a value (nil interfaces inside composites print as <nil>). */
function fmtV(v: GV): string {
  switch (v.k) {
    case "invalid":
      return "<invalid reflect.Value>";
    case "iface":
      return v.v === null ? "<nil>" : fmtV(v.v);
    case "map":
      return (
        "map[" +
        [...v.m.keys()]
          .sort(byteOrder)
          .map((k) => k + ":" + fmtV(elem(v.m.get(k)!)))
          .join(" ") +
        "]"
      );
    case "slice":
      return "[" + v.a.map((x) => fmtV(elem(x))).join(" ") + "]";
    case "string":
    case "number":
      return v.s;
    case "bool":
      return v.b ? "true" : "false";
    case "int":
      return v.n.toString();
    case "float":
      return fmtFloatV(v.f);
    case "complex":
      return fmtComplex(v.re, v.im);
  }
}

/** fmt.Sprint: spaces between operands when neither is a string. */
function sprint(args: GV[]): string {
  let out = "";
  let prevString = false;
  args.forEach((a, i) => {
    const isString = a.k === "string" || a.k === "number";
    if (i > 0 && !isString && !prevString) out += " ";
    out += a.k === "invalid" ? "<nil>" : fmtV(a);
    prevString = isString;
  });
  return out;
}

// ---- printf (the subset of fmt verbs templates use) ----

function padTo(s: string, width: number, minus: boolean, zero: boolean): string {
  const n = Array.from(s).length;
  if (width <= n) return s;
  if (minus) return s + " ".repeat(width - n);
  if (zero) {
    const sign = /^[+-]/.test(s) ? s[0]! : "";
    return sign + "0".repeat(width - n) + s.slice(sign.length);
  }
  return " ".repeat(width - n) + s;
}

function badVerb(verb: string, a: GV): string {
  if (a.k === "invalid" || (a.k === "iface" && a.v === null)) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeOf(a)}=${fmtV(a)})`;
}

function sprintf(format: string, args: GV[]): string {
  let out = "";
  let argNum = 0;
  let i = 0;
  while (i < format.length) {
    const c = format[i]!;
    if (c !== "%") {
      out += c;
      i++;
      continue;
    }
    i++;
    let minus = false;
    let plus = false;
    let zero = false;
    let space = false;
    let sharp = false;
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === "-") minus = true;
      else if (f === "+") plus = true;
      else if (f === "0") zero = !minus;
      else if (f === " ") space = true;
      else if (f === "#") sharp = true;
      else break;
    }
    let width = -1;
    let prec = -1;
    const num = (): number => {
      let n = -1;
      while (i < format.length && format[i]! >= "0" && format[i]! <= "9") {
        n = (n < 0 ? 0 : n * 10) + Number(format[i]);
        i++;
      }
      return n;
    };
    if (format[i] === "*") {
      i++;
      const a = args[argNum++];
      width = a && a.k === "int" ? Number(a.n) : -1;
      if (!a || a.k !== "int") out += "%!(BADWIDTH)";
    } else width = num();
    if (format[i] === ".") {
      i++;
      if (format[i] === "*") {
        i++;
        const a = args[argNum++];
        prec = a && a.k === "int" ? Number(a.n) : 0;
        if (!a || a.k !== "int") out += "%!(BADPREC)";
      } else prec = Math.max(num(), 0);
    }
    if (i >= format.length) {
      out += "%!(NOVERB)";
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!);
    i += verb.length;
    if (verb === "%") {
      out += "%";
      continue;
    }
    if (argNum >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const raw = args[argNum++]!;
    const a = raw.k === "iface" ? (raw.v ?? INVALID) : raw;
    let s: string;
    const signed = (t: string): string => (t.startsWith("-") ? t : plus ? "+" + t : space ? " " + t : t);
    switch (verb) {
      case "v":
        s =
          a.k === "invalid"
            ? "<nil>"
            : a.k === "float"
              ? signed(fmtFloatV(a.f))
              : a.k === "int"
                ? signed(a.n.toString())
                : fmtV(a);
        break;
      case "s":
      case "q":
        if (a.k === "string" || a.k === "number") {
          let t = a.s;
          if (prec >= 0) t = Array.from(t).slice(0, prec).join("");
          s = verb === "q" ? (sharp && !t.includes("`") ? "`" + t + "`" : quote(t)) : t;
        } else if (verb === "q" && a.k === "int") {
          s = quoteRune(Number(a.n), false);
        } else if (verb === "s" && (a.k === "map" || a.k === "slice")) {
          s = fmtV(a);
        } else s = badVerb(verb, a);
        break;
      case "d":
        s = a.k === "int" ? signed(a.n.toString()) : badVerb(verb, a);
        if (a.k === "int" && prec >= 0) {
          const neg = s.startsWith("-") || s.startsWith("+") || s.startsWith(" ");
          const body = neg ? s.slice(1) : s;
          s = (neg ? s[0] : "") + body.padStart(prec, "0");
        }
        break;
      case "t":
        s = a.k === "bool" ? (a.b ? "true" : "false") : badVerb(verb, a);
        break;
      case "c":
        s =
          a.k === "int"
            ? String.fromCodePoint(Number(a.n) >= 0 && Number(a.n) <= 0x10ffff ? Number(a.n) : 0xfffd)
            : badVerb(verb, a);
        break;
      case "x":
      case "X": {
        let t: string | null = null;
        if (a.k === "int")
          t = (a.n < 0n ? "-" : "") + (sharp ? "0x" : "") + (a.n < 0n ? -a.n : a.n).toString(16);
        else if (a.k === "string" || a.k === "number") t = Buffer.from(a.s, "utf8").toString("hex");
        else if (a.k === "float") t = formatFloat(a.f, "x", prec);
        s = t === null ? badVerb(verb, a) : verb === "X" ? t.toUpperCase() : t;
        break;
      }
      case "e":
      case "E":
      case "f":
      case "F":
      case "g":
      case "G":
        if (a.k === "float") {
          const f = a.f;
          const fv = verb === "F" ? "f" : verb;
          const p = prec >= 0 ? prec : verb === "g" || verb === "G" ? -1 : 6;
          s = Number.isFinite(f) ? signed(formatFloat(f, fv, p)) : fmtFloatV(f);
        } else s = badVerb(verb, a);
        break;
      default:
        s = badVerb(verb, a);
    }
    out += padTo(s, width, minus, zero && verb !== "s" && verb !== "q" && verb !== "v");
  }
  if (argNum < args.length) {
    out +=
      "%!(EXTRA " +
      args
        .slice(argNum)
        .map((a) => {
          const x = a.k === "iface" ? (a.v ?? INVALID) : a;
          return x.k === "invalid" ? "<nil>" : `${typeOf(x)}=${fmtV(x)}`;
        })
        .join(", ") +
      ")";
  }
  return out;
}

// ---- escapers ----

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) =>
    c === "\0"
      ? "\uFFFD"
      : ({ '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;" } as Record<string, string>)[
          c
        ]!,
  );
}

function jsEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case "\\":
        out += "\\\\";
        continue;
      case "'":
        out += "\\'";
        continue;
      case '"':
        out += '\\"';
        continue;
      case "<":
        out += "\\u003C";
        continue;
      case ">":
        out += "\\u003E";
        continue;
      case "&":
        out += "\\u0026";
        continue;
      case "=":
        out += "\\u003D";
        continue;
    }
    if (cp < 0x80) {
      out += cp < 0x20 ? "\\u" + cp.toString(16).toUpperCase().padStart(4, "0") : ch;
    } else if (isPrint(cp)) out += ch;
    else out += "\\u" + cp.toString(16).toUpperCase().padStart(4, "0");
  }
  return out;
}

function queryEscape(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === " ") out += "+";
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** text/template's evalArgs for the escapers. */
function evalArgsText(args: GV[]): string {
  if (args.length === 1 && args[0]!.k === "string") return args[0]!.s;
  // printableValue turns a nil argument into "<no value>" before fmt sees it.
  return sprint(
    args.map((a) =>
      a.k === "invalid" || (a.k === "iface" && a.v === null) ? { k: "string", s: "<no value>" } : a,
    ),
  );
}

// ---- builtin functions ----

type Param = "value" | "any" | "string";
interface FuncSig {
  fixed: Param[];
  variadic: Param | null;
}
const SIGS: Record<string, FuncSig> = {
  and: { fixed: ["value"], variadic: "value" },
  or: { fixed: ["value"], variadic: "value" },
  call: { fixed: ["value"], variadic: "value" },
  not: { fixed: ["value"], variadic: null },
  len: { fixed: ["value"], variadic: null },
  index: { fixed: ["value"], variadic: "value" },
  slice: { fixed: ["value"], variadic: "value" },
  eq: { fixed: ["value"], variadic: "value" },
  ne: { fixed: ["value", "value"], variadic: null },
  lt: { fixed: ["value", "value"], variadic: null },
  le: { fixed: ["value", "value"], variadic: null },
  gt: { fixed: ["value", "value"], variadic: null },
  ge: { fixed: ["value", "value"], variadic: null },
  print: { fixed: [], variadic: "any" },
  println: { fixed: [], variadic: "any" },
  printf: { fixed: ["string"], variadic: "any" },
  html: { fixed: [], variadic: "any" },
  js: { fixed: [], variadic: "any" },
  urlquery: { fixed: [], variadic: "any" },
};

/** A Go function returned an error; evalCall reports it as "error calling NAME: …". */
class CallError extends Error {}

const REFLECT_ZERO_TYPE = "reflect: call of reflect.Value.Type on zero Value";

function length(item: GV): GV {
  const [v, isNil] = indirect(item);
  if (isNil) throw new CallError("len of nil pointer");
  switch (v.k) {
    case "map":
      return { k: "int", n: BigInt(v.m.size), type: "int" };
    case "slice":
      return { k: "int", n: BigInt(v.a.length), type: "int" };
    case "string":
    case "number":
      return { k: "int", n: BigInt(byteLen(v.s)), type: "int" };
    case "invalid":
      throw new CallError(REFLECT_ZERO_TYPE);
  }
  throw new CallError(`len of type ${typeOf(v)}`);
}

function indexArg(index: GV, cap: number): number {
  let x: bigint;
  if (index.k === "int") x = index.n;
  else if (index.k === "invalid") throw new CallError("cannot index slice/array with nil");
  else throw new CallError(`cannot index slice/array with type ${typeOf(index)}`);
  if (x < 0n || x > BigInt(cap)) throw new CallError(`index out of range: ${x}`);
  return Number(x);
}

function indexFn(item: GV, indexes: GV[]): GV {
  item = indirectInterface(item);
  if (item.k === "invalid") throw new CallError("index of untyped nil");
  for (let index of indexes) {
    index = indirectInterface(index);
    const [it, isNil] = indirect(item);
    if (isNil) throw new CallError("index of nil pointer");
    switch (it.k) {
      case "slice": {
        const x = indexArg(index, it.a.length);
        if (x >= it.a.length) throw new CallError("reflect: slice index out of range");
        item = elem(it.a[x]!);
        break;
      }
      case "string":
      case "number": {
        const bytes = Buffer.from(it.s, "utf8");
        const x = indexArg(index, bytes.length);
        if (x >= bytes.length) throw new CallError("reflect: string index out of range");
        item = { k: "int", n: BigInt(bytes[x]!), type: "uint8" };
        break;
      }
      case "map": {
        if (index.k === "invalid") throw new CallError("value is nil; should be of type string");
        if (index.k !== "string") throw new CallError(`value has type ${typeOf(index)}; should be string`);
        const d = it.m.get(index.s);
        item = d === undefined ? { k: "iface", v: null } : elem(d);
        break;
      }
      default:
        throw new CallError(`can't index item of type ${typeOf(it)}`);
    }
  }
  return item;
}

function sliceFn(item: GV, indexes: GV[]): GV {
  item = indirectInterface(item);
  if (item.k === "invalid") throw new CallError("slice of untyped nil");
  if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
  let len: number;
  if (item.k === "string" || item.k === "number") {
    if (indexes.length === 3) throw new CallError("cannot 3-index slice a string");
    len = byteLen(item.s);
  } else if (item.k === "slice") len = item.a.length;
  else throw new CallError(`can't slice item of type ${typeOf(item)}`);
  const idx = [0, len, len];
  indexes.forEach((ix, i) => {
    idx[i] = indexArg(ix, len);
  });
  if (idx[0]! > idx[1]!) throw new CallError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1]! > idx[2]!)
    throw new CallError(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (item.k === "slice") return { k: "slice", a: item.a.slice(idx[0], idx[1]) };
  const s = Buffer.from(item.s, "utf8").subarray(idx[0], idx[1]).toString("utf8");
  return item.k === "number" ? { k: "number", s } : { k: "string", s };
}

type Kind = "invalid" | "bool" | "complex" | "int" | "float" | "string" | "uint";
function basicKind(v: GV): Kind {
  switch (v.k) {
    case "bool":
      return "bool";
    case "int":
      return v.type === "uint8" ? "uint" : "int";
    case "float":
      return "float";
    case "complex":
      return "complex";
    case "string":
    case "number":
      return "string";
  }
  return "invalid";
}

function eqFn(arg1: GV, rest: GV[]): boolean {
  arg1 = indirectInterface(arg1);
  if (rest.length === 0) throw new CallError("missing argument for comparison");
  const k1 = basicKind(arg1);
  for (let arg of rest) {
    arg = indirectInterface(arg);
    const k2 = basicKind(arg);
    let truth = false;
    if (k1 !== k2) {
      if ((k1 === "int" || k1 === "uint") && (k2 === "int" || k2 === "uint")) {
        truth = (arg1 as { n: bigint }).n === (arg as { n: bigint }).n;
      } else if (arg1.k !== "invalid" && arg.k !== "invalid") {
        throw new CallError(`incompatible types for comparison: ${typeOf(arg1)} and ${typeOf(arg)}`);
      }
    } else {
      switch (k1) {
        case "bool":
          truth = (arg1 as { b: boolean }).b === (arg as { b: boolean }).b;
          break;
        case "int":
        case "uint":
          truth = (arg1 as { n: bigint }).n === (arg as { n: bigint }).n;
          break;
        case "float":
          truth = (arg1 as { f: number }).f === (arg as { f: number }).f;
          break;
        case "complex":
          truth =
            (arg1 as { re: number }).re === (arg as { re: number }).re &&
            (arg1 as { im: number }).im === (arg as { im: number }).im;
          break;
        case "string":
          truth = (arg1 as { s: string }).s === (arg as { s: string }).s;
          break;
        default: {
          // Maps, slices and nils: only nil comparisons are allowed.
          const nil1 = arg1.k === "invalid";
          const nil2 = arg.k === "invalid";
          if (arg1.k !== arg.k && !nil1 && !nil2) {
            throw new CallError(
              `non-comparable types ${fmtV(arg1)}: ${typeOf(arg1)}, ${typeOf(arg)}: ${fmtV(arg)}`,
            );
          }
          if (nil1 || nil2) truth = nil1 === nil2;
          else throw new CallError(`non-comparable type ${fmtV(arg)}: ${typeOf(arg)}`);
        }
      }
    }
    if (truth) return true;
  }
  return false;
}

function ltFn(arg1: GV, arg2: GV): boolean {
  arg1 = indirectInterface(arg1);
  const k1 = basicKind(arg1);
  if (k1 === "invalid") throw new CallError("invalid type for comparison");
  arg2 = indirectInterface(arg2);
  const k2 = basicKind(arg2);
  if (k2 === "invalid") throw new CallError("invalid type for comparison");
  if (k1 !== k2) {
    if ((k1 === "int" || k1 === "uint") && (k2 === "int" || k2 === "uint")) {
      return (arg1 as { n: bigint }).n < (arg2 as { n: bigint }).n;
    }
    throw new CallError(`incompatible types for comparison: ${typeOf(arg1)} and ${typeOf(arg2)}`);
  }
  switch (k1) {
    case "bool":
    case "complex":
      throw new CallError("invalid type for comparison");
    case "int":
    case "uint":
      return (arg1 as { n: bigint }).n < (arg2 as { n: bigint }).n;
    case "float":
      return (arg1 as { f: number }).f < (arg2 as { f: number }).f;
    default:
      return byteOrder((arg1 as { s: string }).s, (arg2 as { s: string }).s) < 0;
  }
}

const boolV = (b: boolean): GV => ({ k: "bool", b });

function callBuiltin(name: string, argv: GV[]): GV {
  switch (name) {
    case "not":
      return boolV(!isTrue(indirectInterface(argv[0]!)));
    case "len":
      return length(argv[0]!);
    case "index":
      return indexFn(argv[0]!, argv.slice(1));
    case "slice":
      return sliceFn(argv[0]!, argv.slice(1));
    case "eq":
      return boolV(eqFn(argv[0]!, argv.slice(1)));
    case "ne":
      return boolV(!eqFn(argv[0]!, [argv[1]!]));
    case "lt":
      return boolV(ltFn(argv[0]!, argv[1]!));
    case "le":
      return boolV(ltFn(argv[0]!, argv[1]!) || eqFn(argv[0]!, [argv[1]!]));
    case "gt":
      return boolV(!(ltFn(argv[0]!, argv[1]!) || eqFn(argv[0]!, [argv[1]!])));
    case "ge":
      return boolV(!ltFn(argv[0]!, argv[1]!));
    case "print":
      return { k: "string", s: sprint(argv.map(unwrapAny)) };
    case "println":
      return { k: "string", s: argv.map((a) => fmtAny(unwrapAny(a))).join(" ") + "\n" };
    case "printf":
      return { k: "string", s: sprintf((argv[0] as { s: string }).s, argv.slice(1).map(unwrapAny)) };
    case "html":
      return { k: "string", s: htmlEscape(evalArgsText(argv.map(unwrapAny))) };
    case "js":
      return { k: "string", s: jsEscape(evalArgsText(argv.map(unwrapAny))) };
    case "urlquery":
      return { k: "string", s: queryEscape(evalArgsText(argv.map(unwrapAny))) };
    case "call": {
      const calleeName = (argv[0] as { s: string }).s;
      const fn = indirectInterface(argv[1]!);
      if (fn.k === "invalid") throw new CallError("call of nil");
      throw new CallError(`non-function ${calleeName} of type ${typeOf(fn)}`);
    }
  }
  throw new CallError(`${quote(name)} is not a defined function`);
}

/** An interface{} parameter receives the dynamic value; a nil interface becomes untyped nil. */
function unwrapAny(v: GV): GV {
  if (v.k === "iface") return v.v === null ? INVALID : unwrapAny(v.v);
  return v;
}
const fmtAny = (v: GV): string => (v.k === "invalid" ? "<nil>" : fmtV(v));

// json.Number's methods, reachable as fields (.x.String).
const NUMBER_METHODS = new Set(["String", "Float64", "Int64"]);

// ---- executor ----

class ExecError extends Error {}
class BreakSignal {}
class ContinueSignal {}

/**
 * Template invocations may recurse ({{define "x"}}{{template "x"}}{{end}}).
 * Go stops at depth 100000; a JS stack is smaller, so stop much earlier with
 * Go's message, which is what a policy would see from OPA either way.
 */
const MAX_DEPTH = 1000;

/**
 * Output and work are bounded so a template cannot exhaust the PDP's memory
 * or stall it ({{range 1000000000}}{{end}} writes nothing). Go's
 * text/template has no such limits; OPA would just run on.
 */
const MAX_OUTPUT = 16 * 1024 * 1024;
const MAX_STEPS = 1_000_000;

/** Shared by a template and the templates it invokes. */
interface Sink {
  parts: string[];
  len: number;
  steps: number;
}

interface Var {
  name: string;
  value: GV;
}

class State {
  node: Node | null = null;
  vars: Var[];

  constructor(
    private readonly text: string,
    private readonly trees: Map<string, Tree>,
    private readonly tmplName: string,
    dot: GV,
    private readonly depth: number,
    readonly sink: Sink,
  ) {
    this.vars = [{ name: "$", value: dot }];
  }

  errorf(msg: string): never {
    if (this.node === null) throw new ExecError(`template: ${this.tmplName}: ${msg}`);
    const pos = this.node.pos;
    const before = this.text.slice(0, pos);
    const nl = before.lastIndexOf("\n");
    const line = 1 + (before.match(/\n/g)?.length ?? 0);
    const col = nl < 0 ? byteLen(before) : byteLen(before.slice(nl + 1));
    throw new ExecError(
      `template: template:${line}:${col}: executing ${quote(this.tmplName)} at <${nodeString(this.node)}>: ${msg}`,
    );
  }

  private write(s: string): void {
    this.sink.len += s.length;
    if (this.sink.len > MAX_OUTPUT) this.errorf("output too large");
    this.sink.parts.push(s);
  }

  private setVar(name: string, value: GV): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }
  private varValue(name: string): GV {
    for (let i = this.vars.length - 1; i >= 0; i--)
      if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.errorf(`undefined variable: ${name}`);
  }

  walk(dot: GV, node: Node): void {
    this.node = node;
    if (++this.sink.steps > MAX_STEPS) this.errorf("too many execution steps");
    switch (node.t) {
      case "action": {
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) {
          this.node = node;
          this.write(val.k === "invalid" ? "<no value>" : fmtV(val));
        }
        return;
      }
      case "break":
        throw new BreakSignal();
      case "continue":
        throw new ContinueSignal();
      case "if":
      case "with": {
        const mark = this.vars.length;
        try {
          const val = this.evalPipeline(dot, node.pipe);
          if (isTrue(indirectInterface(val))) this.walk(node.t === "with" ? val : dot, node.list);
          else if (node.elseList) this.walk(dot, node.elseList);
        } finally {
          this.vars.length = mark;
        }
        return;
      }
      case "list":
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case "range":
        try {
          this.walkRange(dot, node);
        } catch (e) {
          if (!(e instanceof BreakSignal)) throw e;
        }
        return;
      case "template":
        this.walkTemplate(dot, node);
        return;
      case "text":
        this.write(node.text);
        return;
    }
    this.errorf(`unknown node: ${nodeString(node)}`);
  }

  private walkRange(dot: GV, r: BranchNode): void {
    const mark0 = this.vars.length;
    try {
      const [val] = indirect(this.evalPipeline(dot, r.pipe));
      const mark = this.vars.length;
      const one = (index: GV, el: GV): void => {
        const decl = r.pipe.decl;
        if (decl.length > 0) {
          if (r.pipe.isAssign) this.setVar(decl[0]!.ident[0]!, decl.length > 1 ? index : el);
          else this.vars[this.vars.length - 1]!.value = el;
        }
        if (decl.length > 1) {
          if (r.pipe.isAssign) this.setVar(decl[1]!.ident[0]!, el);
          else this.vars[this.vars.length - 2]!.value = index;
        }
        try {
          this.walk(el, r.list);
        } catch (e) {
          if (!(e instanceof ContinueSignal)) throw e;
        } finally {
          this.vars.length = mark;
        }
      };
      switch (val.k) {
        case "slice":
          if (val.a.length === 0) break;
          val.a.forEach((d, i) => one({ k: "int", n: BigInt(i), type: "int" }, elem(d)));
          return;
        case "map":
          if (val.m.size === 0) break;
          for (const k of [...val.m.keys()].sort(byteOrder)) one({ k: "string", s: k }, elem(val.m.get(k)!));
          return;
        case "int": {
          if (r.pipe.decl.length > 1) {
            this.errorf(`can't use ${fmtV(val)} to iterate over more than one variable`);
          }
          if (val.n <= 0n) break;
          for (let i = 0n; i < val.n; i++) one(INVALID, { k: "int", n: i, type: val.type });
          return;
        }
        case "invalid":
          break;
        default:
          // Go reports this at the last node the pipeline visited, not the range.
          this.errorf(`range can't iterate over ${fmtV(val)}`);
      }
      if (r.elseList) this.walk(dot, r.elseList);
    } finally {
      this.vars.length = mark0;
    }
  }

  private walkTemplate(dot: GV, t: Extract<Node, { t: "template" }>): void {
    this.node = t;
    const tmpl = this.trees.get(t.name);
    if (!tmpl || !tmpl.root) this.errorf(`template ${quote(t.name)} not defined`);
    if (this.depth >= MAX_DEPTH) this.errorf("exceeded maximum template depth (100000)");
    const newDot = this.evalPipeline(dot, t.pipe);
    new State(this.text, this.trees, t.name, newDot, this.depth + 1, this.sink).walk(newDot, tmpl.root);
  }

  evalPipeline(dot: GV, pipe: PipeNode | null): GV {
    if (!pipe) return INVALID;
    this.node = pipe;
    let value: GV = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      if (value.k === "iface") value = value.v ?? INVALID;
    }
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0]!, value);
      else this.vars.push({ name: v.ident[0]!, value });
    }
    return value;
  }

  private notAFunction(args: ArgNode[], final: GV): void {
    if (args.length > 1 || final !== MISSING)
      this.errorf(`can't give argument to non-function ${nodeString(args[0]!)}`);
  }

  private evalCommand(dot: GV, cmd: CommandNode, final: GV): GV {
    const first = cmd.args[0]!;
    switch (first.t) {
      case "field":
        this.node = first;
        return this.evalFieldChain(dot, dot, first, first.ident, cmd.args, final);
      case "chain":
        return this.evalChainNode(dot, first, cmd.args, final);
      case "identifier":
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case "pipe":
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case "variable":
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.node = first;
    this.notAFunction(cmd.args, final);
    switch (first.t) {
      case "bool":
        return boolV(first.val);
      case "dot":
        return dot;
      case "nil":
        return this.errorf("nil is not a command");
      case "number":
        return this.idealConstant(first);
      case "string":
        return { k: "string", s: first.text };
    }
  }

  private idealConstant(c: NumberNode): GV {
    this.node = c;
    if (c.isComplex) return { k: "complex", re: c.complex[0], im: c.complex[1] };
    const hexInt = c.text.length > 2 && c.text[0] === "0" && /[xX]/.test(c.text[1]!) && !/[pP]/.test(c.text);
    if (c.isFloat && !hexInt && c.text[0] !== "'" && /[.eEpP]/.test(c.text))
      return { k: "float", f: c.float64 };
    if (c.isInt) return { k: "int", n: c.int64, type: "int" };
    if (c.isUint) this.errorf(`${c.text} overflows int`);
    return INVALID;
  }

  private evalChainNode(dot: GV, chain: Extract<ArgNode, { t: "chain" }>, args: ArgNode[], final: GV): GV {
    this.node = chain;
    if (chain.node.t === "nil") this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const pipe = this.evalArg(dot, "any", chain.node);
    return this.evalFieldChain(dot, pipe, chain, chain.field, args, final);
  }

  private evalVariableNode(dot: GV, v: VariableNode, args: ArgNode[], final: GV): GV {
    this.node = v;
    const value = this.varValue(v.ident[0]!);
    if (v.ident.length === 1) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.ident.slice(1), args, final);
  }

  private evalFieldChain(
    dot: GV,
    receiver: GV,
    node: ArgNode,
    ident: string[],
    args: ArgNode[],
    final: GV,
  ): GV {
    for (let i = 0; i < ident.length - 1; i++)
      receiver = this.evalField(dot, ident[i]!, node, [], MISSING, receiver);
    return this.evalField(dot, ident[ident.length - 1]!, node, args, final, receiver);
  }

  private evalField(dot: GV, name: string, node: ArgNode, args: ArgNode[], final: GV, receiver: GV): GV {
    if (receiver.k === "invalid") return INVALID;
    const typ = typeOf(receiver);
    const [r, isNil] = indirect(receiver);
    if (r.k === "iface" && isNil) this.errorf(`nil pointer evaluating ${typ}.${name}`);
    if (r.k === "number" && NUMBER_METHODS.has(name))
      return this.callNumberMethod(dot, r.s, name, node, args, final);
    const hasArgs = args.length > 1 || final !== MISSING;
    if (r.k === "map") {
      if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
      const d = r.m.get(name);
      return d === undefined ? INVALID : elem(d);
    }
    this.errorf(`can't evaluate field ${name} in type ${typ}`);
  }

  private callNumberMethod(
    _dot: GV,
    text: string,
    name: string,
    node: ArgNode,
    args: ArgNode[],
    final: GV,
  ): GV {
    const numIn = Math.max(args.length - 1, 0) + (final !== MISSING ? 1 : 0);
    if (numIn !== 0) this.errorf(`wrong number of args for ${name}: want 0 got ${numIn}`);
    switch (name) {
      case "String":
        return { k: "string", s: text };
      case "Float64": {
        const f = Number(text);
        if (!Number.isFinite(f)) {
          this.node = node;
          this.errorf(
            `error calling Float64: strconv.ParseFloat: parsing ${quote(text)}: value out of range`,
          );
        }
        return { k: "float", f };
      }
      default: {
        const i = /^[+-]?\d+$/.test(text) ? BigInt(text) : null;
        if (i === null || i < -(2n ** 63n) || i > 2n ** 63n - 1n) {
          this.node = node;
          const why = i === null ? "invalid syntax" : "value out of range";
          this.errorf(`error calling Int64: strconv.ParseInt: parsing ${quote(text)}: ${why}`);
        }
        return { k: "int", n: i, type: "int64" };
      }
    }
  }

  private evalFunction(
    dot: GV,
    node: Extract<ArgNode, { t: "identifier" }>,
    cmd: Node,
    args: ArgNode[] | null,
    final: GV,
  ): GV {
    this.node = node;
    const name = node.ident;
    const sig = SIGS[name];
    if (!sig) this.errorf(`${quote(name)} is not a defined function`);
    const rest = args ? args.slice(1) : [];
    const numIn = rest.length + (final !== MISSING ? 1 : 0);
    const numParams = sig.fixed.length + (sig.variadic ? 1 : 0);
    let numFixed = rest.length;
    if (sig.variadic) {
      numFixed = sig.fixed.length;
      if (numIn < numFixed) {
        this.errorf(`wrong number of args for ${name}: want at least ${sig.fixed.length} got ${rest.length}`);
      }
    } else if (numIn !== numParams) {
      this.errorf(`wrong number of args for ${name}: want ${numParams} got ${numIn}`);
    }

    if (name === "and" || name === "or") {
      let v: GV = INVALID;
      for (const arg of rest) {
        v = this.evalArg(dot, "value", arg);
        if (isTrue(indirectInterface(v)) === (name === "or")) return v;
      }
      if (final !== MISSING) v = final;
      return v;
    }

    const argv: GV[] = [];
    let i = 0;
    for (; i < numFixed && i < rest.length; i++) argv.push(this.evalArg(dot, sig.fixed[i]!, rest[i]!));
    if (sig.variadic) for (; i < rest.length; i++) argv.push(this.evalArg(dot, sig.variadic, rest[i]!));
    if (final !== MISSING) {
      const t = numIn - 1 < sig.fixed.length ? sig.fixed[numIn - 1]! : sig.variadic!;
      argv.push(this.validateType(final, t));
    }
    if (name === "call") {
      const callee = rest.length === 0 ? fmtAny(final) : nodeString(rest[0]!);
      argv.unshift({ k: "string", s: callee });
    }
    try {
      return callBuiltin(name, argv);
    } catch (e) {
      if (e instanceof CallError) {
        this.node = cmd;
        this.errorf(`error calling ${name}: ${e.message}`);
      }
      throw e;
    }
  }

  private validateType(value: GV, t: Param): GV {
    if (t !== "string") return value.k === "invalid" && t === "any" ? { k: "iface", v: null } : value;
    if (value.k === "invalid") this.errorf("invalid value; expected string");
    if (value.k === "string") return value;
    if (value.k === "iface" && value.v !== null && value.v.k === "string") return value.v;
    const got = value.k === "iface" && value.v !== null ? typeOf(value.v) : typeOf(value);
    this.errorf(`wrong type for value; expected string; got ${got}`);
  }

  private evalArg(dot: GV, t: Param, n: ArgNode): GV {
    this.node = n;
    switch (n.t) {
      case "dot":
        return this.validateType(dot, t);
      case "nil":
        if (t === "string") this.errorf("cannot assign nil to string");
        return t === "any" ? { k: "iface", v: null } : INVALID;
      case "field":
        return this.validateType(this.evalFieldChain(dot, dot, n, n.ident, [n], MISSING), t);
      case "variable":
        return this.validateType(this.evalVariableNode(dot, n, [], MISSING), t);
      case "pipe":
        return this.validateType(this.evalPipeline(dot, n), t);
      case "identifier":
        return this.validateType(this.evalFunction(dot, n, n, null, MISSING), t);
      case "chain":
        return this.validateType(this.evalChainNode(dot, n, [], MISSING), t);
    }
    if (t === "string") {
      if (n.t === "string") return { k: "string", s: n.text };
      this.errorf(`expected string; found ${nodeString(n)}`);
    }
    switch (n.t) {
      case "bool":
        return boolV(n.val);
      case "number":
        return this.idealConstant(n);
      case "string":
        return { k: "string", s: n.text };
    }
  }
}

/** Parses a template; throws TemplateError with Go's message. */
export function parseTemplate(text: string): Map<string, Tree> {
  const trees = new Map<string, Tree>();
  try {
    new Parser(text, trees).parseTop("template");
  } catch (e) {
    if (e instanceof ParseError) throw new TemplateError(e.message);
    throw e;
  }
  return trees;
}

/** template.New("template").Parse(text).Execute(data); throws TemplateError with Go's message. */
export function renderGoTemplate(text: string, data: Map<string, JD>): string {
  const trees = parseTemplate(text);
  const main = trees.get("template");
  const dot: GV = { k: "map", m: data };
  const sink: Sink = { parts: [], len: 0, steps: 0 };
  const st = new State(text, trees, "template", dot, 0, sink);
  if (!main || !main.root) {
    throw new TemplateError(`template: template: ${quote("template")} is an incomplete or empty template`);
  }
  try {
    st.walk(dot, main.root);
  } catch (e) {
    if (e instanceof ExecError) throw new TemplateError(e.message);
    if (e instanceof BreakSignal || e instanceof ContinueSignal) return sink.parts.join("");
    if (e instanceof RangeError)
      throw new TemplateError("template: template: exceeded maximum template depth (100000)");
    throw e;
  }
  return sink.parts.join("");
}
