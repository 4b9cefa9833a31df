// The resolved intermediate form the evaluator runs: variables are frame slots,
// globals are data/input roots, calls point at their target, constants are
// folded, and every body is already in a safe evaluation order.
import type { Location } from "./ast.js";
import type { BuiltinDef } from "./builtins/registry.js";
import type { Value } from "./value.js";

/** `dfn`: the term compiled to a closure for the deterministic fast path (set on first use). */
export type CTerm = CTermKind & { dfn?: unknown };

type CTermKind =
  | { t: "val"; v: Value }
  | { t: "var"; slot: number; name: string }
  | { t: "data" }
  | { t: "input" }
  /** `res`: where a `data` ref's constant prefix leads, resolved on first use (tree and base data are fixed). */
  | { t: "ref"; head: CTerm; path: CTerm[]; loc: Location; res: StaticRes | undefined }
  | { t: "array"; items: CTerm[] }
  | { t: "set"; items: CTerm[] }
  | { t: "object"; items: [CTerm, CTerm][]; loc: Location }
  | {
      t: "comp";
      kind: "array" | "set" | "object";
      key: CTerm | null;
      term: CTerm;
      body: CBody;
      headDet?: boolean;
    }
  /** `order`: operand evaluation order when it differs from the textual one. */
  | { t: "call"; target: CallTarget; args: CTerm[]; loc: Location; order: number[] | undefined };

export type CallTarget =
  | { kind: "builtin"; name: string; def: BuiltinDef }
  | { kind: "user"; name: string; path: string[]; node?: TreeNode | null }
  | { kind: "print" };

/** How far a ref into `data` can be followed at compile time. */
export type StaticRes =
  | { kind: "rule"; node: TreeNode; depth: number }
  | { kind: "base"; value: Value; depth: number }
  | { kind: "undefined" }
  | { kind: "dynamic" };

export type CWith =
  | { kind: "input"; path: string[]; value: CTerm }
  | { kind: "data"; path: string[]; value: CTerm }
  /** Replaces a function: by another function (`fn`) or by a constant value. */
  | { kind: "fn"; key: string; fn: CallTarget | null; value: CTerm | null };

/**
 * `det` (set by the compiler's ordering): the expression yields at most one
 * solution and binds at most the one variable it assigns, so it runs without
 * continuations — the common case, and the fast path.
 */
export type CExpr =
  | { t: "unify"; a: CTerm; b: CTerm; loc: Location; det?: boolean }
  | { t: "truthy"; term: CTerm; loc: Location; det?: boolean }
  /** `fastIter`: key/value are distinct variables unbound here and the collection is deterministic. */
  | { t: "somein"; key: CTerm | null; value: CTerm; coll: CTerm; loc: Location; fastIter?: boolean }
  | { t: "every"; key: CTerm | null; value: CTerm; domain: CTerm; body: CBody; loc: Location }
  | { t: "not"; expr: CExpr; loc: Location }
  | { t: "with"; expr: CExpr; withs: CWith[]; loc: Location }
  | { t: "nop"; loc: Location };

export interface CBody {
  exprs: CExpr[];
  loc: Location;
  /** A fully deterministic body compiled to one closure (set on first use by the evaluator). */
  run?: unknown;
}

/** One rule definition, or one link of an else chain. */
export interface CRule {
  /** Function parameters as patterns; null for non-functions. */
  params: CTerm[] | null;
  body: CBody;
  /** `contains` element, or null. */
  key: CTerm | null;
  /** Head value (true when omitted). */
  value: CTerm;
  /** Dynamic part of a ref head after the static prefix (partial object rules). */
  dynamic: CTerm[];
  nslots: number;
  loc: Location;
  /** The value is the same for every solution (a constant): one solution suffices. */
  constValue: boolean;
  /** Every parameter is a distinct variable (bind by assignment). */
  simpleParams: boolean;
  /** Head key/value/dynamic terms are deterministic once the body succeeded. */
  headDet: boolean;
  /** Body and head are all deterministic (at most one solution): run without continuations. */
  fastBody: boolean;
}

export type RuleKind = "complete" | "multi" | "partial" | "function";

export interface RuleDef {
  kind: RuleKind;
  /** Full static path under data, e.g. ["authz", "allow"]. */
  path: string[];
  chain: CRule[];
  isDefault: boolean;
  loc: Location;
  /** Name used in messages: `data.authz.allow`. */
  name: string;
  /**
   * Rule index entry: the definition's body starts with `input.<path> == <constant>`, so when the input
   * holds another value there the definition cannot succeed and is skipped unevaluated. null: no such
   * first expression; undefined: not analysed yet (the evaluator fills it in on first use).
   */
  guard?: { path: string[]; value: unknown } | null;
}

/** A node of the rule tree: one path under `data`, with the rules defined exactly there. */
export class TreeNode {
  readonly children = new Map<string, TreeNode>();
  readonly complete: RuleDef[] = [];
  defaultRule: RuleDef | null = null;
  readonly multi: RuleDef[] = [];
  readonly partial: RuleDef[] = [];
  readonly functions: RuleDef[] = [];
  /** How the node's value is built; fixed once the tree is complete. */
  private modeCache: "complete" | "set" | "object" | undefined;
  /** Dense id within one compiled policy (set by compile), for per-query caches indexed by node. */
  id = 0;
  constructor(readonly path: string[]) {}

  get mode(): "complete" | "set" | "object" {
    if (this.modeCache) return this.modeCache;
    if (
      this.complete.length > 0 ||
      (this.defaultRule && this.multi.length === 0 && this.partial.length === 0)
    ) {
      this.modeCache = "complete";
    } else if (
      this.multi.length > 0 &&
      this.partial.length === 0 &&
      this.multi.every((d) => d.chain[0]!.dynamic.length === 0)
    ) {
      this.modeCache = "set";
    } else this.modeCache = "object";
    return this.modeCache;
  }

  get hasRules(): boolean {
    return (
      this.complete.length > 0 ||
      this.defaultRule !== null ||
      this.multi.length > 0 ||
      this.partial.length > 0
    );
  }
  /** A function leaf: it has no document of its own. */
  get onlyFunctions(): boolean {
    return this.functions.length > 0 && !this.hasRules && this.children.size === 0;
  }
  get name(): string {
    return "data" + this.path.map((p) => "." + p).join("");
  }
}
