// The Rego abstract syntax tree: what the parser produces and the compiler consumes.
// Shapes follow OPA's ast package (terms, exprs, bodies, rules, modules) so that
// OPA's semantics and error messages map one to one.

export interface Location {
  file: string;
  row: number; // 1-based
  col: number; // 1-based, in code points
}

export type Term =
  | NullTerm
  | BooleanTerm
  | NumberTerm
  | StringTerm
  | VarTerm
  | RefTerm
  | ArrayTerm
  | SetTerm
  | ObjectTerm
  | ArrayComprehension
  | SetComprehension
  | ObjectComprehension
  | CallTerm;

interface TermBase {
  loc: Location;
}

export interface NullTerm extends TermBase {
  type: "null";
}
export interface BooleanTerm extends TermBase {
  type: "boolean";
  value: boolean;
}
/** `raw` is the literal's source text (e.g. `1e400`, `3.50`); numbers are exact in Rego. */
export interface NumberTerm extends TermBase {
  type: "number";
  raw: string;
}
export interface StringTerm extends TermBase {
  type: "string";
  value: string;
}
/** Wildcards `_` are renamed by the parser to unique vars `$wc0`, `$wc1`, … */
export interface VarTerm extends TermBase {
  type: "var";
  name: string;
}
/**
 * `head.a[b]["c"]`: `path` holds the operands after the head. A dotted `.a`
 * is stored as a StringTerm "a". The head is a VarTerm for `data`, `input`,
 * locals and builtin names; it can also be a composite, call or comprehension
 * (`[1,2][0]`, `f(x)[0]`).
 */
export interface RefTerm extends TermBase {
  type: "ref";
  head: Term;
  path: Term[];
}
export interface ArrayTerm extends TermBase {
  type: "array";
  items: Term[];
}
export interface SetTerm extends TermBase {
  type: "set";
  items: Term[];
}
export interface ObjectTerm extends TermBase {
  type: "object";
  items: [Term, Term][];
}
export interface ArrayComprehension extends TermBase {
  type: "arraycomp";
  term: Term;
  body: Body;
}
export interface SetComprehension extends TermBase {
  type: "setcomp";
  term: Term;
  body: Body;
}
export interface ObjectComprehension extends TermBase {
  type: "objectcomp";
  key: Term;
  value: Term;
  body: Body;
}
/**
 * A call. `operator` is the callee as a ref (`count`, `array.concat`,
 * `data.lib.f`, or a local `f` resolved later). Infix operators are calls to
 * OPA's builtin names: `=` eq, `:=` assign, `==` equal, `!=` neq, `<` lt,
 * `<=` lte, `>` gt, `>=` gte, `+` plus, `-` minus, `*` mul, `/` div, `%` rem,
 * `&` and, `|` or, `x in xs` internal.member_2, `k, v in xs`
 * internal.member_3. Unary minus on a literal number is a negative NumberTerm;
 * on anything else it is `minus(0, x)`.
 */
export interface CallTerm extends TermBase {
  type: "call";
  operator: RefTerm;
  args: Term[];
}

export interface WithModifier {
  target: Term; // a ref: input…, data…, or a function/builtin name
  value: Term;
  loc: Location;
}

export type Expr = TermExpr | SomeDecl | SomeIn | Every;

interface ExprBase {
  loc: Location;
  negated: boolean;
  with: WithModifier[];
}
/** An expression that is a term: a call (incl. `=`, `:=`, `==`, …) or a value tested for truth. */
export interface TermExpr extends ExprBase {
  type: "expr";
  term: Term;
}
/** `some x, y` */
export interface SomeDecl extends ExprBase {
  type: "some";
  vars: VarTerm[];
}
/** `some v in xs`, `some k, v in xs` (key absent in the first form) */
export interface SomeIn extends ExprBase {
  type: "somein";
  key: Term | null;
  value: Term;
  collection: Term;
}
/** `every v in xs { body }`, `every k, v in xs { body }` */
export interface Every extends ExprBase {
  type: "every";
  key: Term | null;
  value: Term;
  domain: Term;
  body: Body;
}

export interface Body {
  exprs: Expr[];
  loc: Location;
}

export interface RuleHead {
  /**
   * Rule ref relative to the package: `p` → [Var p]; `a.b[x]` → [Var a, "b", Var x];
   * `p contains x` → [Var p] with `key` = x.
   */
  ref: Term[];
  /** Function parameters; null for non-functions (a function `f()` with no args has []). */
  args: Term[] | null;
  /** Multi-value rules (`contains`): the element term. */
  key: Term | null;
  /** The value; null when omitted (`p if …`, `p contains x`), meaning `true` for single-value rules. */
  value: Term | null;
  /** `:=` (true) or `=` (false) */
  assign: boolean;
  /** `p contains x` */
  contains: boolean;
  loc: Location;
}

export interface Rule {
  head: RuleHead;
  body: Body; // `p := 1` with no body has body [true]
  default: boolean;
  /** The next `else` in the chain (its head has the same ref/args, value from the `else` clause). */
  else: Rule | null;
  loc: Location;
  module: Module;
}

export interface Import {
  /** `import data.a.b` / `import input.x` / `import rego.v1` / `import future.keywords.in` */
  path: RefTerm;
  alias: string | null;
  loc: Location;
}

export interface Module {
  file: string;
  /** `package a.b` → [Var data, "a", "b"] as a ref */
  package: RefTerm;
  imports: Import[];
  rules: Rule[];
}
