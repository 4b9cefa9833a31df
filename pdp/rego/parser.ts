// Recursive-descent parser for Rego v1 (the syntax OPA 1.x accepts), producing
// the AST in ast.ts. The grammar decisions — including where OPA backtracks and
// which whitespace is significant — follow OPA's v1/ast/parser.go so that the
// same policies parse and the same mistakes produce the same messages.
//
// Deviations from OPA, all deliberate:
// * Unary minus on a non-literal (`-x`) is `minus(0, x)`; OPA rejects it.
// * `.5` / `-.5` are stored with a leading zero (raw "0.5"), so `raw` is always JSON.
// * Rules without a body get a `[true]` body located at the head (OPA: at the value).
// * Only the first error is reported (OPA collects several per file).
// * Template strings (`$"…{x}…"`, OPA ≥ 1.10) are not supported.

import type {
  Body,
  Every,
  Expr,
  Import,
  Location,
  Module,
  NumberTerm,
  RefTerm,
  Rule,
  RuleHead,
  SomeDecl,
  SomeIn,
  StringTerm,
  Term,
  TermExpr,
  VarTerm,
  WithModifier,
} from "./ast.js";
import { RegoError } from "./errors.js";
import { describeToken, KEYWORDS, lex, type Token, type TokenKind } from "./lexer.js";

/**
 * Nesting limit (brackets, braces, parens, bodies, unary minus). Far beyond any
 * real policy, and low enough that the JS stack never overflows on hostile input.
 */
const MAX_DEPTH = 1000;

/**
 * Internal failure signal. Not an Error subclass, so throwing it captures no
 * stack trace: backtracking points catch it routinely. Converted to RegoError at
 * the API boundary.
 */
class ParseFail {
  constructor(
    readonly message: string,
    readonly loc: Location,
    /** Kind of the token the parser stopped at; comprehension fallback depends on it. */
    readonly at: TokenKind,
  ) {}
}

interface State {
  pos: number;
  wc: number;
}

type Memo =
  | { wcIn: number; ok: true; term: Term; pos: number; wcOut: number }
  | { wcIn: number; ok: false; fail: ParseFail };

const BINARY_PREC: Partial<Record<TokenKind, number>> = {
  "==": 1,
  "!=": 1,
  "<": 1,
  "<=": 1,
  ">": 1,
  ">=": 1,
  "|": 2,
  "&": 3,
  "+": 4,
  "-": 4,
  "*": 5,
  "/": 5,
  "%": 5,
};

const BINARY_NAME: Partial<Record<TokenKind, string>> = {
  "==": "equal",
  "!=": "neq",
  "<": "lt",
  "<=": "lte",
  ">": "gt",
  ">=": "gte",
  "|": "or",
  "&": "and",
  "+": "plus",
  "-": "minus",
  "*": "mul",
  "/": "div",
  "%": "rem",
};

const FUTURE_KEYWORDS = ["contains", "every", "if", "in", "not"];
const IMPORT_ROOTS = new Set(["data", "input", "future", "rego"]);

/** OPA's ValueName / TypeName, used in messages. */
function valueName(t: Term): string {
  switch (t.type) {
    case "arraycomp":
      return "arraycomprehension";
    case "setcomp":
      return "setcomprehension";
    case "objectcomp":
      return "objectcomprehension";
    default:
      return t.type;
  }
}

/** OPA's IsGround for the terms that can appear in rule head refs. */
function isGround(t: Term): boolean {
  switch (t.type) {
    case "null":
    case "boolean":
    case "number":
    case "string":
      return true;
    case "var":
    case "arraycomp":
    case "setcomp":
    case "objectcomp":
      return false;
    case "ref":
      // Like OPA, a ref's head does not count (`a.b` is ground).
      return t.path.every(isGround);
    case "array":
    case "set":
      return t.items.every(isGround);
    case "object":
      return t.items.every(([k, v]) => isGround(k) && isGround(v));
    case "call":
      return t.args.every(isGround);
  }
}

/** Copies an AST subtree (plain objects and arrays, no cycles); much faster than structuredClone. */
function deepClone<T>(x: T): T {
  if (Array.isArray(x)) return x.map(deepClone) as T;
  if (x !== null && typeof x === "object") {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(x)) o[k] = deepClone((x as Record<string, unknown>)[k]);
    return o as T;
  }
  return x;
}

const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Enough of OPA's Ref.String() for import error messages. */
function refString(r: RefTerm): string {
  let s = r.head.type === "var" ? r.head.name : valueName(r.head);
  for (const p of r.path) {
    if (p.type === "string" && IDENT_RE.test(p.value)) s += `.${p.value}`;
    else if (p.type === "string") s += `[${JSON.stringify(p.value)}]`;
    else if (p.type === "var") s += `[${p.name}]`;
    else s += `[${valueName(p)}]`;
  }
  return s;
}

/** Rejects numbers whose binary exponent exceeds ±1e5, as OPA does ("number too big"). */
function numberTooBig(raw: string): boolean {
  const m = /^-?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(raw);
  if (!m) return false;
  const int = m[1] ?? "";
  const digits = int + (m[2] ?? "");
  const first = digits.search(/[1-9]/);
  if (first < 0) return false; // zero, whatever the exponent
  const exp = m[3] === undefined ? 0 : Number(m[3]);
  const mag = int.length - 1 - first + exp;
  return !Number.isFinite(mag) || Math.abs(mag) > 30_100; // 1e5 · log10(2) ≈ 30103
}

class Parser {
  private readonly toks: Token[];
  private pos = 0;
  /** Wildcard counter: `_` becomes `$wc<n>`, unique per module/query. */
  private wc = 0;
  private depth = 0;
  /**
   * Every primary term by start token, so that backtracking never re-parses
   * one (OPA's parsedTermCache). Without it, nested ambiguous comprehensions
   * (`[[[x | y, z] | y, z] | y, z]`) take exponential time.
   */
  private readonly memo: (Memo | undefined)[] = [];
  /** `import future.keywords.not` / `rego.v2`: `not { … }` negates a whole body. */
  private notBodies = false;

  constructor(
    src: string,
    private readonly file: string,
  ) {
    this.toks = lex(src);
  }

  // ---------------------------------------------------------------- plumbing

  private get tok(): Token {
    return this.toks[this.pos]!;
  }

  /** The current token's kind (a method, so TypeScript does not narrow it across advance()). */
  private k(): TokenKind {
    return this.toks[this.pos]!.kind;
  }

  private peek(): Token {
    return this.toks[Math.min(this.pos + 1, this.toks.length - 1)]!;
  }

  private advance(): Token {
    const t = this.toks[this.pos]!;
    if (t.kind !== "eof") this.pos++;
    return t;
  }

  private loc(t: Token): Location {
    return { file: this.file, row: t.row, col: t.col };
  }

  private save(): State {
    return { pos: this.pos, wc: this.wc };
  }

  private restore(s: State): void {
    this.pos = s.pos;
    this.wc = s.wc;
  }

  private fail(message: string, loc: Location = this.loc(this.tok)): never {
    throw new ParseFail(message, loc, this.k());
  }

  /** OPA's `illegal`: `unexpected <tok> token[: note]`; scanner errors win. */
  private unexpected(note?: string): never {
    const t = this.tok;
    if (t.kind === "illegal") this.fail(t.text);
    const d = describeToken(t.kind);
    this.fail(note === undefined ? `unexpected ${d}` : `unexpected ${d}: ${note}`);
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) {
      this.depth--;
      this.fail("max parsing recursion depth exceeded");
    }
  }

  /** Runs a tentative parse; a parse failure is returned (state is left as is, for the caller to restore). */
  private attempt<T>(fn: () => T): T | ParseFail {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ParseFail) return err;
      throw err;
    }
  }

  private trueBody(loc: Location): Body {
    const term: Term = { type: "boolean", value: true, loc };
    return { exprs: [{ type: "expr", term, negated: false, with: [], loc }], loc };
  }

  private varTerm(t: Token): VarTerm {
    const name = t.text === "_" ? `$wc${this.wc++}` : t.text;
    return { type: "var", name, loc: this.loc(t) };
  }

  private opRef(name: string, t: Token): RefTerm {
    const loc = this.loc(t);
    return { type: "ref", head: { type: "var", name, loc }, path: [], loc };
  }

  private memberCall(args: Term[], t: Token): Term {
    const loc = this.loc(t);
    const name = args.length === 2 ? "member_2" : "member_3";
    const operator: RefTerm = {
      type: "ref",
      head: { type: "var", name: "internal", loc },
      path: [{ type: "string", value: name, loc }],
      loc,
    };
    return { type: "call", operator, args, loc: args[0]!.loc };
  }

  // ----------------------------------------------------------- entry points

  module(): Module {
    const first = this.tok;
    if (first.kind === "eof") this.fail("empty module", { file: this.file, row: 1, col: 1 });
    if (first.kind !== "package") this.fail("package expected");
    const mod: Module = { file: this.file, package: this.parsePackage(), imports: [], rules: [] };
    while (this.k() !== "eof") {
      switch (this.k()) {
        case "package":
          this.fail("unexpected package");
          break;
        case "import":
          mod.imports.push(this.parseImport());
          break;
        default:
          for (const r of this.parseRules(mod)) mod.rules.push(r);
      }
    }
    return mod;
  }

  query(): Body {
    const exprs: Expr[] = [];
    // Like OPA's statement loop, expressions need no separator at the top level.
    while (this.k() !== "eof") {
      exprs.push(this.parseLiteral());
      while (this.k() === ";") {
        this.advance();
        exprs.push(this.parseLiteral());
      }
    }
    const loc = exprs[0]?.loc ?? { file: this.file, row: 1, col: 1 };
    return { exprs, loc };
  }

  term(): Term {
    if (this.k() === "eof") this.fail("expected exactly one term");
    const e = this.parseLiteral();
    if (this.k() !== "eof") this.fail("expected exactly one term");
    if (e.type !== "expr" || e.negated || e.with.length > 0 || e.term.type === "call") {
      this.fail(`expected term but got ${e.type === "expr" ? valueName(e.term) : e.type}`, e.loc);
    }
    return e.term;
  }

  // ------------------------------------------------------ package and import

  private parsePackage(): RefTerm {
    this.advance();
    const t = this.tok;
    if (t.kind !== "ident" && !KEYWORDS.has(t.kind)) this.unexpected();
    this.advance();
    const term = this.parsePostfix({ type: "var", name: t.text, loc: this.loc(t) }, false);
    let first: VarTerm;
    let rest: Term[];
    if (term.type === "var") {
      first = term;
      rest = [];
    } else if (term.type === "ref" && term.head.type === "var") {
      first = term.head;
      rest = term.path;
      for (const p of rest) {
        if (p.type !== "string") this.fail(`unexpected ${valueName(p)} token: expecting string`, p.loc);
      }
    } else {
      this.unexpected();
    }
    const firstStr: StringTerm = { type: "string", value: first.name, loc: first.loc };
    return {
      type: "ref",
      head: { type: "var", name: "data", loc: first.loc },
      path: [firstStr, ...rest],
      loc: first.loc,
    };
  }

  private parseImport(): Import {
    const kw = this.advance();
    const loc = this.loc(kw);
    const t = this.tok;
    if (t.kind !== "ident" && !KEYWORDS.has(t.kind)) this.unexpected();
    this.advance();
    const term = this.parsePostfix({ type: "var", name: t.text, loc: this.loc(t) }, false);
    let path: RefTerm;
    if (term.type === "var") {
      path = { type: "ref", head: term, path: [], loc: term.loc };
    } else if (term.type === "ref") {
      for (const p of term.path) {
        if (p.type !== "string") this.fail(`unexpected ${valueName(p)} token: expecting string`, p.loc);
      }
      path = term;
    } else {
      this.fail("expected path");
    }
    const root = path.head.type === "var" ? path.head.name : "";
    if (!IMPORT_ROOTS.has(root)) {
      this.fail(
        `unexpected import path, must begin with one of: {data, future, input, rego}, got: ${root || refString(path)}`,
        path.loc,
      );
    }

    let alias: string | null = null;
    if (this.k() === "as") {
      this.advance();
      const a = this.tok;
      const nx = this.peek();
      if (a.kind !== "ident" || (!nx.ws && (nx.kind === "." || nx.kind === "[" || nx.kind === "("))) {
        this.unexpected("expected var");
      }
      this.advance();
      alias = a.text;
    }

    const names = path.path.map((p) => (p as StringTerm).value);
    if (
      (root === "future" && names[0] === "keywords" && (names.length === 1 || names[1] === "not")) ||
      (root === "rego" && names[0] === "v2")
    ) {
      this.notBodies = true;
    }
    if (root === "future") {
      if (names[0] !== "keywords") this.fail("invalid import, must be `future.keywords`", path.loc);
      if (alias !== null) this.fail("`future` imports cannot be aliased", path.loc);
      if (names.length === 2 && !FUTURE_KEYWORDS.includes(names[1]!)) {
        this.fail(`unexpected keyword, must be one of [${FUTURE_KEYWORDS.join(" ")}]`, path.loc);
      }
    } else if (root === "rego") {
      if (names.length !== 1 || (names[0] !== "v1" && names[0] !== "v2")) {
        this.fail(`invalid import \`${refString(path)}\`, must be \`rego.v1\``, path.loc);
      }
    } else if (alias === null && names.length > 0 && KEYWORDS.has(names[names.length - 1]!)) {
      const last = path.path[path.path.length - 1]!;
      this.fail(
        `unexpected import path, must not end with a keyword, got: ${names[names.length - 1]}`,
        last.loc,
      );
    }
    return { path, alias, loc };
  }

  // ------------------------------------------------------------------- rules

  private parseRules(mod: Module): Rule[] {
    const start = this.tok;
    const ruleLoc = this.loc(start);
    let isDefault = false;
    if (start.kind === "default") {
      this.advance();
      isDefault = true;
      if (this.k() !== "ident") this.unexpected();
    } else if (start.kind !== "ident") {
      this.notARule();
    }

    const head = this.parseHead(isDefault);

    if (isDefault) {
      this.validateDefault(head, ruleLoc);
      return [{ head, body: this.trueBody(ruleLoc), default: true, else: null, loc: ruleLoc, module: mod }];
    }

    const isFunction = head.args !== null;
    let body: Body;
    if (this.k() === "if") {
      this.advance();
      body = this.parseIfBody();
    } else if (this.k() === "{") {
      this.fail(`\`if\` keyword is required before ${isFunction ? "function" : "rule"} body`, ruleLoc);
    } else if (head.contains || head.value !== null) {
      return [
        { head, body: this.trueBody(head.loc), default: false, else: null, loc: head.loc, module: mod },
      ];
    } else if (!isFunction && head.ref.length === 1) {
      this.fail("var cannot be used for rule name", ruleLoc);
    } else if (!isFunction && head.ref.length === 2) {
      this.fail("`contains` keyword is required for partial set rules", ruleLoc);
    } else {
      this.fail(
        `${isFunction ? "function" : "rule"} must have value assignment and/or body declaration`,
        ruleLoc,
      );
    }

    const rule: Rule = { head, body, default: false, else: null, loc: ruleLoc, module: mod };
    if (this.k() === "else") this.parseElseChain(rule, mod);

    const rules = [rule];
    // OPA still accepts `p if { a } { b }`: each extra body is a rule with the same head.
    while (this.k() === "{") {
      if (rule.else !== null) this.fail("expected else keyword");
      const open = this.advance();
      const loc = this.loc(open);
      const b = this.parseBody("}");
      this.advance();
      const h = this.copyHead(head, loc);
      rules.push({ head: h, body: b, default: false, else: null, loc, module: mod });
    }
    return rules;
  }

  /** A statement that cannot start a rule: report it the way OPA's rule-from-body conversion does. */
  private notARule(): never {
    const e = this.parseLiteral();
    if (e.type === "expr" && !e.negated && e.with.length === 0) {
      let t = e.term;
      if (t.type === "call" && t.operator.head.type === "var") {
        const op = t.operator.head.name;
        if (op === "eq" || op === "assign") t = t.args[0]!;
      }
      if (t.type !== "call") this.fail(`${valueName(t)} cannot be used for rule name`, e.loc);
    }
    this.fail("expression cannot be used for rule head", e.loc);
  }

  private parseHead(isDefault: boolean): RuleHead {
    const nameTok = this.advance();
    const loc = this.loc(nameTok);
    if (KEYWORDS.has(nameTok.text)) this.fail(`${nameTok.text} keyword cannot be used for rule name`, loc);
    if (BINARY_PREC[this.k()] !== undefined && !this.tok.ws) this.unexpected();
    const t = this.parsePostfix(this.varTerm(nameTok), true);

    let ref: Term[];
    let args: Term[] | null = null;
    if (t.type === "var") {
      ref = [t];
    } else if (t.type === "ref" && t.head.type === "var") {
      ref = [t.head, ...t.path];
    } else if (t.type === "call" && t.operator.head.type === "var") {
      ref = [t.operator.head, ...t.operator.path];
      args = t.args;
    } else {
      this.fail("rule head ref invalid", loc);
    }

    const head: RuleHead = { ref, args, key: null, value: null, assign: false, contains: false, loc };
    switch (this.k()) {
      case "contains":
        if (args !== null) {
          this.unexpected(
            "the contains keyword can only be used with multi-value rule definitions (e.g., " +
              `${refString({ type: "ref", head: ref[0]!, path: ref.slice(1), loc })} contains <VALUE> { ... })`,
          );
        }
        this.advance();
        head.key = this.parseInfix(true);
        head.contains = true;
        break;
      case "=":
      case ":=":
        head.assign = this.advance().kind === ":=";
        head.value = this.parseInfix(true);
        break;
      default:
        if (BINARY_PREC[this.k()] !== undefined) this.unexpected();
    }
    if (isDefault && head.contains) this.fail("illegal default rule (must have a value)", loc);
    return head;
  }

  private validateDefault(head: RuleHead, loc: Location): void {
    if (head.value === null) this.fail("illegal default rule (must have a value)", loc);
    const visit = (t: Term): void => {
      switch (t.type) {
        case "ref":
        case "var":
        case "call":
          this.fail(`illegal default rule (value cannot contain ${t.type})`, loc);
          break;
        case "array":
        case "set":
          t.items.forEach(visit);
          break;
        case "object":
          for (const [k, v] of t.items) {
            visit(k);
            visit(v);
          }
          break;
        default:
        // scalars are fine; comprehensions are closures and not checked
      }
    };
    visit(head.value);
    if (head.args !== null) {
      const seen = new Set<string>();
      for (const a of head.args) {
        if (a.type !== "var") {
          this.fail(`illegal default rule (arguments cannot contain ${valueName(a)})`, loc);
        }
        if (seen.has(a.name)) this.fail(`illegal default rule (arguments cannot be repeated ${a.name})`, loc);
        seen.add(a.name);
      }
    }
  }

  /**
   * After `if`: a single expression (`p if x > 1`) or `{ body }`. OPA tries the
   * expression first even when a brace follows, since `{…}` may be an object or
   * comprehension term; a plain set literal is never a useful condition, so that
   * reading is rejected in favour of a body.
   */
  private parseIfBody(): Body {
    if (this.k() !== "{") {
      const e = this.parseLiteral();
      return { exprs: [e], loc: e.loc };
    }
    const s = this.save();
    const e = this.attempt(() => this.parseLiteral());
    if (!(e instanceof ParseFail) && !(e.type === "expr" && e.term.type === "set")) {
      return { exprs: [e], loc: e.loc };
    }
    this.restore(s);
    this.advance();
    const body = this.parseBody("}");
    this.advance();
    return body;
  }

  private parseElseChain(rule: Rule, mod: Module): void {
    const head = rule.head;
    if (head.ref.length > 1 && !head.ref.slice(1).every(isGround)) {
      this.fail("else keyword cannot be used on rules with variables in head");
    }
    if (head.contains) this.fail("else keyword cannot be used on multi-value rules");
    let cur = rule;
    // Iterative, so that a long chain cannot exhaust the stack.
    while (this.k() === "else") {
      const elseTok = this.advance();
      const loc = this.loc(elseTok);
      const h = this.copyHead(head, loc);
      h.value = null;
      switch (this.k()) {
        case "{":
        case "if":
          break;
        case ":=":
        case "=":
          h.assign = this.advance().kind === ":=";
          h.value = this.parseInfix(true);
          break;
        default:
          this.unexpected("expected else value term or rule body");
      }
      const next: Rule = { head: h, body: this.trueBody(loc), default: false, else: null, loc, module: mod };
      cur.else = next;
      cur = next;
      if (this.k() !== "if" && this.k() !== "{") return;
      if (this.k() === "if") this.advance();
      if (this.k() === "{") {
        this.advance();
        next.body = this.parseBody("}");
        this.advance();
      } else if (this.k() !== "eof") {
        const e = this.parseLiteral();
        next.body = { exprs: [e], loc: e.loc };
      } else {
        this.unexpected("rule body expected");
      }
    }
  }

  /** The head of an `else` clause or an extra body: same ref/args, fresh wildcards in the args. */
  private copyHead(h: RuleHead, loc: Location): RuleHead {
    const args =
      h.args === null
        ? null
        : h.args.map((a) =>
            a.type === "var" && a.name.startsWith("$wc")
              ? ({ type: "var", name: `$wc${this.wc++}`, loc: a.loc } satisfies VarTerm)
              : deepClone(a),
          );
    return {
      ref: deepClone(h.ref),
      args,
      key: h.key === null ? null : deepClone(h.key),
      value: h.value === null ? null : deepClone(h.value),
      assign: h.assign,
      contains: h.contains,
      loc,
    };
  }

  // ------------------------------------------------------ bodies and exprs

  /** Expressions up to (not including) `end`, separated by `;` or newlines. */
  private parseBody(end: "}" | "]"): Body {
    this.enter();
    try {
      if (this.k() === end) this.fail("found empty body");
      const exprs: Expr[] = [];
      for (;;) {
        exprs.push(this.parseLiteral());
        if (this.k() === ";") {
          this.advance();
          continue;
        }
        if (this.k() === end) break;
        if (!this.tok.nl) this.unexpected(`expected \\n or ; or ${end}`);
      }
      return { exprs, loc: exprs[0]!.loc };
    } finally {
      this.depth--;
    }
  }

  private parseLiteral(): Expr {
    const start = this.tok;
    let negated = false;
    if (start.kind === "not") {
      this.advance();
      negated = true;
    }
    switch (this.k()) {
      case "some":
        if (negated) this.unexpected("illegal negation of 'some'");
        return this.parseSome();
      case "every":
        if (negated) this.unexpected("illegal negation of 'every'");
        return this.parseEvery();
    }
    if (negated && this.notBodies && this.k() === "{") {
      const body = this.tryNotBody();
      if (body) {
        // `not { a; b }` holds when the body has no solution: `count([true | a; b]) == 0`.
        const loc = this.loc(start);
        const comp: Term = { type: "arraycomp", term: { type: "boolean", value: true, loc }, body, loc };
        const count: Term = { type: "call", operator: this.opRef("count", start), args: [comp], loc };
        const zero: Term = { type: "number", raw: "0", loc };
        const term: Term = { type: "call", operator: this.opRef("equal", start), args: [count, zero], loc };
        const expr: TermExpr = { type: "expr", term, negated: false, with: [], loc };
        if (this.k() === "with") expr.with = this.parseWith();
        return expr;
      }
    }
    let term = this.parseInfix(true);
    if (this.k() === ":=" || this.k() === "=") {
      const op = this.advance();
      const rhs = this.parseInfix(true);
      term = {
        type: "call",
        operator: this.opRef(op.kind === ":=" ? "assign" : "eq", op),
        args: [term, rhs],
        loc: term.loc,
      };
    }
    const expr: TermExpr = { type: "expr", term, negated, with: [], loc: this.loc(start) };
    if (this.k() === "with") expr.with = this.parseWith();
    return expr;
  }

  /** `{ body }` after `not` when it is a body rather than a set or object literal; else null (nothing consumed). */
  private tryNotBody(): Body | null {
    const save = this.pos;
    const wc = this.wc;
    try {
      this.advance();
      const body = this.parseBody("}");
      if (this.k() !== "}") throw new RegoError("rego_parse_error", "expected }", this.loc(this.tok));
      this.advance();
      // A single term is ambiguous with a set literal (`not {1}`): keep OPA's old reading.
      if (body.exprs.length === 1 && this.k() !== "with") {
        const only = body.exprs[0]!;
        if (only.type === "expr" && !only.negated && only.with.length === 0 && only.term.type !== "call") {
          this.pos = save;
          this.wc = wc;
          return null;
        }
      }
      return body;
    } catch (e) {
      if (!(e instanceof RegoError)) throw e;
      this.pos = save;
      this.wc = wc;
      return null;
    }
  }

  private parseWith(): WithModifier[] {
    const mods: WithModifier[] = [];
    while (this.k() === "with") {
      const loc = this.loc(this.advance());
      // `contains` is a builtin name here, like anywhere outside rule heads.
      if (this.k() !== "ident" && this.k() !== "contains") this.unexpected("expected ident");
      const target = this.parsePrimary();
      if (target.type !== "ref" && target.type !== "var") this.unexpected("expected with target path");
      if (this.k() !== "as") this.unexpected("expected as keyword");
      this.advance();
      const value = this.parseInfix(true);
      mods.push({ target, value, loc });
    }
    return mods;
  }

  private memberArgs(t: Term): Term[] | null {
    if (t.type !== "call") return null;
    const op = t.operator;
    if (op.head.type !== "var" || op.head.name !== "internal" || op.path.length !== 1) return null;
    const p = op.path[0]!;
    if (p.type !== "string") return null;
    if (p.value === "member_2" || p.value === "member_3") return t.args;
    return null;
  }

  private parseSome(): Expr {
    const kw = this.advance();
    const loc = this.loc(kw);
    const s = this.save();
    const term = this.attempt(() => this.parseInfix(true));
    if (!(term instanceof ParseFail) && term.type === "call") {
      const args = this.memberArgs(term);
      if (args === null) this.unexpected("expected `x in xs` or `x, y in xs` expression");
      const name = (term.operator.path[0] as StringTerm).value;
      if (args.length !== (name === "member_2" ? 2 : 3)) this.unexpected("illegal domain");
      const expr: SomeIn =
        args.length === 2
          ? {
              type: "somein",
              key: null,
              value: args[0]!,
              collection: args[1]!,
              negated: false,
              with: [],
              loc,
            }
          : {
              type: "somein",
              key: args[0]!,
              value: args[1]!,
              collection: args[2]!,
              negated: false,
              with: [],
              loc,
            };
      if (this.k() === "with") expr.with = this.parseWith();
      return expr;
    }
    this.restore(s);
    const vars: VarTerm[] = [];
    for (;;) {
      if (this.k() !== "ident") this.unexpected("expected var");
      vars.push(this.varTerm(this.advance()));
      if (this.k() !== ",") break;
      this.advance();
    }
    const decl: SomeDecl = { type: "some", vars, negated: false, with: [], loc };
    return decl;
  }

  private parseEvery(): Expr {
    const kw = this.advance();
    const loc = this.loc(kw);
    const term = this.parseInfix(true);
    const args = this.memberArgs(term);
    if (args === null) this.unexpected("expected `x[, y] in xs { ... }` expression");
    const name = ((term as { operator: RefTerm }).operator.path[0] as StringTerm).value;
    if (args.length !== (name === "member_2" ? 2 : 3)) this.unexpected("illegal domain");
    const [key, value, domain] =
      args.length === 2 ? [null, args[0]!, args[1]!] : [args[0]!, args[1]!, args[2]!];
    if (key !== null && key.type !== "var") this.unexpected("expected key to be a variable");
    if (value.type !== "var") this.unexpected("expected value to be a variable");
    if (this.k() !== "{") this.unexpected("missing body");
    this.advance();
    const body = this.parseBody("}");
    this.advance();
    const expr: Every = { type: "every", key, value, domain, body, negated: false, with: [], loc };
    if (this.k() === "with") expr.with = this.parseWith();
    return expr;
  }

  // ------------------------------------------------------------------ terms

  /**
   * OPA's parseTermInfixCall: `in` (lowest) over the binary operators. With
   * `keyVal`, `k, v in xs` is tried too (not inside collections or call args,
   * where the comma separates items).
   */
  private parseInfix(keyVal: boolean): Term {
    return this.finishIn(this.continueBinary(this.parsePrimary(), 1), keyVal);
  }

  /** parseInfix when its first primary has already been parsed. */
  private continueInfix(primary: Term, keyVal: boolean): Term {
    return this.finishIn(this.continueBinary(primary, 1), keyVal);
  }

  private finishIn(lhs: Term, keyVal: boolean): Term {
    if (keyVal && this.k() === ",") {
      const s = this.save();
      const key = lhs;
      const call = this.attempt((): Term | null => {
        this.advance();
        const mhs = this.continueBinary(this.parsePrimary(), 1);
        if (this.k() !== "in") return null;
        const op = this.advance();
        const rhs = this.continueBinary(this.parsePrimary(), 1);
        return this.memberCall([key, mhs, rhs], op);
      });
      if (call === null || call instanceof ParseFail) this.restore(s);
      else lhs = call;
    }
    while (this.k() === "in") {
      const op = this.advance();
      const rhs = this.continueBinary(this.parsePrimary(), 1);
      lhs = this.memberCall([lhs, rhs], op);
    }
    return lhs;
  }

  /** Precedence climbing over the left-associative binary operators, starting from `lhs`. */
  private continueBinary(lhs: Term, minPrec: number): Term {
    for (;;) {
      const prec = BINARY_PREC[this.k()];
      if (prec === undefined || prec < minPrec) return lhs;
      const op = this.advance();
      let rhs = this.parsePrimary();
      for (;;) {
        const q = BINARY_PREC[this.k()];
        if (q === undefined || q <= prec) break;
        rhs = this.continueBinary(rhs, q);
      }
      lhs = { type: "call", operator: this.opRef(BINARY_NAME[op.kind]!, op), args: [lhs, rhs], loc: lhs.loc };
    }
  }

  /** A term with its ref/call suffixes (OPA's parseTerm), memoized by position. */
  private parsePrimary(): Term {
    const start = this.pos;
    const m = this.memo[start];
    if (m !== undefined && m.wcIn === this.wc) {
      if (!m.ok) throw m.fail;
      this.pos = m.pos;
      this.wc = m.wcOut;
      return m.term;
    }
    const wcIn = this.wc;
    this.enter();
    try {
      const term = this.parsePrimaryUncached();
      this.memo[start] = { wcIn, ok: true, term, pos: this.pos, wcOut: this.wc };
      return term;
    } catch (err) {
      if (err instanceof ParseFail) this.memo[start] = { wcIn, ok: false, fail: err };
      throw err;
    } finally {
      this.depth--;
    }
  }

  private parsePrimaryUncached(): Term {
    const t = this.tok;
    const loc = this.loc(t);
    let term: Term;
    switch (t.kind) {
      case "null":
        this.advance();
        term = { type: "null", loc };
        break;
      case "true":
      case "false":
        this.advance();
        term = { type: "boolean", value: t.kind === "true", loc };
        break;
      case "number":
        this.advance();
        term = this.numberTerm(t.text, "", loc);
        break;
      case ".":
        term = this.parseDotNumber("", loc);
        break;
      case "-":
        return this.parseNegative();
      case "string":
        this.advance();
        term = { type: "string", value: t.text, loc };
        break;
      case "ident":
      case "contains":
        this.advance();
        term = this.varTerm(t);
        break;
      case "[":
        term = this.parseArray();
        break;
      case "{":
        term = this.parseBrace();
        break;
      case "(": {
        this.advance();
        term = this.parseInfix(true);
        if (this.k() !== ")") {
          if (this.k() === "illegal") this.unexpected();
          this.fail("non-terminated expression");
        }
        this.advance();
        break;
      }
      default:
        this.unexpected();
    }
    return this.parsePostfix(term, false);
  }

  private numberTerm(text: string, sign: "" | "-", loc: Location): NumberTerm {
    if (text.length > 1 && text[0] === "0") {
      const c1 = text[1];
      const ok = c1 === "." || (text.length > 2 && (c1 === "e" || c1 === "E"));
      if (!ok) this.fail("unexpected number token: expected number without leading zero", loc);
    }
    const raw = sign + text;
    if (numberTooBig(raw)) this.fail("number too big", loc);
    return { type: "number", raw, loc };
  }

  /** `.5` (and `-.5`): OPA reads a dot followed by digits as a number. */
  private parseDotNumber(sign: "" | "-", loc: Location): NumberTerm {
    this.advance();
    const t = this.tok;
    if (t.kind !== "number") this.unexpected("expected number");
    if (t.text.includes(".")) this.fail("invalid float", this.loc(t));
    this.advance();
    return this.numberTerm(`0.${t.text}`, sign, loc);
  }

  private parseNegative(): Term {
    const minus = this.advance();
    const loc = this.loc(minus);
    const t = this.tok;
    if (t.kind === "number") {
      this.advance();
      return this.parsePostfix(this.numberTerm(t.text, "-", loc), false);
    }
    if (t.kind === "." && this.peek().kind === "number") {
      return this.parsePostfix(this.parseDotNumber("-", loc), false);
    }
    const operand = this.parsePrimary();
    const zero: NumberTerm = { type: "number", raw: "0", loc };
    return { type: "call", operator: this.opRef("minus", minus), args: [zero, operand], loc };
  }

  /**
   * Ref and call suffixes: `.name`, `[term]`, `(args)`. They continue a term
   * only when no whitespace precedes them (`p [1]` is two terms) — except, as
   * in OPA, for the first suffix of a rule head (`allowWsFirst`).
   */
  private parsePostfix(head: Term, allowWsFirst: boolean): Term {
    let cur = head;
    let path: Term[] = [];
    let lastCall = false;
    let first = true;
    for (;;) {
      const t = this.tok;
      if (t.kind !== "." && t.kind !== "[" && t.kind !== "(") break;
      if (t.ws && !(allowWsFirst && first)) break;
      if (t.kind === "(" && lastCall && path.length === 0) break;
      if (first) {
        switch (cur.type) {
          case "var":
          case "array":
          case "object":
          case "set":
          case "arraycomp":
          case "setcomp":
          case "objectcomp":
          case "call":
            break;
          default:
            this.fail(`illegal ref (head cannot be ${valueName(cur)})`, cur.loc);
        }
        first = false;
      }
      this.advance();
      if (t.kind === ".") {
        const nt = this.tok;
        if (nt.ws)
          this.fail("unexpected whitespace token: expected ident", { ...this.loc(t), col: t.col + 1 });
        if (nt.kind !== "ident" && !KEYWORDS.has(nt.kind)) this.unexpected("expected ident");
        this.advance();
        path.push({ type: "string", value: nt.text, loc: this.loc(nt) });
        lastCall = false;
      } else if (t.kind === "[") {
        const inner = this.parseInfix(true);
        // OPA's message names the wrong bracket; kept for fidelity.
        if (this.k() !== "]") this.unexpected("expected [");
        this.advance();
        path.push(inner);
        lastCall = false;
      } else {
        const operator: RefTerm = { type: "ref", head: cur, path, loc: cur.loc };
        let args: Term[] = [];
        if (this.k() === ")") this.advance();
        else args = this.parseTermList(")");
        if (cur.type === "var" && cur.name === "set" && path.length === 0 && args.length === 0) {
          cur = { type: "set", items: [], loc: cur.loc };
        } else {
          cur = { type: "call", operator, args, loc: cur.loc };
        }
        path = [];
        lastCall = true;
      }
    }
    if (path.length > 0) return { type: "ref", head: cur, path, loc: cur.loc };
    if (cur.type === "var" && (cur.name === "data" || cur.name === "input")) {
      return { type: "ref", head: cur, path: [], loc: cur.loc };
    }
    return cur;
  }

  /** Comma-separated terms up to `end` (trailing comma allowed); consumes `end`. */
  private parseTermList(end: "]" | "}" | ")", items: Term[] = []): Term[] {
    if (this.k() === end) {
      this.advance();
      return items;
    }
    for (;;) {
      items.push(this.parseInfix(false));
      if (this.k() === end) {
        this.advance();
        return items;
      }
      if (this.k() !== ",") this.unexpected(`expected "," or "${end}"`);
      this.advance();
      if (this.k() === end) {
        this.advance();
        return items;
      }
    }
  }

  private parsePairList(items: [Term, Term][]): [Term, Term][] {
    if (this.k() === "}") {
      this.advance();
      return items;
    }
    for (;;) {
      const k = this.parseInfix(false);
      if (this.k() !== ":") this.unexpected('expected ":"');
      this.advance();
      items.push([k, this.parseInfix(false)]);
      if (this.k() === "}") {
        this.advance();
        return items;
      }
      if (this.k() !== ",") this.unexpected('expected "," or "}"');
      this.advance();
      if (this.k() === "}") {
        this.advance();
        return items;
      }
    }
  }

  /**
   * `[…]`: an array or a comprehension. As in OPA, `[a | b]` is a comprehension;
   * when its body fails at a comma (`[a | b, c]`) it is re-read as an array whose
   * first item is `a | b`.
   */
  private parseArray(): Term {
    const open = this.advance();
    const loc = this.loc(open);
    if (this.k() === "]") {
      this.advance();
      return { type: "array", items: [], loc };
    }
    let comprehension = true;
    if (this.k() === ",") {
      // OPA tolerates a leading comma for backwards compatibility.
      this.advance();
      comprehension = false;
    }
    const s = this.save();
    const head = this.parsePrimary();
    if (this.k() === "|" && comprehension) {
      this.advance();
      const body = this.attempt(() => this.parseBody("]"));
      if (!(body instanceof ParseFail)) {
        this.advance();
        return { type: "arraycomp", term: head, body, loc };
      }
      if (body.at !== ",") throw body;
      this.restore(s);
      return { type: "array", items: this.parseTermList("]"), loc };
    }
    const first = this.continueInfix(head, false);
    if (this.k() === "]") {
      this.advance();
      return { type: "array", items: [first], loc };
    }
    if (this.k() !== ",") this.unexpected('expected "," or "]"');
    this.advance();
    return { type: "array", items: this.parseTermList("]", [first]), loc };
  }

  /** `{…}`: empty object, set, object, or set/object comprehension (same ambiguity rules as arrays). */
  private parseBrace(): Term {
    const open = this.advance();
    const loc = this.loc(open);
    if (this.k() === "}") {
      this.advance();
      return { type: "object", items: [], loc };
    }
    let comprehension = true;
    if (this.k() === ",") {
      this.advance();
      comprehension = false;
    }
    const s = this.save();
    let head = this.parsePrimary();
    if (this.k() === "|" && comprehension) {
      this.advance();
      const body = this.attempt(() => this.parseBody("}"));
      if (!(body instanceof ParseFail)) {
        this.advance();
        return { type: "setcomp", term: head, body, loc };
      }
      if (body.at !== ",") throw body;
      this.restore(s);
      return { type: "set", items: this.parseTermList("}"), loc };
    }
    if (this.k() === ":") return this.parseObject(head, comprehension, loc);
    if (this.k() !== "}" && this.k() !== ",") {
      head = this.continueInfix(head, false);
      if (this.k() === ":") return this.parseObject(head, comprehension, loc);
      if (this.k() !== "}" && this.k() !== ",") this.unexpected("non-terminated set");
    }
    if (this.advance().kind === "}") return { type: "set", items: [head], loc };
    return { type: "set", items: this.parseTermList("}", [head]), loc };
  }

  private parseObject(key: Term, comprehension: boolean, loc: Location): Term {
    this.advance(); // ':'
    const s = this.save();
    let value = this.parsePrimary();
    if (this.k() === "|" && comprehension) {
      this.advance();
      const body = this.attempt(() => this.parseBody("}"));
      if (!(body instanceof ParseFail)) {
        this.advance();
        return { type: "objectcomp", key, value, body, loc };
      }
      // Not a comprehension after all: `{k: a | b, …}` is an object whose value is `a | b`.
      this.restore(s);
      value = this.parseInfix(false);
    } else if (this.k() !== "}" && this.k() !== ",") {
      value = this.continueInfix(value, false);
    }
    if (this.k() !== "}" && this.k() !== ",") this.unexpected("non-terminated object");
    if (this.advance().kind === "}") return { type: "object", items: [[key, value]], loc };
    return { type: "object", items: this.parsePairList([[key, value]]), loc };
  }
}

function run<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ParseFail) throw new RegoError("rego_parse_error", err.message, err.loc);
    const loc = { file, row: 1, col: 1 };
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      throw new RegoError("rego_parse_error", "max parsing recursion depth exceeded", loc);
    }
    // A parser bug; still honour the contract that only RegoErrors escape.
    throw new RegoError("rego_parse_error", `internal parser error: ${String(err)}`, loc);
  }
}

/** Parses a Rego v1 module. Rules (and their `else` chains) point back at the returned module. */
export function parseModule(source: string, file: string): Module {
  return run(file, () => new Parser(source, file).module());
}

/** Parses a query body: expressions separated by `;` or newlines (`x := 1; y = x + 1`). */
export function parseQuery(source: string, file = ""): Body {
  return run(file, () => new Parser(source, file).query());
}

/** Parses a single Rego term (e.g. an `input_term` such as `{"foo": {{1}}}`). */
export function parseTerm(source: string, file = ""): Term {
  return run(file, () => new Parser(source, file).term());
}
