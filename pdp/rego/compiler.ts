// Compiles parsed rules and queries into the IR: resolves names (locals,
// imports, rules of the package, builtins), allocates frame slots, folds
// constants, and reorders every body so that each expression runs only once
// the variables it needs are bound (OPA's safety reordering).
import type * as ast from "./ast.js";
import { getBuiltin, UNSUPPORTED_BUILTINS } from "./builtins/index.js";
import { RegoError } from "./errors.js";
import type { CBody, CExpr, CRule, CTerm, CWith, CallTarget } from "./ir.js";
import { numFromText } from "./number.js";
import { ObjectBuilder, SetV, type Value } from "./value.js";
import {
  collectOutside,
  collectSlots,
  collectSlotsExpr,
  countSlotsExpr,
  walkNestedBodies,
} from "./irwalk.js";

export interface ImportTarget {
  root: "data" | "input";
  path: string[];
}

/** What name resolution needs to know about the whole policy. */
export interface GlobalEnv {
  /** Full paths of user functions, joined by "\u0000", to their arity. */
  functions: Map<string, number>;
  /** All rule paths (joined), to tell functions from documents. */
  rules: Set<string>;
}

export interface ModuleEnv {
  pkg: string[];
  /** First segments of rule names in this package (across modules). */
  localRules: Set<string>;
  imports: Map<string, ImportTarget>;
  global: GlobalEnv;
}

export const pathKey = (p: readonly string[]): string => p.join("\u0000");

class Scope {
  readonly names = new Map<string, number>();
  /** Names declared with `:=` here: declaring one twice is OPA's `var x assigned above`. */
  readonly assigned = new Set<string>();
  constructor(readonly parent: Scope | null) {}
  lookup(name: string): number | undefined {
    for (let s: Scope | null = this; s; s = s.parent) {
      const v = s.names.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  }
}

/** Compiles the terms and bodies of one rule (or one query) into one frame. */
export class BodyCompiler {
  nslots = 0;
  private scope = new Scope(null);
  readonly errors: RegoError[] = [];
  /** Slot → name, for error messages and result rows. */
  readonly slotNames: string[] = [];
  /** Slots of each nested body scope, keyed by the body. */
  private readonly ownedSlots = new Map<CBody, Set<number>>();

  constructor(private readonly env: ModuleEnv) {}

  // ---- scopes ----

  private alloc(name: string): number {
    const slot = this.nslots++;
    this.scope.names.set(name, slot);
    this.slotNames[slot] = name;
    return slot;
  }

  private isGlobalName(name: string): boolean {
    return name === "data" || name === "input" || this.env.imports.has(name) || this.env.localRules.has(name);
  }

  /** Declares the vars a body (and optional head terms) uses, before compiling, so closures resolve. */
  declareBodyVars(exprs: ast.Expr[], extraTerms: ast.Term[] = [], declaring = false): void {
    const declare = (name: string): void => {
      if (this.scope.names.has(name)) return;
      this.alloc(name);
    };
    // Names this body declares with `:=` come into scope at that expression, not
    // before: a comprehension earlier in the body has its own variable of that name.
    const assigned = new Set<string>();
    const collectAssigned = (t: ast.Term): void => {
      if (t.type === "var") assigned.add(t.name);
      else if (t.type === "array") t.items.forEach(collectAssigned);
      else if (t.type === "object") t.items.forEach(([, v]) => collectAssigned(v));
    };
    for (const e of exprs) {
      if (e.type === "expr" && e.term.type === "call" && isOp(e.term, "assign"))
        collectAssigned(e.term.args[0]!);
    }
    const visit = (t: ast.Term, declaring: boolean): void => {
      switch (t.type) {
        case "var":
          if (assigned.has(t.name) && !declaring) return;
          if (declaring || (!this.isGlobalName(t.name) && this.scope.lookup(t.name) === undefined))
            declare(t.name);
          return;
        case "ref":
          if (t.head.type !== "var") visit(t.head, false);
          else if (!this.isGlobalName(t.head.name) && this.scope.lookup(t.head.name) === undefined)
            declare(t.head.name);
          for (const p of t.path) visit(p, false);
          return;
        case "array":
        case "set":
          for (const i of t.items) visit(i, declaring);
          return;
        case "object":
          for (const [k, v] of t.items) {
            visit(k, false);
            visit(v, declaring);
          }
          return;
        case "call":
          for (const a of t.args) visit(a, false);
          return;
        default:
          return; // scalars; comprehension bodies are their own scopes
      }
    };
    for (const t of extraTerms) visit(t, declaring);
    for (const e of exprs) {
      switch (e.type) {
        case "some":
          for (const v of e.vars) {
            if (!this.scope.names.has(v.name)) this.alloc(v.name);
          }
          break;
        case "somein":
          if (e.key) visit(e.key, true);
          visit(e.value, true);
          visit(e.collection, false);
          break;
        case "every":
          visit(e.domain, false);
          break;
        case "expr": {
          const t = e.term;
          if (t.type === "call" && isOp(t, "assign")) visit(t.args[1]!, false);
          else visit(t, false);
          break;
        }
      }
      for (const w of e.with) {
        // `with f as count`: a function named as the replacement is not a variable.
        if ((w.value.type === "var" || w.value.type === "ref") && this.functionRefTarget(w.value)) continue;
        visit(w.value, false);
      }
    }
  }

  private withScope<T>(fn: (owned: Set<number>) => T): T {
    const saved = this.scope;
    this.scope = new Scope(saved);
    const first = this.nslots;
    const owned = new Set<number>();
    try {
      return fn(owned);
    } finally {
      for (let s = first; s < this.nslots; s++) owned.add(s);
      this.scope = saved;
    }
  }

  // ---- terms ----

  term(t: ast.Term): CTerm {
    switch (t.type) {
      case "null":
        return { t: "val", v: null };
      case "boolean":
        return { t: "val", v: t.value };
      case "string":
        return { t: "val", v: t.value };
      case "number": {
        const n = numFromText(t.raw);
        if (n === null) {
          this.errors.push(new RegoError("rego_parse_error", `invalid number ${t.raw}`, t.loc));
          return { t: "val", v: 0 };
        }
        return { t: "val", v: n };
      }
      case "var":
        return this.varRef(t.name, t.loc);
      case "ref":
        return this.ref(t);
      case "array": {
        const items = t.items.map((i) => this.term(i));
        if (items.every(isVal)) return { t: "val", v: items.map((i) => (i as ValTerm).v) };
        return { t: "array", items };
      }
      case "set": {
        const items = t.items.map((i) => this.term(i));
        if (items.every(isVal)) return { t: "val", v: new SetV(items.map((i) => (i as ValTerm).v)) };
        return { t: "set", items };
      }
      case "object": {
        const items = t.items.map(([k, v]) => [this.term(k), this.term(v)] as [CTerm, CTerm]);
        if (items.every(([k, v]) => isVal(k) && isVal(v))) {
          const b = new ObjectBuilder();
          let ok = true;
          for (const [k, v] of items) ok = b.set((k as ValTerm).v, (v as ValTerm).v) && ok;
          if (ok) return { t: "val", v: b.build() };
        }
        return { t: "object", items, loc: t.loc };
      }
      case "arraycomp":
      case "setcomp":
        return this.withScope((owned) => {
          this.declareBodyVars(t.body.exprs, [t.term]);
          const body = this.bodyRaw(t.body);
          const term = this.term(t.term);
          this.ownedSlots.set(body, owned);
          return {
            t: "comp",
            kind: t.type === "arraycomp" ? "array" : "set",
            key: null,
            term,
            body,
          } as CTerm;
        });
      case "objectcomp":
        return this.withScope((owned) => {
          this.declareBodyVars(t.body.exprs, [t.key, t.value]);
          const body = this.bodyRaw(t.body);
          const key = this.term(t.key);
          const term = this.term(t.value);
          this.ownedSlots.set(body, owned);
          return { t: "comp", kind: "object", key, term, body } as CTerm;
        });
      case "call": {
        const target = this.callTarget(t.operator, t.args.length, false);
        return { t: "call", target, args: t.args.map((a) => this.term(a)), loc: t.loc, order: undefined };
      }
    }
  }

  private varRef(name: string, loc: ast.Location): CTerm {
    const slot = this.scope.lookup(name);
    if (slot !== undefined) return { t: "var", slot, name };
    if (name === "data") return { t: "data" };
    if (name === "input") return { t: "input" };
    const imp = this.env.imports.get(name);
    if (imp) return rootRef(imp.root, imp.path, loc);
    if (this.env.localRules.has(name)) return rootRef("data", [...this.env.pkg, name], loc);
    return { t: "var", slot: this.alloc(name), name };
  }

  private ref(t: ast.RefTerm): CTerm {
    const head = t.head.type === "var" ? this.varRef(t.head.name, t.head.loc) : this.term(t.head);
    const path = t.path.map((p) => this.term(p));
    if (head.t === "ref") {
      return { t: "ref", head: head.head, path: [...head.path, ...path], loc: t.loc, res: undefined };
    }
    if (head.t === "val" && path.length === 0) return head;
    return { t: "ref", head, path, loc: t.loc, res: undefined };
  }

  /** The data path a call operator names, when it names a user function. */
  private userFunctionPath(op: ast.RefTerm): string[] | null {
    if (op.head.type !== "var") return null;
    const rest: string[] = [];
    for (const p of op.path) {
      if (p.type !== "string") return null;
      rest.push(p.value);
    }
    const name = op.head.name;
    if (this.scope.lookup(name) !== undefined) return null;
    let full: string[] | null = null;
    if (name === "data") full = rest;
    else if (this.env.imports.has(name)) {
      const imp = this.env.imports.get(name)!;
      if (imp.root === "data") full = [...imp.path, ...rest];
    } else if (this.env.localRules.has(name)) full = [...this.env.pkg, name, ...rest];
    if (full && this.env.global.functions.has(pathKey(full))) return full;
    return null;
  }

  private opName(op: ast.RefTerm): string {
    let s = op.head.type === "var" ? op.head.name : "?";
    for (const p of op.path) s += p.type === "string" ? "." + p.value : "[?]";
    return s;
  }

  /** Resolves a callee. `nargs` counts the call's operands including a possible output. */
  callTarget(op: ast.RefTerm, nargs: number, exprLevel: boolean): CallTarget {
    const user = this.userFunctionPath(op);
    const name = this.opName(op);
    if (user) {
      const arity = this.env.global.functions.get(pathKey(user))!;
      if (nargs !== arity && !(exprLevel && nargs === arity + 1)) {
        this.errors.push(
          new RegoError(
            "rego_type_error",
            `${nargs > arity ? "too many" : "too few"} arguments: data.${user.join(".")} takes ${arity}`,
            op.loc,
          ),
        );
      }
      return { kind: "user", name: "data." + user.join("."), path: user };
    }
    if (name === "print") return { kind: "print" };
    const def = getBuiltin(name);
    if (def) {
      if (nargs !== def.arity && !(exprLevel && nargs === def.arity + 1) && def.arity >= 0) {
        this.errors.push(
          new RegoError(
            "rego_type_error",
            `${name}: arity mismatch\n\thave: ${nargs} operands\n\twant: ${def.arity}`,
            op.loc,
          ),
        );
      }
      return { kind: "builtin", name, def };
    }
    if (UNSUPPORTED_BUILTINS.has(name)) {
      return {
        kind: "builtin",
        name,
        def: {
          name,
          arity: nargs,
          fn: () => {
            throw new RegoError("eval_builtin_error", `${name}: not supported by this engine`);
          },
        },
      };
    }
    this.errors.push(new RegoError("rego_type_error", `undefined function ${name}`, op.loc));
    return { kind: "print" };
  }

  // ---- expressions ----

  private expr(e: ast.Expr): CExpr {
    let out: CExpr = this.exprCore(e);
    if (e.negated) out = { t: "not", expr: out, loc: e.loc };
    if (e.with.length > 0)
      out = { t: "with", expr: out, withs: e.with.map((w) => this.withMod(w)), loc: e.loc };
    return out;
  }

  private exprCore(e: ast.Expr): CExpr {
    switch (e.type) {
      case "some":
        return { t: "nop", loc: e.loc };
      case "somein":
        return {
          t: "somein",
          key: e.key ? this.term(e.key) : null,
          value: this.term(e.value),
          coll: this.term(e.collection),
          loc: e.loc,
        };
      case "every":
        return this.withScope((owned) => {
          const domain = this.term(e.domain);
          const key = e.key ? this.declaredPattern(e.key) : null;
          const value = this.declaredPattern(e.value);
          this.declareBodyVars(e.body.exprs);
          const body = this.bodyRaw(e.body);
          this.ownedSlots.set(body, owned);
          return { t: "every", key, value, domain, body, loc: e.loc } as CExpr;
        });
      case "expr": {
        const t = e.term;
        if (t.type === "call" && isOp(t, "assign")) {
          this.checkAssign(t.args[0]!);
          this.declareAssigned(t.args[0]!);
        }
        if (t.type === "call" && (isOp(t, "eq") || isOp(t, "assign"))) {
          return { t: "unify", a: this.term(t.args[0]!), b: this.term(t.args[1]!), loc: e.loc, det: false };
        }
        if (t.type === "call") {
          const target = this.callTarget(t.operator, t.args.length, true);
          const arity =
            target.kind === "builtin"
              ? target.def.arity
              : target.kind === "user"
                ? this.env.global.functions.get(pathKey(target.path))!
                : -1;
          if (arity >= 0 && t.args.length === arity + 1) {
            const args = t.args.slice(0, arity).map((a) => this.term(a));
            const out = this.term(t.args[arity]!);
            return {
              t: "unify",
              a: out,
              b: { t: "call", target, args, loc: t.loc, order: undefined },
              loc: e.loc,
              det: false,
            };
          }
          return {
            t: "truthy",
            term: { t: "call", target, args: t.args.map((a) => this.term(a)), loc: t.loc, order: undefined },
            loc: e.loc,
            det: false,
          };
        }
        return { t: "truthy", term: this.term(t), loc: e.loc, det: false };
      }
    }
  }

  /** `:=` makes its variables locals of the current scope from here on. */
  private declareAssigned(lhs: ast.Term): void {
    if (lhs.type === "var") {
      if (!lhs.name.startsWith("$wc") && !this.scope.names.has(lhs.name)) this.alloc(lhs.name);
    } else if (lhs.type === "array") lhs.items.forEach((x) => this.declareAssigned(x));
    else if (lhs.type === "object") lhs.items.forEach(([, v]) => this.declareAssigned(v));
  }

  private checkAssign(lhs: ast.Term): void {
    const visit = (x: ast.Term): void => {
      if (x.type === "var") {
        if (x.name.startsWith("$wc")) return;
        if (this.scope.assigned.has(x.name)) {
          this.errors.push(new RegoError("rego_compile_error", `var ${x.name} assigned above`, x.loc));
        }
        this.scope.assigned.add(x.name);
      } else if (x.type === "array") x.items.forEach(visit);
      else if (x.type === "object") x.items.forEach(([, v]) => visit(v));
    };
    visit(lhs);
  }

  /** Vars in an `every` key/value pattern are fresh in the every scope. */
  private declaredPattern(t: ast.Term): CTerm {
    const declare = (x: ast.Term): void => {
      if (x.type === "var") {
        if (!this.scope.names.has(x.name)) this.alloc(x.name);
      } else if (x.type === "array") x.items.forEach(declare);
      else if (x.type === "object") x.items.forEach(([, v]) => declare(v));
    };
    declare(t);
    return this.term(t);
  }

  private withMod(w: ast.WithModifier): CWith {
    const target = w.target;
    const valueFn = w.value.type === "var" || w.value.type === "ref" ? this.functionRefTarget(w.value) : null;
    const value: CTerm = valueFn ? { t: "val", v: null } : this.term(w.value);
    if (target.type === "var" || target.type === "ref") {
      const head = target.type === "var" ? target : target.head;
      const path = target.type === "var" ? [] : target.path;
      if (head.type === "var" && path.every((p) => p.type === "string")) {
        const strs = path.map((p) => (p as ast.StringTerm).value);
        if (head.name === "input") return { kind: "input", path: strs, value };
        const asFn = this.functionRefTarget(target);
        if (asFn) {
          const key = asFn.kind === "user" ? asFn.name : asFn.kind === "builtin" ? asFn.name : "print";
          return { kind: "fn", key, fn: valueFn, value: valueFn ? null : value };
        }
        if (head.name === "data") return { kind: "data", path: strs, value };
        const imp = this.env.imports.get(head.name);
        if (imp) return { kind: imp.root, path: [...imp.path, ...strs], value };
        if (this.env.localRules.has(head.name))
          return { kind: "data", path: [...this.env.pkg, head.name, ...strs], value };
      }
    }
    this.errors.push(
      new RegoError(
        "rego_compile_error",
        "with keyword target must reference existing input, data, or a function",
        w.loc,
      ),
    );
    return { kind: "input", path: [], value };
  }

  /** A ref used as a value in `with f as g` naming a function or builtin. */
  private functionRefTarget(t: ast.Term): CallTarget | null {
    const op: ast.RefTerm = t.type === "ref" ? t : { type: "ref", head: t, path: [], loc: t.loc };
    if (op.head.type !== "var") return null;
    if (this.scope.lookup(op.head.name) !== undefined) return null;
    const user = this.userFunctionPath(op);
    if (user) return { kind: "user", name: "data." + user.join("."), path: user };
    const name = this.opName(op);
    if (name === "print") return { kind: "print" };
    const def = getBuiltin(name);
    if (def) return { kind: "builtin", name, def };
    if (UNSUPPORTED_BUILTINS.has(name)) {
      return {
        kind: "builtin",
        name,
        def: {
          name,
          arity: -1,
          fn: () => {
            throw new RegoError("eval_builtin_error", `${name}: not supported by this engine`);
          },
        },
      };
    }
    return null;
  }

  bodyRaw(b: ast.Body): CBody {
    return { exprs: b.exprs.map((e) => this.expr(e)), loc: b.loc };
  }

  // ---- safety ----

  /**
   * Reorders a body (and the bodies nested in it) so every expression's inputs
   * are bound when it runs; reports `var x is unsafe` otherwise. Returns the
   * set of bound slots after the body.
   */
  order(body: CBody, bound: Set<number>): Set<number> {
    const remaining = [...body.exprs];
    const out: CExpr[] = [];
    const b = new Set(bound);
    while (remaining.length > 0) {
      let placed = false;
      for (let i = 0; i < remaining.length; i++) {
        const e = remaining[i]!;
        const outs = this.exprOuts(e, b);
        if (outs === null) continue;
        this.orderNested(e, b);
        this.markDet(e, b);
        for (const s of outs) b.add(s);
        out.push(e);
        remaining.splice(i, 1);
        placed = true;
        break;
      }
      if (!placed) {
        for (const e of remaining) this.reportUnsafe(e, b);
        break;
      }
    }
    body.exprs = out.concat(remaining);
    return b;
  }

  /** Marks expressions that can run on the deterministic fast path given the bound slots. */
  private markDet(e: CExpr, b: Set<number>): void {
    if (e.t === "somein") {
      const fresh = (t: CTerm | null): boolean => t === null || (t.t === "var" && !b.has(t.slot));
      e.fastIter =
        fresh(e.key) &&
        fresh(e.value) &&
        !(e.key && e.key.t === "var" && e.value.t === "var" && e.key.slot === e.value.slot) &&
        this.isDet(e.coll, b);
    } else if (e.t === "not") {
      this.markDet(e.expr, b);
    } else if (e.t === "truthy") {
      e.det = this.isDet(e.term, b);
    } else if (e.t === "unify") {
      const da = this.isDet(e.a, b);
      const db = this.isDet(e.b, b);
      e.det = (da && db) || (da && e.b.t === "var") || (db && e.a.t === "var");
    }
  }

  isDet(t: CTerm, b: Set<number>): boolean {
    const outs = this.evalOuts(t, b);
    return outs !== null && outs.length === 0 && !hasRelation(t);
  }

  private reportUnsafe(e: CExpr, b: Set<number>): void {
    const vars = new Set<number>();
    collectSlotsExpr(e, vars);
    const names = [...vars]
      .filter((s) => !b.has(s) && !this.isOwnedByNested(e, s))
      .map((s) => this.slotNames[s]!)
      .filter((n) => n !== undefined);
    const uniq = [...new Set(names.map((n) => (n.startsWith("$wc") ? "_" : n)))];
    if (uniq.length === 0) uniq.push("_");
    for (const n of uniq)
      this.errors.push(new RegoError("rego_unsafe_var_error", `var ${n} is unsafe`, e.loc));
  }

  private isOwnedByNested(e: CExpr, slot: number): boolean {
    let found = false;
    walkNestedBodies(e, (body) => {
      if (this.ownedSlots.get(body)?.has(slot)) found = true;
    });
    return found;
  }

  /** Unsafe head terms (vars never bound by the body). */
  checkHead(terms: CTerm[], bound: Set<number>, loc: ast.Location): void {
    for (const t of terms) {
      if (this.evalOuts(t, bound) === null) {
        const vars = new Set<number>();
        collectSlots(t, vars);
        for (const s of vars) {
          if (!bound.has(s)) {
            const n = this.slotNames[s]!;
            this.errors.push(
              new RegoError("rego_unsafe_var_error", `var ${n.startsWith("$wc") ? "_" : n} is unsafe`, loc),
            );
          }
        }
      }
    }
  }

  private orderNested(e: CExpr, b: Set<number>): void {
    switch (e.t) {
      case "unify":
        this.orderTerm(e.a, b);
        this.orderTerm(e.b, b);
        return;
      case "truthy":
        this.orderTerm(e.term, b);
        return;
      case "somein":
        this.orderTerm(e.coll, b);
        return;
      case "every": {
        this.orderTerm(e.domain, b);
        const inner = new Set(b);
        if (e.key) collectSlots(e.key, inner);
        collectSlots(e.value, inner);
        this.order(e.body, inner);
        return;
      }
      case "not":
        this.orderNested(e.expr, b);
        return;
      case "with":
        for (const w of e.withs) if (w.value) this.orderTerm(w.value, b);
        this.orderNested(e.expr, b);
        return;
      case "nop":
        return;
    }
  }

  orderTerm(t: CTerm, b: Set<number>): void {
    switch (t.t) {
      case "ref":
        this.orderTerm(t.head, b);
        for (const p of t.path) this.orderTerm(p, b);
        return;
      case "array":
      case "set":
        for (const i of t.items) this.orderTerm(i, b);
        return;
      case "object":
        for (const [k, v] of t.items) {
          this.orderTerm(k, b);
          this.orderTerm(v, b);
        }
        return;
      case "call": {
        for (const a of t.args) this.orderTerm(a, b);
        if (this.seqOuts(t.args, b) === null) {
          const order = this.argOrder(t.args, b);
          if (order) t.order = order;
        }
        return;
      }
      case "comp": {
        const after = this.order(t.body, b);
        this.checkHead(t.key ? [t.key, t.term] : [t.term], after, t.body.loc);
        t.headDet = this.isDet(t.term, after) && (!t.key || this.isDet(t.key, after));
        return;
      }
      default:
        return;
    }
  }

  private freeSlotsBound(body: CBody, extra: CTerm[], b: Set<number>): boolean {
    const owned = this.ownedSlots.get(body) ?? new Set<number>();
    const used = new Set<number>();
    for (const e of body.exprs) collectSlotsExpr(e, used);
    for (const t of extra) collectSlots(t, used);
    for (const s of used) if (!owned.has(s) && !b.has(s)) return false;
    return true;
  }

  /** Slots an expression binds when run with `b` bound; null when it cannot run yet. */
  private exprOuts(e: CExpr, b: Set<number>): number[] | null {
    switch (e.t) {
      case "unify":
        return this.unifyOuts(e.a, e.b, b);
      case "truthy":
        return this.evalOuts(e.term, b);
      case "somein": {
        const c = this.evalOuts(e.coll, b);
        if (c === null) return null;
        const pats = accumulate(e.key ? [e.key, e.value] : [e.value], new Set([...b, ...c]), (p, bb) =>
          this.patOuts(p, bb),
        );
        return pats === null ? null : [...c, ...pats];
      }
      case "every": {
        if (this.evalOuts(e.domain, b) === null) return null;
        const inner = new Set(b);
        if (e.key) collectSlots(e.key, inner);
        collectSlots(e.value, inner);
        return this.freeSlotsBound(e.body, [], inner) ? [] : null;
      }
      case "not": {
        // Named variables of the enclosing body must be bound before a negation runs.
        const used = new Set<number>();
        collectSlotsExpr(e.expr, used);
        for (const s of used) {
          if (b.has(s) || this.slotNames[s]!.startsWith("$wc") || this.isOwnedByNested(e.expr, s)) continue;
          if (this.isLocalOnlyTo(e, s)) continue;
          return null;
        }
        return this.exprOuts(e.expr, b) === null ? null : [];
      }
      case "with": {
        for (const w of e.withs) if (w.value && this.evalOuts(w.value, b) === null) return null;
        return this.exprOuts(e.expr, b);
      }
      case "nop":
        return [];
    }
  }

  /** Set by the rule compiler: how often each slot occurs in the body (to find not-local vars). */
  slotUses: Map<number, number> | null = null;

  private isLocalOnlyTo(e: CExpr, slot: number): boolean {
    if (!this.slotUses) return false;
    const inExpr = new Map<number, number>();
    countSlotsExpr(e, inExpr);
    return (this.slotUses.get(slot) ?? 0) === (inExpr.get(slot) ?? 0);
  }

  evalOuts(t: CTerm, b: Set<number>): number[] | null {
    switch (t.t) {
      case "val":
      case "data":
      case "input":
        return [];
      case "var":
        return b.has(t.slot) ? [] : null;
      case "ref": {
        const outs = this.evalOuts(t.head, b);
        if (outs === null) return null;
        const b2 = new Set([...b, ...outs]);
        for (const p of t.path) {
          if (p.t === "var" && !b2.has(p.slot)) {
            b2.add(p.slot);
            outs.push(p.slot);
            continue;
          }
          const o = this.evalOuts(p, b2);
          if (o === null) {
            // Composite keys with unbound vars are patterns matched against the keys.
            const po = p.t === "array" || p.t === "object" ? this.patOuts(p, b2) : null;
            if (po === null) return null;
            for (const s of po) {
              b2.add(s);
              outs.push(s);
            }
            continue;
          }
          for (const s of o) {
            b2.add(s);
            outs.push(s);
          }
        }
        return outs;
      }
      case "array":
      case "set":
        return this.seqOuts(t.items, b);
      case "object":
        return this.seqOuts(t.items.flat(), b);
      case "call":
        return this.seqOuts(t.args, b) ?? this.fixpointOuts(t.args, b);
      case "comp":
        return this.freeSlotsBound(t.body, t.key ? [t.key, t.term] : [t.term], b) ? [] : null;
    }
  }

  /**
   * Outputs of a call whose operands bind each other out of textual order
   * (`x == xs[x]`): some operand binds what an earlier one needs.
   */
  private fixpointOuts(items: CTerm[], b: Set<number>): number[] | null {
    const order = this.argOrder(items, b);
    if (!order) return null;
    return this.seqOuts(
      order.map((i) => items[i]!),
      b,
    );
  }

  /** An evaluation order of operands in which each one's inputs are bound, or null. */
  argOrder(items: CTerm[], b: Set<number>): number[] | null {
    const b2 = new Set(b);
    const order: number[] = [];
    const left = items.map((_, i) => i);
    while (left.length > 0) {
      const j = left.findIndex((i) => this.evalOuts(items[i]!, b2) !== null);
      if (j < 0) return null;
      const i = left[j]!;
      for (const s of this.evalOuts(items[i]!, b2)!) b2.add(s);
      order.push(i);
      left.splice(j, 1);
    }
    return order;
  }

  private seqOuts(items: CTerm[], b: Set<number>): number[] | null {
    return accumulate(items, b, (i, bb) => this.evalOuts(i, bb));
  }

  patOuts(t: CTerm, b: Set<number>): number[] | null {
    switch (t.t) {
      case "var":
        return b.has(t.slot) ? [] : [t.slot];
      case "array":
        return accumulate(t.items, b, (i, bb) => this.patOuts(i, bb));
      case "object":
        // Keys must be known; values are patterns.
        return accumulate(t.items, b, ([k, v], bb) =>
          this.evalOuts(k, bb) === null ? null : this.patOuts(v, bb),
        );
      default:
        return this.evalOuts(t, b);
    }
  }

  private unifyOuts(a: CTerm, c: CTerm, b: Set<number>): number[] | null {
    const ea = this.evalOuts(a, b);
    if (ea !== null) {
      const pb = this.patOuts(c, new Set([...b, ...ea]));
      if (pb !== null) return [...ea, ...pb];
    }
    const eb = this.evalOuts(c, b);
    if (eb !== null) {
      const pa = this.patOuts(a, new Set([...b, ...eb]));
      if (pa !== null) return [...eb, ...pa];
    }
    let pairs: [CTerm, CTerm][] | null = null;
    if (a.t === "array" && c.t === "array" && a.items.length === c.items.length) {
      pairs = a.items.map((x, i) => [x, c.items[i]!]);
    } else if (a.t === "array" && c.t === "val" && Array.isArray(c.v)) {
      return this.patOuts(a, b);
    } else if (a.t === "object" && c.t === "object" && a.items.length === c.items.length) {
      pairs = [];
      for (const [k, v] of a.items) {
        const other = c.items.find(([k2]) => k2.t === "val" && k.t === "val" && keyEq(k.v, k2.v));
        if (!other) return null;
        pairs.push([v, other[1]]);
      }
    }
    if (!pairs) return null;
    const b2 = new Set(b);
    const outs: number[] = [];
    let left = pairs;
    while (left.length > 0) {
      const next: [CTerm, CTerm][] = [];
      for (const [x, y] of left) {
        const o = this.unifyOuts(x, y, b2);
        if (o === null) next.push([x, y]);
        else
          for (const s of o) {
            b2.add(s);
            outs.push(s);
          }
      }
      if (next.length === left.length) return null;
      left = next;
    }
    return outs;
  }
}

/**
 * Runs `step` over items in order, each seeing the slots the earlier ones
 * bind; the slots bound by all of them, or null when one cannot run.
 */
function accumulate<T>(
  items: T[],
  b: Set<number>,
  step: (x: T, b: Set<number>) => number[] | null,
): number[] | null {
  const outs: number[] = [];
  const b2 = new Set(b);
  for (const x of items) {
    const o = step(x, b2);
    if (o === null) return null;
    for (const s of o) {
      b2.add(s);
      outs.push(s);
    }
  }
  return outs;
}

/** An expression the evaluator can run without continuations (see CRule.fastBody). */
function isDetExpr(e: CExpr): boolean {
  if (e.t === "truthy" || e.t === "unify") return e.det === true;
  if (e.t === "not") return e.expr.t === "truthy" && e.expr.det === true;
  return e.t === "nop";
}

/** A call to a builtin that yields several results (walk) is never deterministic. */
function hasRelation(t: CTerm): boolean {
  switch (t.t) {
    case "ref":
      return hasRelation(t.head) || t.path.some(hasRelation);
    case "array":
    case "set":
      return t.items.some(hasRelation);
    case "object":
      return t.items.some(([k, v]) => hasRelation(k) || hasRelation(v));
    case "call":
      return (t.target.kind === "builtin" && t.target.def.relation === true) || t.args.some(hasRelation);
    default:
      return false;
  }
}

type ValTerm = { t: "val"; v: Value };
const isVal = (t: CTerm): t is ValTerm => t.t === "val";

function keyEq(a: Value, b: Value): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

function isOp(t: ast.CallTerm, name: string): boolean {
  return t.operator.head.type === "var" && t.operator.head.name === name && t.operator.path.length === 0;
}

function rootRef(root: "data" | "input", path: string[], loc: ast.Location): CTerm {
  const head: CTerm = { t: root };
  if (path.length === 0) return head;
  return { t: "ref", head, path: path.map((p) => ({ t: "val", v: p }) as CTerm), loc, res: undefined };
}

/** Compiles one rule (with its else chain) of a module. */
export function compileRuleChain(
  rule: ast.Rule,
  env: ModuleEnv,
  dynamicFrom: number,
): { chain: CRule[]; errors: RegoError[] } {
  const errors: RegoError[] = [];
  const chain: CRule[] = [];
  for (let r: ast.Rule | null = rule; r; r = r.else) {
    const c = new BodyCompiler(env);
    const head = r.head;
    const headTerms: ast.Term[] = [...head.ref.slice(dynamicFrom)];
    if (head.key) headTerms.push(head.key);
    if (head.value) headTerms.push(head.value);
    if (head.args) c.declareBodyVars([], head.args, true);
    c.declareBodyVars(r.body.exprs, headTerms);
    const params = head.args ? head.args.map((a) => c.term(a)) : null;
    const body = c.bodyRaw(r.body);
    const key = head.key ? c.term(head.key) : null;
    const value: CTerm = head.value ? c.term(head.value) : { t: "val", v: true };
    const dynamic = head.ref.slice(dynamicFrom).map((t) => c.term(t));
    const uses = new Map<number, number>();
    for (const e of body.exprs) countSlotsExpr(e, uses);
    c.slotUses = uses;
    const bound = new Set<number>();
    if (params) for (const p of params) collectSlots(p, bound);
    const after = c.order(body, bound);
    c.checkHead([...dynamic, ...(key ? [key] : []), value], after, head.loc);
    for (const t of [...dynamic, ...(key ? [key] : []), value]) c.orderTerm(t, after);
    errors.push(...c.errors);
    const headDet = [...dynamic, ...(key ? [key] : []), value].every((t) => c.isDet(t, after));
    chain.push({
      params,
      body,
      key,
      value,
      dynamic,
      nslots: c.nslots,
      loc: r.loc,
      constValue: value.t === "val" && key === null && dynamic.length === 0,
      simpleParams:
        params !== null &&
        params.every((p) => p.t === "var") &&
        new Set(params.map((p) => (p as { slot: number }).slot)).size === params.length,
      headDet,
      fastBody: headDet && dynamic.length === 0 && body.exprs.every(isDetExpr),
    });
  }
  return { chain, errors };
}

/** Compiles a query body; returns its named variables (slot per name) for result rows. */
export function compileQueryBody(
  body: ast.Body,
  env: ModuleEnv,
): { body: CBody; nslots: number; vars: [string, number][]; errors: RegoError[] } {
  const c = new BodyCompiler(env);
  c.declareBodyVars(body.exprs);
  const cb = c.bodyRaw(body);
  const uses = new Map<number, number>();
  for (const e of cb.exprs) countSlotsExpr(e, uses);
  c.slotUses = uses;
  c.order(cb, new Set());
  const vars: [string, number][] = [];
  const top = new Set<number>();
  for (const e of cb.exprs) collectOutside(e, top);
  for (const s of [...top].sort((a, b) => a - b)) {
    const name = c.slotNames[s]!;
    if (!name.startsWith("$") && !name.startsWith("__local")) vars.push([name, s]);
  }
  return { body: cb, nslots: c.nslots, vars, errors: c.errors };
}
