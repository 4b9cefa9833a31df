// GraphQL parsing as OPA does it: a port of vektah/gqlparser/v2 (lexer,
// query and schema parser, including its comment attachment), with the AST
// kept in gqlparser's Go shape (Go field names as property names). OPA's
// graphql.* builtins return that AST marshalled to JSON, and accept such
// JSON back, so the JSON side here mirrors encoding/json over those structs:
// Go field names as keys, nil pointers and slices as null, Position fields
// omitted, and decoding with encoding/json's type strictness plus
// gqlparser's own UnmarshalJSON quirks for selections.
import { quote } from "./gofmt.js";

// ---- AST ----

export interface Source {
  Name: string;
  Input: string;
  BuiltIn: boolean;
}
export interface Position {
  Start: number;
  End: number;
  Line: number;
  Column: number;
  Src: Source | null;
}
export interface Comment {
  Value: string;
  Position: Position | null;
}
export interface CommentGroup {
  List: Comment[] | null;
}

export interface QueryDocument {
  Operations: OperationDefinition[] | null;
  Fragments: FragmentDefinition[] | null;
  Position: Position | null;
  Comment: CommentGroup | null;
}
export interface OperationDefinition {
  Operation: string;
  Name: string;
  VariableDefinitions: VariableDefinition[] | null;
  Directives: Directive[] | null;
  SelectionSet: Selection[] | null;
  Position: Position | null;
  Comment: CommentGroup | null;
}
export interface VariableDefinition {
  Variable: string;
  Type: Type | null;
  DefaultValue: Value | null;
  Directives: Directive[] | null;
  Position: Position | null;
  Comment: CommentGroup | null;
  Definition: Definition | null;
  Used: boolean;
}
export interface Field {
  $kind: "Field";
  Alias: string;
  Name: string;
  Arguments: Argument[] | null;
  Directives: Directive[] | null;
  SelectionSet: Selection[] | null;
  Position: Position | null;
  Comment: CommentGroup | null;
  Definition: FieldDefinition | null;
  ObjectDefinition: Definition | null;
}
export interface FragmentSpread {
  $kind: "FragmentSpread";
  Name: string;
  Directives: Directive[] | null;
  ObjectDefinition: Definition | null;
  Definition: FragmentDefinition | null;
  Position: Position | null;
  Comment: CommentGroup | null;
}
export interface InlineFragment {
  $kind: "InlineFragment";
  TypeCondition: string;
  Directives: Directive[] | null;
  SelectionSet: Selection[] | null;
  ObjectDefinition: Definition | null;
  Position: Position | null;
  Comment: CommentGroup | null;
}
export type Selection = Field | FragmentSpread | InlineFragment;
export interface FragmentDefinition {
  Name: string;
  VariableDefinition: VariableDefinition[] | null;
  TypeCondition: string;
  Directives: Directive[] | null;
  SelectionSet: Selection[] | null;
  Definition: Definition | null;
  Position: Position | null;
  Comment: CommentGroup | null;
}
export interface Argument {
  Name: string;
  Value: Value | null;
  Position: Position | null;
  Comment: CommentGroup | null;
}
export interface Directive {
  Name: string;
  Arguments: Argument[] | null;
  Position: Position | null;
  ParentDefinition: Definition | null;
  Definition: DirectiveDefinition | null;
  Location: string;
}
export const enum VK {
  Variable = 0,
  IntValue,
  FloatValue,
  StringValue,
  BlockValue,
  BooleanValue,
  NullValue,
  EnumValue,
  ListValue,
  ObjectValue,
}
export interface Value {
  Raw: string;
  Children: ChildValue[] | null;
  Kind: number;
  Position: Position | null;
  Comment: CommentGroup | null;
  Definition: Definition | null;
  VariableDefinition: VariableDefinition | null;
  ExpectedType: Type | null;
  ExpectedTypeHasDefault: boolean;
}
export interface ChildValue {
  Name: string;
  Value: Value | null;
  Position: Position | null;
  Comment: CommentGroup | null;
}
export interface Type {
  NamedType: string;
  Elem: Type | null;
  NonNull: boolean;
  Position: Position | null;
}

export interface SchemaDocument {
  Schema: SchemaDefinition[] | null;
  SchemaExtension: SchemaDefinition[] | null;
  Directives: DirectiveDefinition[] | null;
  Definitions: Definition[] | null;
  Extensions: Definition[] | null;
  Position: Position | null;
  Comment: CommentGroup | null;
}
export interface SchemaDefinition {
  Description: string;
  Directives: Directive[] | null;
  OperationTypes: OperationTypeDefinition[] | null;
  Position: Position | null;
  BeforeDescriptionComment: CommentGroup | null;
  AfterDescriptionComment: CommentGroup | null;
  EndOfDefinitionComment: CommentGroup | null;
}
export interface OperationTypeDefinition {
  Operation: string;
  Type: string;
  Position: Position | null;
  Comment: CommentGroup | null;
}
export interface Definition {
  Kind: string;
  Description: string;
  Name: string;
  Directives: Directive[] | null;
  Interfaces: string[] | null;
  Fields: FieldDefinition[] | null;
  Types: string[] | null;
  EnumValues: EnumValueDefinition[] | null;
  Position: Position | null;
  BuiltIn: boolean;
  BeforeDescriptionComment: CommentGroup | null;
  AfterDescriptionComment: CommentGroup | null;
  EndOfDefinitionComment: CommentGroup | null;
}
export interface FieldDefinition {
  Description: string;
  Name: string;
  Arguments: ArgumentDefinition[] | null;
  DefaultValue: Value | null;
  Type: Type | null;
  Directives: Directive[] | null;
  Position: Position | null;
  BeforeDescriptionComment: CommentGroup | null;
  AfterDescriptionComment: CommentGroup | null;
}
export interface ArgumentDefinition {
  Description: string;
  Name: string;
  DefaultValue: Value | null;
  Type: Type | null;
  Directives: Directive[] | null;
  Position: Position | null;
  BeforeDescriptionComment: CommentGroup | null;
  AfterDescriptionComment: CommentGroup | null;
}
export interface EnumValueDefinition {
  Description: string;
  Name: string;
  Directives: Directive[] | null;
  Position: Position | null;
  BeforeDescriptionComment: CommentGroup | null;
  AfterDescriptionComment: CommentGroup | null;
}
export interface DirectiveDefinition {
  Description: string;
  Name: string;
  Arguments: ArgumentDefinition[] | null;
  Locations: string[] | null;
  IsRepeatable: boolean;
  Position: Position | null;
  BeforeDescriptionComment: CommentGroup | null;
  AfterDescriptionComment: CommentGroup | null;
}

// Constructors with Go's zero values, so parser code can stay close to the original.
export const newType = (): Type => ({ NamedType: "", Elem: null, NonNull: false, Position: null });
export const newValue = (): Value => ({
  Raw: "",
  Children: null,
  Kind: 0,
  Position: null,
  Comment: null,
  Definition: null,
  VariableDefinition: null,
  ExpectedType: null,
  ExpectedTypeHasDefault: false,
});
export const newDefinition = (): Definition => ({
  Kind: "",
  Description: "",
  Name: "",
  Directives: null,
  Interfaces: null,
  Fields: null,
  Types: null,
  EnumValues: null,
  Position: null,
  BuiltIn: false,
  BeforeDescriptionComment: null,
  AfterDescriptionComment: null,
  EndOfDefinitionComment: null,
});
export const newFieldDefinition = (): FieldDefinition => ({
  Description: "",
  Name: "",
  Arguments: null,
  DefaultValue: null,
  Type: null,
  Directives: null,
  Position: null,
  BeforeDescriptionComment: null,
  AfterDescriptionComment: null,
});
export const newArgumentDefinition = (): ArgumentDefinition => ({
  Description: "",
  Name: "",
  DefaultValue: null,
  Type: null,
  Directives: null,
  Position: null,
  BeforeDescriptionComment: null,
  AfterDescriptionComment: null,
});
export const newSchemaDocument = (): SchemaDocument => ({
  Schema: null,
  SchemaExtension: null,
  Directives: null,
  Definitions: null,
  Extensions: null,
  Position: null,
  Comment: null,
});

/** Type.Name(): the innermost named type (nil-safe where Go would panic). */
export function typeName(t: Type | null): string {
  while (t && t.NamedType === "" && t.Elem) t = t.Elem;
  return t ? t.NamedType : "";
}
/** Type.String() */
export function typeString(t: Type | null): string {
  if (!t) return "";
  const nn = t.NonNull ? "!" : "";
  if (t.NamedType !== "") return t.NamedType + nn;
  return "[" + typeString(t.Elem) + "]" + nn;
}

/** Value.String() */
export function valueString(v: Value | null): string {
  if (!v) return "<nil>";
  switch (v.Kind) {
    case VK.Variable:
      return "$" + v.Raw;
    case VK.StringValue:
    case VK.BlockValue:
      return quote(v.Raw);
    case VK.ListValue:
      return "[" + (v.Children ?? []).map((c) => valueString(c.Value)).join(",") + "]";
    case VK.ObjectValue:
      return "{" + (v.Children ?? []).map((c) => c.Name + ":" + valueString(c.Value)).join(",") + "}";
    default:
      return v.Raw;
  }
}

// ---- errors ----

/** A gqlerror.Error: message plus the first location, printed as Go does ("input:L:C: msg"). */
export class GQLError extends Error {
  constructor(
    readonly msg: string,
    readonly line: number | null = null,
    readonly column: number | null = null,
    readonly file = "",
  ) {
    super(msg);
  }
  text(): string {
    const loc = this.line !== null ? `:${this.line}:${this.column}` : "";
    return `${this.file || "input"}${loc}: ${this.msg}`;
  }
}

// ---- lexer ----

export const enum TK {
  Invalid = 0,
  EOF,
  Bang,
  Dollar,
  Amp,
  ParenL,
  ParenR,
  Spread,
  Colon,
  Equals,
  At,
  BracketL,
  BracketR,
  BraceL,
  BraceR,
  Pipe,
  Name,
  Int,
  Float,
  String,
  BlockString,
  Comment,
}

const TK_STRINGS = [
  "<Invalid>",
  "<EOF>",
  "!",
  "$",
  "&",
  "(",
  ")",
  "...",
  ":",
  "=",
  "@",
  "[",
  "]",
  "{",
  "}",
  "|",
  "Name",
  "Int",
  "Float",
  "String",
  "BlockString",
  "Comment",
];
export const tkString = (t: TK): string => TK_STRINGS[t] ?? "Unknown " + String(t);

interface Token {
  Kind: TK;
  Value: string;
  Pos: Position;
}
const tokenString = (t: Token): string =>
  t.Value !== "" ? tkString(t.Kind) + " " + quote(t.Value) : tkString(t.Kind);

const MAX_INT32 = 2147483647;

function leadingWhitespace(s: string): number {
  for (let i = 0; i < s.length; i++) if (s[i] !== " " && s[i] !== "\t") return i;
  return MAX_INT32;
}

/** The block string dedent from the GraphQL spec, as gqlparser implements it. */
function blockStringValue(raw: string): string {
  const lines = raw.split("\n");
  let common = MAX_INT32;
  for (let i = 1; i < lines.length; i++) {
    const indent = leadingWhitespace(lines[i]!);
    if (indent < lines[i]!.length && indent < common) {
      common = indent;
      if (common === 0) break;
    }
  }
  if (common !== MAX_INT32) {
    for (let i = 1; i < lines.length; i++)
      lines[i] = lines[i]!.length < common ? "" : lines[i]!.slice(common);
  }
  let start = 0;
  let end = lines.length;
  while (start < end && leadingWhitespace(lines[start]!) === MAX_INT32) start++;
  while (start < end && leadingWhitespace(lines[end - 1]!) === MAX_INT32) end--;
  return lines.slice(start, end).join("\n");
}

// Go prints these with %04d of the byte value: decimal, despite the \u.
const badChar = (c: number): string => "\\u" + String(c).padStart(4, "0");

class Lexer {
  private start = 0;
  private startRunes = 0;
  private end = 0;
  private endRunes = 0;
  private line = 1;
  private lineStartRunes = 0;
  private readonly input: string;

  constructor(private readonly src: Source) {
    this.input = src.Input;
  }

  private pos(startRunes: number, endRunes: number, column: number): Position {
    return { Start: startRunes, End: endRunes, Line: this.line, Column: column, Src: this.src };
  }
  private makeValueToken(kind: TK, value: string): Token {
    return {
      Kind: kind,
      Value: value,
      Pos: this.pos(this.startRunes, this.endRunes, this.startRunes - this.lineStartRunes + 1),
    };
  }
  private makeToken(kind: TK): Token {
    return this.makeValueToken(kind, this.input.slice(this.start, this.end));
  }
  private makeError(msg: string): [Token, GQLError] {
    const column = this.endRunes - this.lineStartRunes + 1;
    return [
      { Kind: TK.Invalid, Value: "", Pos: this.pos(this.startRunes, this.endRunes, column) },
      new GQLError(msg, this.line, column, this.src.Name),
    ];
  }
  /** Advances over one code point; returns it. */
  private advance(): string {
    const cp = this.input.codePointAt(this.end)!;
    const ch = String.fromCodePoint(cp);
    this.end += ch.length;
    this.endRunes++;
    return ch;
  }

  private ws(): void {
    for (;;) {
      const c = this.input[this.end];
      if (c === "\t" || c === " " || c === ",") {
        this.end++;
        this.endRunes++;
      } else if (c === "\n") {
        this.end++;
        this.endRunes++;
        this.line++;
        this.lineStartRunes = this.endRunes;
      } else if (c === "\r") {
        this.end++;
        this.endRunes++;
        this.line++;
        this.lineStartRunes = this.endRunes;
        if (this.input[this.end] === "\n") {
          this.end++;
          this.endRunes++;
        }
      } else if (c === "\ufeff") {
        this.end++;
        this.endRunes++;
      } else return;
    }
  }

  readToken(): [Token, GQLError | null] {
    this.ws();
    this.start = this.end;
    this.startRunes = this.endRunes;
    if (this.end >= this.input.length) return [this.makeToken(TK.EOF), null];
    const r = this.input[this.start]!;
    this.end++;
    this.endRunes++;
    const simple: Record<string, TK> = {
      "!": TK.Bang,
      $: TK.Dollar,
      "&": TK.Amp,
      "(": TK.ParenL,
      ")": TK.ParenR,
      ":": TK.Colon,
      "=": TK.Equals,
      "@": TK.At,
      "[": TK.BracketL,
      "]": TK.BracketR,
      "{": TK.BraceL,
      "}": TK.BraceR,
      "|": TK.Pipe,
    };
    const s = simple[r];
    if (s !== undefined) return [this.makeValueToken(s, ""), null];
    if (r === "." && this.input.startsWith("...", this.start)) {
      this.end += 2;
      this.endRunes += 2;
      return [this.makeValueToken(TK.Spread, ""), null];
    }
    if (r === "#") return [this.readComment(), null];
    if (/[_A-Za-z]/.test(r)) return this.readName();
    if (/[-0-9]/.test(r)) return this.readNumber();
    if (r === '"') {
      if (this.input.startsWith('"""', this.start)) return this.readBlockString();
      return this.readString();
    }
    this.end--;
    this.endRunes--;
    const code = r.charCodeAt(0);
    if (code < 0x20 && r !== "\t" && r !== "\n" && r !== "\r") {
      return this.makeError(`Cannot contain the invalid character "${badChar(code)}"`);
    }
    if (r === "'") {
      return this.makeError(`Unexpected single quote character ('), did you mean to use a double quote (")?`);
    }
    // Go formats the first byte as a rune, so non-ASCII shows as Latin-1.
    const firstByte = Buffer.from(String.fromCodePoint(this.input.codePointAt(this.start)!), "utf8")[0]!;
    return this.makeError(`Cannot parse the unexpected character "${String.fromCharCode(firstByte)}".`);
  }

  private readComment(): Token {
    while (this.end < this.input.length) {
      const cp = this.input.codePointAt(this.end)!;
      if (cp > 0x1f || cp === 9) this.advance();
      else break;
    }
    return this.makeToken(TK.Comment);
  }

  private readName(): [Token, null] {
    while (this.end < this.input.length && /[_0-9A-Za-z]/.test(this.input[this.end]!)) {
      this.end++;
      this.endRunes++;
    }
    return [this.makeToken(TK.Name), null];
  }

  private acceptByte(...bytes: string[]): boolean {
    if (this.end >= this.input.length) return false;
    if (bytes.includes(this.input[this.end]!)) {
      this.end++;
      this.endRunes++;
      return true;
    }
    return false;
  }
  private acceptDigits(): number {
    let n = 0;
    while (this.end < this.input.length && this.input[this.end]! >= "0" && this.input[this.end]! <= "9") {
      this.end++;
      this.endRunes++;
      n++;
    }
    return n;
  }
  private describeNext(): string {
    if (this.end < this.input.length) {
      const b = Buffer.from(String.fromCodePoint(this.input.codePointAt(this.end)!), "utf8")[0]!;
      return '"' + String.fromCharCode(b) + '"';
    }
    return "<EOF>";
  }

  private readNumber(): [Token, GQLError | null] {
    let float = false;
    this.end--;
    this.endRunes--;
    this.acceptByte("-");
    if (this.acceptByte("0")) {
      const consumed = this.acceptDigits();
      if (consumed !== 0) {
        this.end -= consumed;
        this.endRunes -= consumed;
        return this.makeError(`Invalid number, unexpected digit after 0: ${this.describeNext()}.`);
      }
    } else if (this.acceptDigits() === 0) {
      return this.makeError(`Invalid number, expected digit but got: ${this.describeNext()}.`);
    }
    if (this.acceptByte(".")) {
      float = true;
      if (this.acceptDigits() === 0) {
        return this.makeError(`Invalid number, expected digit but got: ${this.describeNext()}.`);
      }
    }
    if (this.acceptByte("e", "E")) {
      float = true;
      this.acceptByte("-", "+");
      if (this.acceptDigits() === 0) {
        return this.makeError(`Invalid number, expected digit but got: ${this.describeNext()}.`);
      }
    }
    return [this.makeToken(float ? TK.Float : TK.Int), null];
  }

  private readString(): [Token, GQLError | null] {
    const input = this.input;
    let buf: string | null = null;
    this.start++;
    this.startRunes++;
    while (this.end < input.length) {
      const r = input[this.end]!;
      if (r === "\n" || r === "\r") break;
      const code = r.charCodeAt(0);
      if (code < 0x20 && r !== "\t")
        return this.makeError(`Invalid character within String: "${badChar(code)}".`);
      if (r === '"') {
        const t = this.makeToken(TK.String);
        t.Pos.Start--;
        t.Pos.End++;
        if (buf !== null) t.Value = buf;
        this.end++;
        this.endRunes++;
        return [t, null];
      }
      if (r === "\\") {
        if (this.end + 1 >= input.length) {
          this.end++;
          this.endRunes++;
          return this.makeError("Invalid character escape sequence.");
        }
        if (buf === null) buf = input.slice(this.start, this.end);
        const esc = input[this.end + 1]!;
        if (esc === "u") {
          if (this.end + 6 >= input.length) {
            this.end++;
            this.endRunes++;
            return this.makeError(`Invalid character escape sequence: \\${input.slice(this.end)}.`);
          }
          const hex = input.slice(this.end + 2, this.end + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.end++;
            this.endRunes++;
            return this.makeError(
              `Invalid character escape sequence: \\${input.slice(this.end, this.end + 5)}.`,
            );
          }
          const cp = parseInt(hex, 16);
          // utf8 cannot encode a lone surrogate: Go writes U+FFFD.
          buf += cp >= 0xd800 && cp <= 0xdfff ? "\ufffd" : String.fromCharCode(cp);
          this.end += 6;
          this.endRunes += 6;
        } else {
          const map: Record<string, string> = {
            '"': '"',
            "/": "/",
            "\\": "\\",
            b: "\b",
            f: "\f",
            n: "\n",
            r: "\r",
            t: "\t",
          };
          const m = map[esc];
          if (m === undefined) {
            this.end++;
            this.endRunes++;
            return this.makeError(`Invalid character escape sequence: \\${esc}.`);
          }
          buf += m;
          this.end += 2;
          this.endRunes += 2;
        }
        continue;
      }
      const ch = this.advance();
      if (buf !== null) buf += ch;
    }
    return this.makeError("Unterminated string.");
  }

  private readBlockString(): [Token, GQLError | null] {
    const input = this.input;
    let buf = "";
    this.start += 3;
    this.startRunes += 3;
    this.end += 2;
    this.endRunes += 2;
    while (this.end < input.length) {
      const r = input[this.end]!;
      if (r === '"' && input.startsWith('"""', this.end)) {
        const t = this.makeValueToken(TK.BlockString, blockStringValue(buf));
        t.Pos.Start -= 3;
        t.Pos.End += 3;
        this.end += 3;
        this.endRunes += 3;
        return [t, null];
      }
      const code = r.charCodeAt(0);
      if (code < 0x20 && r !== "\t" && r !== "\n" && r !== "\r") {
        return this.makeError(`Invalid character within String: "${badChar(code)}".`);
      }
      if (r === "\\" && input.startsWith('\\"""', this.end)) {
        buf += '"""';
        this.end += 4;
        this.endRunes += 4;
      } else if (r === "\r") {
        if (input[this.end + 1] === "\n") {
          this.end++;
          this.endRunes++;
        }
        buf += "\n";
        this.end++;
        this.endRunes++;
        this.line++;
        this.lineStartRunes = this.endRunes;
      } else {
        buf += this.advance();
        if (r === "\n") {
          this.line++;
          this.lineStartRunes = this.endRunes;
        }
      }
    }
    return this.makeError("Unterminated string.");
  }
}

// ---- parser ----

const ZERO_TOKEN: Token = {
  Kind: TK.Invalid,
  Value: "",
  Pos: { Start: 0, End: 0, Line: 0, Column: 0, Src: null },
};

class Parser {
  private lexer: Lexer;
  err: GQLError | null = null;
  private peeked = false;
  private peekToken: Token = ZERO_TOKEN;
  private peekError: GQLError | null = null;
  private prev: Token = ZERO_TOKEN;
  private comment: CommentGroup | null = null;
  private commentConsuming = false;

  constructor(src: Source) {
    this.lexer = new Lexer(src);
  }

  private consumeComment(): Comment | null {
    if (this.err) return null;
    const tok = this.peek();
    if (tok.Kind !== TK.Comment) return null;
    this.next();
    return { Value: tok.Value, Position: tok.Pos };
  }
  private consumeCommentGroup(): void {
    if (this.err || this.commentConsuming) return;
    this.commentConsuming = true;
    const comments: Comment[] = [];
    for (;;) {
      const c = this.consumeComment();
      if (!c) break;
      comments.push(c);
    }
    this.comment = { List: comments.length ? comments : null };
    this.commentConsuming = false;
  }

  private peekPos(): Position | null {
    if (this.err) return null;
    return this.peek().Pos;
  }
  peek(): Token {
    if (this.err) return this.prev;
    if (!this.peeked) {
      [this.peekToken, this.peekError] = this.lexer.readToken();
      this.peeked = true;
      if (this.peekToken.Kind === TK.Comment) this.consumeCommentGroup();
    }
    return this.peekToken;
  }
  private error(tok: Token, msg: string): void {
    if (this.err) return;
    this.err = new GQLError(msg, tok.Pos.Line, tok.Pos.Column, tok.Pos.Src?.Name ?? "");
  }
  next(): Token {
    if (this.err) return this.prev;
    if (this.peeked) {
      this.peeked = false;
      this.comment = null;
      this.prev = this.peekToken;
      this.err = this.peekError;
    } else {
      [this.prev, this.err] = this.lexer.readToken();
      if (this.prev.Kind === TK.Comment) this.consumeCommentGroup();
    }
    return this.prev;
  }
  private expectKeyword(value: string): [Token, CommentGroup | null] {
    const tok = this.peek();
    const comment = this.comment;
    if (tok.Kind === TK.Name && tok.Value === value) return [this.next(), comment];
    this.error(tok, `Expected ${quote(value)}, found ${tokenString(tok)}`);
    return [tok, comment];
  }
  private expect(kind: TK): [Token, CommentGroup | null] {
    const tok = this.peek();
    const comment = this.comment;
    if (tok.Kind === kind) return [this.next(), comment];
    this.error(tok, `Expected ${tkString(kind)}, found ${tkString(tok.Kind)}`);
    return [tok, comment];
  }
  private skip(kind: TK): boolean {
    if (this.err) return false;
    if (this.peek().Kind !== kind) return false;
    this.next();
    return true;
  }
  private unexpectedError(): void {
    this.unexpectedToken(this.peek());
  }
  private unexpectedToken(tok: Token): void {
    this.error(tok, `Unexpected ${tokenString(tok)}`);
  }
  private many(start: TK, end: TK, cb: () => void): void {
    if (!this.skip(start)) return;
    while (this.peek().Kind !== end && !this.err) cb();
    this.next();
  }
  private some(start: TK, end: TK, cb: () => void): CommentGroup | null {
    if (!this.skip(start)) return null;
    let called = false;
    while (this.peek().Kind !== end && !this.err) {
      called = true;
      cb();
    }
    if (!called) {
      this.error(this.peek(), `expected at least one definition, found ${tkString(this.peek().Kind)}`);
      return null;
    }
    const comment = this.comment;
    this.next();
    return comment;
  }

  // -- query --

  parseQueryDocument(): QueryDocument {
    const doc: QueryDocument = { Operations: null, Fragments: null, Position: null, Comment: null };
    while (this.peek().Kind !== TK.EOF) {
      if (this.err) return doc;
      doc.Position = this.peekPos();
      const t = this.peek();
      if (t.Kind === TK.Name) {
        switch (t.Value) {
          case "query":
          case "mutation":
          case "subscription":
            (doc.Operations ??= []).push(this.parseOperationDefinition());
            break;
          case "fragment":
            (doc.Fragments ??= []).push(this.parseFragmentDefinition());
            break;
          default:
            this.unexpectedError();
        }
      } else if (t.Kind === TK.BraceL) {
        (doc.Operations ??= []).push(this.parseOperationDefinition());
      } else this.unexpectedError();
    }
    return doc;
  }

  private parseOperationDefinition(): OperationDefinition {
    const od: OperationDefinition = {
      Operation: "",
      Name: "",
      VariableDefinitions: null,
      Directives: null,
      SelectionSet: null,
      Position: null,
      Comment: null,
    };
    if (this.peek().Kind === TK.BraceL) {
      od.Position = this.peekPos();
      od.Comment = this.comment;
      od.Operation = "query";
      od.SelectionSet = this.parseRequiredSelectionSet();
      return od;
    }
    od.Position = this.peekPos();
    od.Comment = this.comment;
    od.Operation = this.parseOperationType();
    if (this.peek().Kind === TK.Name) od.Name = this.next().Value;
    od.VariableDefinitions = this.parseVariableDefinitions();
    od.Directives = this.parseDirectives(false);
    od.SelectionSet = this.parseRequiredSelectionSet();
    return od;
  }

  private parseOperationType(): string {
    const tok = this.next();
    if (tok.Value === "query" || tok.Value === "mutation" || tok.Value === "subscription") return tok.Value;
    this.unexpectedToken(tok);
    return "";
  }

  private parseVariableDefinitions(): VariableDefinition[] | null {
    let defs: VariableDefinition[] | null = null;
    this.many(TK.ParenL, TK.ParenR, () => (defs ??= []).push(this.parseVariableDefinition()));
    return defs;
  }

  private parseVariableDefinition(): VariableDefinition {
    const def: VariableDefinition = {
      Variable: "",
      Type: null,
      DefaultValue: null,
      Directives: null,
      Position: this.peekPos(),
      Comment: this.comment,
      Definition: null,
      Used: false,
    };
    def.Variable = this.parseVariable();
    this.expect(TK.Colon);
    def.Type = this.parseTypeReference();
    if (this.skip(TK.Equals)) def.DefaultValue = this.parseValueLiteral(true);
    def.Directives = this.parseDirectives(false);
    return def;
  }

  private parseVariable(): string {
    this.expect(TK.Dollar);
    return this.parseName();
  }

  private parseSelectionSet(): Selection[] | null {
    let selections: Selection[] | null = null;
    this.some(TK.BraceL, TK.BraceR, () => (selections ??= []).push(this.parseSelection()));
    return selections;
  }

  private parseRequiredSelectionSet(): Selection[] | null {
    if (this.peek().Kind !== TK.BraceL) {
      this.error(this.peek(), `Expected ${tkString(TK.BraceL)}, found ${tkString(this.peek().Kind)}`);
      return null;
    }
    return this.parseSelectionSet();
  }

  private parseSelection(): Selection {
    if (this.peek().Kind === TK.Spread) return this.parseFragment();
    return this.parseField();
  }

  private parseField(): Field {
    const field: Field = {
      $kind: "Field",
      Alias: "",
      Name: "",
      Arguments: null,
      Directives: null,
      SelectionSet: null,
      Position: this.peekPos(),
      Comment: this.comment,
      Definition: null,
      ObjectDefinition: null,
    };
    field.Alias = this.parseName();
    field.Name = this.skip(TK.Colon) ? this.parseName() : field.Alias;
    field.Arguments = this.parseArguments(false);
    field.Directives = this.parseDirectives(false);
    if (this.peek().Kind === TK.BraceL) field.SelectionSet = this.parseSelectionSet();
    return field;
  }

  private parseArguments(isConst: boolean): Argument[] | null {
    let args: Argument[] | null = null;
    this.many(TK.ParenL, TK.ParenR, () => (args ??= []).push(this.parseArgument(isConst)));
    return args;
  }

  private parseArgument(isConst: boolean): Argument {
    const arg: Argument = { Name: "", Value: null, Position: this.peekPos(), Comment: this.comment };
    arg.Name = this.parseName();
    this.expect(TK.Colon);
    arg.Value = this.parseValueLiteral(isConst);
    return arg;
  }

  private parseFragment(): Selection {
    const [, comment] = this.expect(TK.Spread);
    const peek = this.peek();
    if (peek.Kind === TK.Name && peek.Value !== "on") {
      const pos = this.peekPos();
      const name = this.parseFragmentName();
      return {
        $kind: "FragmentSpread",
        Name: name,
        Directives: this.parseDirectives(false),
        ObjectDefinition: null,
        Definition: null,
        Position: pos,
        Comment: comment,
      };
    }
    const def: InlineFragment = {
      $kind: "InlineFragment",
      TypeCondition: "",
      Directives: null,
      SelectionSet: null,
      ObjectDefinition: null,
      Position: this.peekPos(),
      Comment: comment,
    };
    if (this.peek().Value === "on") {
      this.next();
      def.TypeCondition = this.parseName();
    }
    def.Directives = this.parseDirectives(false);
    def.SelectionSet = this.parseRequiredSelectionSet();
    return def;
  }

  private parseFragmentDefinition(): FragmentDefinition {
    const def: FragmentDefinition = {
      Name: "",
      VariableDefinition: null,
      TypeCondition: "",
      Directives: null,
      SelectionSet: null,
      Definition: null,
      Position: this.peekPos(),
      Comment: this.comment,
    };
    this.expectKeyword("fragment");
    def.Name = this.parseFragmentName();
    def.VariableDefinition = this.parseVariableDefinitions();
    this.expectKeyword("on");
    def.TypeCondition = this.parseName();
    def.Directives = this.parseDirectives(false);
    def.SelectionSet = this.parseRequiredSelectionSet();
    return def;
  }

  private parseFragmentName(): string {
    if (this.peek().Value === "on") {
      this.unexpectedError();
      return "";
    }
    return this.parseName();
  }

  parseValueLiteral(isConst: boolean): Value | null {
    const token = this.peek();
    let kind: VK;
    switch (token.Kind) {
      case TK.BracketL:
        return this.parseList(isConst);
      case TK.BraceL:
        return this.parseObject(isConst);
      case TK.Dollar: {
        if (isConst) {
          this.unexpectedError();
          return null;
        }
        const v = newValue();
        v.Position = token.Pos;
        v.Comment = this.comment;
        v.Raw = this.parseVariable();
        v.Kind = VK.Variable;
        return v;
      }
      case TK.Int:
        kind = VK.IntValue;
        break;
      case TK.Float:
        kind = VK.FloatValue;
        break;
      case TK.String:
        kind = VK.StringValue;
        break;
      case TK.BlockString:
        kind = VK.BlockValue;
        break;
      case TK.Name:
        kind =
          token.Value === "true" || token.Value === "false"
            ? VK.BooleanValue
            : token.Value === "null"
              ? VK.NullValue
              : VK.EnumValue;
        break;
      default:
        this.unexpectedError();
        return null;
    }
    this.next();
    const v = newValue();
    v.Position = token.Pos;
    // Read after next(), as gqlparser does: next() has just cleared it.
    v.Comment = this.comment;
    v.Raw = token.Value;
    v.Kind = kind;
    return v;
  }

  private parseList(isConst: boolean): Value {
    let values: ChildValue[] | null = null;
    const pos = this.peekPos();
    const comment = this.comment;
    this.many(TK.BracketL, TK.BracketR, () =>
      (values ??= []).push({
        Name: "",
        Value: this.parseValueLiteral(isConst),
        Position: null,
        Comment: null,
      }),
    );
    const v = newValue();
    v.Children = values;
    v.Kind = VK.ListValue;
    v.Position = pos;
    v.Comment = comment;
    return v;
  }

  private parseObject(isConst: boolean): Value {
    let fields: ChildValue[] | null = null;
    const pos = this.peekPos();
    const comment = this.comment;
    this.many(TK.BraceL, TK.BraceR, () => (fields ??= []).push(this.parseObjectField(isConst)));
    const v = newValue();
    v.Children = fields;
    v.Kind = VK.ObjectValue;
    v.Position = pos;
    v.Comment = comment;
    return v;
  }

  private parseObjectField(isConst: boolean): ChildValue {
    const field: ChildValue = { Name: "", Value: null, Position: this.peekPos(), Comment: this.comment };
    field.Name = this.parseName();
    this.expect(TK.Colon);
    field.Value = this.parseValueLiteral(isConst);
    return field;
  }

  private parseDirectives(isConst: boolean): Directive[] | null {
    let directives: Directive[] | null = null;
    while (this.peek().Kind === TK.At) {
      if (this.err) break;
      (directives ??= []).push(this.parseDirective(isConst));
    }
    return directives;
  }

  private parseDirective(isConst: boolean): Directive {
    this.expect(TK.At);
    const pos = this.peekPos();
    const name = this.parseName();
    return {
      Name: name,
      Arguments: this.parseArguments(isConst),
      Position: pos,
      ParentDefinition: null,
      Definition: null,
      Location: "",
    };
  }

  private parseTypeReference(): Type {
    const typ = newType();
    if (this.skip(TK.BracketL)) {
      typ.Position = this.peekPos();
      typ.Elem = this.parseTypeReference();
      this.expect(TK.BracketR);
    } else {
      typ.Position = this.peekPos();
      typ.NamedType = this.parseName();
    }
    if (this.skip(TK.Bang)) typ.NonNull = true;
    return typ;
  }

  private parseName(): string {
    return this.expect(TK.Name)[0].Value;
  }

  // -- schema --

  parseSchemaDocument(): SchemaDocument | null {
    const doc = newSchemaDocument();
    doc.Position = this.peekPos();
    while (this.peek().Kind !== TK.EOF) {
      if (this.err) return null;
      let description: Desc = { text: "", comment: null };
      if (this.peek().Kind === TK.BlockString || this.peek().Kind === TK.String) {
        description = this.parseDescription();
      }
      if (this.peek().Kind !== TK.Name) {
        this.unexpectedError();
        break;
      }
      switch (this.peek().Value) {
        case "scalar":
        case "type":
        case "interface":
        case "union":
        case "enum":
        case "input":
          (doc.Definitions ??= []).push(this.parseTypeSystemDefinition(description)!);
          break;
        case "schema":
          (doc.Schema ??= []).push(this.parseSchemaDefinition(description));
          break;
        case "directive":
          (doc.Directives ??= []).push(this.parseDirectiveDefinition(description));
          break;
        case "extend":
          if (description.text !== "") this.unexpectedToken(this.prev);
          this.parseTypeSystemExtension(doc);
          break;
        default:
          this.unexpectedError();
          return null;
      }
    }
    doc.Comment = this.comment;
    return doc;
  }

  private parseDescription(): Desc {
    const token = this.peek();
    if (token.Kind !== TK.BlockString && token.Kind !== TK.String) return { text: "", comment: null };
    const comment = this.comment;
    return { comment, text: this.next().Value };
  }

  private parseTypeSystemDefinition(d: Desc): Definition | null {
    const tok = this.peek();
    if (tok.Kind !== TK.Name) {
      this.unexpectedError();
      return null;
    }
    switch (tok.Value) {
      case "scalar":
        return this.parseTypeDef(d, "scalar", "SCALAR");
      case "type":
        return this.parseTypeDef(d, "type", "OBJECT");
      case "interface":
        return this.parseTypeDef(d, "interface", "INTERFACE");
      case "union":
        return this.parseTypeDef(d, "union", "UNION");
      case "enum":
        return this.parseTypeDef(d, "enum", "ENUM");
      case "input":
        return this.parseTypeDef(d, "input", "INPUT_OBJECT");
    }
    this.unexpectedError();
    return null;
  }

  /** The six type definitions share a shape; what differs is which parts they parse. */
  private parseTypeDef(d: Desc, keyword: string, kind: string): Definition {
    const [, comment] = this.expectKeyword(keyword);
    const def = newDefinition();
    def.Position = this.peekPos();
    def.Kind = kind;
    def.BeforeDescriptionComment = d.comment;
    def.Description = d.text;
    def.AfterDescriptionComment = comment;
    def.Name = this.parseName();
    switch (kind) {
      case "SCALAR":
        def.Directives = this.parseDirectives(true);
        break;
      case "OBJECT":
      case "INTERFACE":
        def.Interfaces = this.parseImplementsInterfaces();
        def.Directives = this.parseDirectives(true);
        [def.Fields, def.EndOfDefinitionComment] = this.parseFieldsDefinition();
        break;
      case "UNION":
        def.Directives = this.parseDirectives(true);
        def.Types = this.parseUnionMemberTypes();
        break;
      case "ENUM":
        def.Directives = this.parseDirectives(true);
        [def.EnumValues, def.EndOfDefinitionComment] = this.parseEnumValuesDefinition();
        break;
      case "INPUT_OBJECT":
        def.Directives = this.parseDirectives(true);
        [def.Fields, def.EndOfDefinitionComment] = this.parseInputFieldsDefinition();
        break;
    }
    return def;
  }

  private parseSchemaDefinition(d: Desc): SchemaDefinition {
    const [, comment] = this.expectKeyword("schema");
    const def: SchemaDefinition = {
      Description: d.text,
      Directives: null,
      OperationTypes: null,
      Position: this.peekPos(),
      BeforeDescriptionComment: d.comment,
      AfterDescriptionComment: comment,
      EndOfDefinitionComment: null,
    };
    def.Directives = this.parseDirectives(true);
    def.EndOfDefinitionComment = this.some(TK.BraceL, TK.BraceR, () =>
      (def.OperationTypes ??= []).push(this.parseOperationTypeDefinition()),
    );
    return def;
  }

  private parseOperationTypeDefinition(): OperationTypeDefinition {
    const op: OperationTypeDefinition = {
      Operation: "",
      Type: "",
      Position: this.peekPos(),
      Comment: this.comment,
    };
    op.Operation = this.parseOperationType();
    this.expect(TK.Colon);
    op.Type = this.parseName();
    return op;
  }

  private parseImplementsInterfaces(): string[] | null {
    let types: string[] | null = null;
    if (this.peek().Value === "implements") {
      this.next();
      this.skip(TK.Amp);
      types = [this.parseName()];
      while (this.skip(TK.Amp) && !this.err) types.push(this.parseName());
    }
    return types;
  }

  private parseFieldsDefinition(): [FieldDefinition[] | null, CommentGroup | null] {
    let defs: FieldDefinition[] | null = null;
    const comment = this.some(TK.BraceL, TK.BraceR, () => (defs ??= []).push(this.parseFieldDefinition()));
    return [defs, comment];
  }

  private parseFieldDefinition(): FieldDefinition {
    const def = newFieldDefinition();
    def.Position = this.peekPos();
    const desc = this.parseDescription();
    if (desc.text !== "") {
      def.BeforeDescriptionComment = desc.comment;
      def.Description = desc.text;
    }
    this.peek();
    def.AfterDescriptionComment = this.comment;
    def.Name = this.parseName();
    def.Arguments = this.parseArgumentDefs();
    this.expect(TK.Colon);
    def.Type = this.parseTypeReference();
    def.Directives = this.parseDirectives(true);
    return def;
  }

  private parseArgumentDefs(): ArgumentDefinition[] | null {
    let args: ArgumentDefinition[] | null = null;
    this.some(TK.ParenL, TK.ParenR, () => (args ??= []).push(this.parseArgumentDef()));
    return args;
  }

  private parseArgumentDef(): ArgumentDefinition {
    const def = newArgumentDefinition();
    def.Position = this.peekPos();
    const desc = this.parseDescription();
    if (desc.text !== "") {
      def.BeforeDescriptionComment = desc.comment;
      def.Description = desc.text;
    }
    this.peek();
    def.AfterDescriptionComment = this.comment;
    def.Name = this.parseName();
    this.expect(TK.Colon);
    def.Type = this.parseTypeReference();
    if (this.skip(TK.Equals)) def.DefaultValue = this.parseValueLiteral(true);
    def.Directives = this.parseDirectives(true);
    return def;
  }

  private parseInputValueDef(): FieldDefinition {
    const def = newFieldDefinition();
    def.Position = this.peekPos();
    const desc = this.parseDescription();
    if (desc.text !== "") {
      def.BeforeDescriptionComment = desc.comment;
      def.Description = desc.text;
    }
    this.peek();
    def.AfterDescriptionComment = this.comment;
    def.Name = this.parseName();
    this.expect(TK.Colon);
    def.Type = this.parseTypeReference();
    if (this.skip(TK.Equals)) def.DefaultValue = this.parseValueLiteral(true);
    def.Directives = this.parseDirectives(true);
    return def;
  }

  private parseUnionMemberTypes(): string[] | null {
    let types: string[] | null = null;
    if (this.skip(TK.Equals)) {
      this.skip(TK.Pipe);
      types = [this.parseName()];
      while (this.skip(TK.Pipe) && !this.err) types.push(this.parseName());
    }
    return types;
  }

  private parseEnumValuesDefinition(): [EnumValueDefinition[] | null, CommentGroup | null] {
    let values: EnumValueDefinition[] | null = null;
    const comment = this.some(TK.BraceL, TK.BraceR, () =>
      (values ??= []).push(this.parseEnumValueDefinition()),
    );
    return [values, comment];
  }

  private parseEnumValueDefinition(): EnumValueDefinition {
    const def: EnumValueDefinition = {
      Description: "",
      Name: "",
      Directives: null,
      Position: this.peekPos(),
      BeforeDescriptionComment: null,
      AfterDescriptionComment: null,
    };
    const desc = this.parseDescription();
    if (desc.text !== "") {
      def.BeforeDescriptionComment = desc.comment;
      def.Description = desc.text;
    }
    this.peek();
    def.AfterDescriptionComment = this.comment;
    def.Name = this.parseName();
    def.Directives = this.parseDirectives(true);
    return def;
  }

  private parseInputFieldsDefinition(): [FieldDefinition[] | null, CommentGroup | null] {
    let values: FieldDefinition[] | null = null;
    const comment = this.some(TK.BraceL, TK.BraceR, () => (values ??= []).push(this.parseInputValueDef()));
    return [values, comment];
  }

  private parseTypeSystemExtension(doc: SchemaDocument): void {
    const [, comment] = this.expectKeyword("extend");
    const kw = this.peek().Value;
    if (kw === "schema") {
      (doc.SchemaExtension ??= []).push(this.parseSchemaExtension(comment));
      return;
    }
    const kinds: Record<string, string> = {
      scalar: "SCALAR",
      type: "OBJECT",
      interface: "INTERFACE",
      union: "UNION",
      enum: "ENUM",
      input: "INPUT_OBJECT",
    };
    const kind = kinds[kw];
    if (kind === undefined) {
      this.unexpectedError();
      return;
    }
    (doc.Extensions ??= []).push(this.parseTypeExtension(comment, kw, kind));
  }

  private parseSchemaExtension(comment: CommentGroup | null): SchemaDefinition {
    this.expectKeyword("schema");
    const def: SchemaDefinition = {
      Description: "",
      Directives: null,
      OperationTypes: null,
      Position: this.peekPos(),
      BeforeDescriptionComment: null,
      AfterDescriptionComment: comment,
      EndOfDefinitionComment: null,
    };
    def.Directives = this.parseDirectives(true);
    def.EndOfDefinitionComment = this.some(TK.BraceL, TK.BraceR, () =>
      (def.OperationTypes ??= []).push(this.parseOperationTypeDefinition()),
    );
    if (!def.Directives?.length && !def.OperationTypes?.length) this.unexpectedError();
    return def;
  }

  private parseTypeExtension(comment: CommentGroup | null, keyword: string, kind: string): Definition {
    this.expectKeyword(keyword);
    const def = newDefinition();
    def.Position = this.peekPos();
    def.AfterDescriptionComment = comment;
    def.Kind = kind;
    def.Name = this.parseName();
    let empty: boolean;
    switch (kind) {
      case "SCALAR":
        def.Directives = this.parseDirectives(true);
        empty = !def.Directives?.length;
        break;
      case "OBJECT":
        def.Interfaces = this.parseImplementsInterfaces();
        def.Directives = this.parseDirectives(true);
        [def.Fields, def.EndOfDefinitionComment] = this.parseFieldsDefinition();
        empty = !def.Interfaces?.length && !def.Directives?.length && !def.Fields?.length;
        break;
      case "INTERFACE":
        def.Directives = this.parseDirectives(true);
        [def.Fields, def.EndOfDefinitionComment] = this.parseFieldsDefinition();
        empty = !def.Directives?.length && !def.Fields?.length;
        break;
      case "UNION":
        def.Directives = this.parseDirectives(true);
        def.Types = this.parseUnionMemberTypes();
        empty = !def.Directives?.length && !def.Types?.length;
        break;
      case "ENUM":
        def.Directives = this.parseDirectives(true);
        [def.EnumValues, def.EndOfDefinitionComment] = this.parseEnumValuesDefinition();
        empty = !def.Directives?.length && !def.EnumValues?.length;
        break;
      default:
        def.Directives = this.parseDirectives(false);
        [def.Fields, def.EndOfDefinitionComment] = this.parseInputFieldsDefinition();
        empty = !def.Directives?.length && !def.Fields?.length;
    }
    if (empty) this.unexpectedError();
    return def;
  }

  private parseDirectiveDefinition(d: Desc): DirectiveDefinition {
    const [, comment] = this.expectKeyword("directive");
    this.expect(TK.At);
    const def: DirectiveDefinition = {
      Description: d.text,
      Name: "",
      Arguments: null,
      Locations: null,
      IsRepeatable: false,
      Position: this.peekPos(),
      BeforeDescriptionComment: d.comment,
      AfterDescriptionComment: comment,
    };
    def.Name = this.parseName();
    def.Arguments = this.parseArgumentDefs();
    const peek = this.peek();
    if (peek.Kind === TK.Name && peek.Value === "repeatable") {
      def.IsRepeatable = true;
      this.skip(TK.Name);
    }
    this.expectKeyword("on");
    def.Locations = this.parseDirectiveLocations();
    return def;
  }

  private parseDirectiveLocations(): string[] {
    this.skip(TK.Pipe);
    const locations = [this.parseDirectiveLocation()];
    while (this.skip(TK.Pipe) && !this.err) locations.push(this.parseDirectiveLocation());
    return locations;
  }

  private parseDirectiveLocation(): string {
    const [name] = this.expect(TK.Name);
    if (DIRECTIVE_LOCATIONS.has(name.Value)) return name.Value;
    this.unexpectedToken(name);
    return "";
  }
}

interface Desc {
  text: string;
  comment: CommentGroup | null;
}

const DIRECTIVE_LOCATIONS = new Set([
  "QUERY",
  "MUTATION",
  "SUBSCRIPTION",
  "FIELD",
  "FRAGMENT_DEFINITION",
  "FRAGMENT_SPREAD",
  "INLINE_FRAGMENT",
  "VARIABLE_DEFINITION",
  "SCHEMA",
  "SCALAR",
  "OBJECT",
  "FIELD_DEFINITION",
  "ARGUMENT_DEFINITION",
  "INTERFACE",
  "UNION",
  "ENUM",
  "ENUM_VALUE",
  "INPUT_OBJECT",
  "INPUT_FIELD_DEFINITION",
]);

/** parser.ParseQuery; throws GQLError. */
export function parseQuery(input: string): QueryDocument {
  const p = new Parser({ Name: "", Input: input, BuiltIn: false });
  const doc = p.parseQueryDocument();
  if (p.err) throw p.err;
  return doc;
}

/** parser.ParseSchema; throws GQLError. */
export function parseSchema(src: Source): SchemaDocument {
  const p = new Parser(src);
  const doc = p.parseSchemaDocument();
  if (p.err) throw p.err;
  const sd = doc ?? newSchemaDocument();
  for (const d of sd.Definitions ?? []) d.BuiltIn = src.BuiltIn;
  for (const d of sd.Extensions ?? []) d.BuiltIn = src.BuiltIn;
  return sd;
}
