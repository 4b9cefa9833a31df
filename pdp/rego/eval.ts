// The evaluator: runs compiled bodies in continuation-passing style over a
// frame of variable slots. A continuation returns true to stop the search
// (negation, `every`, constant-valued rules need only one solution); bindings
// are undone on the way back, which is Rego's backtracking.
import type { Location } from "./ast.js";
import { BuiltinError, type BuiltinContext } from "./builtins/registry.js";
import { RegoError } from "./errors.js";
import type { CBody, CExpr, CRule, CTerm, CWith, CallTarget, RuleDef, StaticRes, TreeNode } from "./ir.js";
import { pathKey } from "./compiler.js";
import {
  ObjectBuilder,
  SetV,
  compare,
  equal,
  hashKey,
  isObject,
  objectEntries,
  objectGet,
  toRegoText,
  type ObjectV,
  type Value,
} from "./value.js";

export interface EvalOptions {
  /** The input document; absent means `input` is undefined. */
  input?: Value;
  /** Raise builtin errors instead of treating them as undefined (OPA's strict-builtin-errors). */
  strict?: boolean;
  /** Bound on evaluation steps; exceeding it is an `eval_cancel_error`. */
  maxSteps?: number;
  /** Wall-clock bound in milliseconds. */
  timeoutMs?: number;
  /** Where print() output goes; default stderr. */
  print?: (message: string) => void;
  /** time.now_ns for this query; default the wall clock at query start. */
  nowNs?: bigint;
}

export type ResultRow = Record<string, Value>;

export interface PreparedQuery {
  eval(opts?: EvalOptions): ResultRow[];
}

type K = () => boolean | void;
type KV = (v: Value) => boolean | void;

const IN_PROGRESS = Symbol("in-progress");
const UNDEF = Symbol("undefined");
type CacheEntry = Value | typeof IN_PROGRESS | typeof UNDEF;

type FnOverride = { fn: CallTarget | null; value: Value | null };

export const DEFAULT_MAX_STEPS = 50_000_000;
const ITER_LOC: Location | undefined = undefined;

export class Evaluator {
  input: Value | undefined;
  /** Rule values of this query, by TreeNode.id (a sparse array beats a Map here). */
  private cache: (CacheEntry | undefined)[] = [];
  /** Set while a `with data…` is in effect: static resolutions of data refs do not hold then. */
  dataOverrides: Map<string, Value> | null = null;
  private overridePaths: string[][] = [];
  fnOverrides: Map<string, FnOverride> | null = null;
  private steps = 0;
  private readonly maxSteps: number;
  private readonly deadline: number;
  private readonly strict: boolean;
  private readonly bctx: BuiltinContext;
  private callDepth = 0;

  constructor(
    private readonly root: TreeNode,
    private readonly baseData: Value,
    opts: EvalOptions,
  ) {
    this.input = opts.input;
    this.strict = opts.strict ?? false;
    this.maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
    this.deadline = opts.timeoutMs !== undefined ? Date.now() + opts.timeoutMs : Infinity;
    this.bctx = new LazyBuiltinContext(opts);
  }

  // ---- bodies and expressions ----

  evalBody(exprs: CExpr[], i: number, f: Value[], k: K): boolean | void {
    // Deterministic expressions run in a loop; the slots they bind are undone on the way out.
    let bound: number[] | null = null;
    try {
      for (; i < exprs.length; i++) {
        const e = exprs[i]!;
        if (e.t === "truthy" && e.det) {
          this.tick(e.loc);
          const v = this.det(e.term, f);
          if (v === undefined || v === false) return undefined;
        } else if (e.t === "unify" && e.det) {
          this.tick(e.loc);
          const r = this.detUnify(e.a, e.b, f);
          if (r === false) return undefined;
          if (r !== true) (bound ??= []).push(r);
        } else if (e.t === "somein" && e.fastIter) {
          // `some v in xs` / `some k, v in xs` over fresh variables: bind by assignment.
          this.tick(e.loc);
          const c = this.det(e.coll, f);
          if (c === undefined) return undefined;
          const vs = (e.value as { slot: number }).slot;
          const ks = e.key ? (e.key as { slot: number }).slot : -1;
          const rest = i + 1;
          try {
            return this.iterate(c, (key, val) => {
              f[vs] = val;
              if (ks >= 0) f[ks] = key;
              return this.evalBody(exprs, rest, f, k);
            });
          } finally {
            f[vs] = undefined as unknown as Value;
            if (ks >= 0) f[ks] = undefined as unknown as Value;
          }
        } else if (e.t === "not" && e.expr.t === "truthy" && e.expr.det) {
          this.tick(e.loc);
          const v = this.det(e.expr.term, f);
          if (v !== undefined && v !== false) return undefined;
        } else {
          return this.evalExpr(e, f, () => this.evalBody(exprs, i + 1, f, k));
        }
      }
      return k();
    } finally {
      if (bound) for (const s of bound) f[s] = undefined as unknown as Value;
    }
  }

  /** Unification on the fast path: true/false, or the slot it bound. */
  detUnify(a: CTerm, b: CTerm, f: Value[]): boolean | number {
    if (a.t === "var" && f[a.slot] === undefined) {
      const v = this.det(b, f);
      if (v === undefined) return false;
      f[a.slot] = v;
      return a.slot;
    }
    if (b.t === "var" && f[b.slot] === undefined) {
      const v = this.det(a, f);
      if (v === undefined) return false;
      f[b.slot] = v;
      return b.slot;
    }
    const va = this.det(a, f);
    if (va === undefined) return false;
    const vb = this.det(b, f);
    return vb !== undefined && equal(va, vb);
  }

  /** The single value of a deterministic term, or undefined. */
  det(t: CTerm, f: Value[]): Value | undefined {
    return ((t.dfn as DetFn | undefined) ?? detFn(t))(this, f);
  }

  /** One rule definition on its own (its else chain included). */
  evalDefinition(def: RuleDef): Value | undefined {
    return this.evalChain(def.chain, def.name, null);
  }

  /** The first value of a term evaluated outside any rule (the PDP's document lookups). */
  valueOf(t: CTerm): Value | undefined {
    return this.first(t, []);
  }

  first(t: CTerm, f: Value[]): Value | undefined {
    let out: Value | undefined;
    this.evalTerm(t, f, (v) => {
      out = v;
      return true;
    });
    return out;
  }

  private tick(loc: Location | undefined): void {
    if (++this.steps > this.maxSteps) {
      throw new RegoError("eval_cancel_error", "evaluation exceeded the step limit", loc);
    }
    if ((this.steps & 4095) === 0 && Date.now() > this.deadline) {
      throw new RegoError("eval_cancel_error", "evaluation exceeded the time limit", loc);
    }
  }

  private evalExpr(e: CExpr, f: Value[], k: K): boolean | void {
    this.tick(e.loc);
    switch (e.t) {
      case "unify":
        return this.unify(e.a, e.b, f, k);
      case "truthy":
        return this.evalTerm(e.term, f, (v) => (v !== false ? k() : undefined));
      case "somein":
        return this.evalTerm(e.coll, f, (c) =>
          this.iterate(c, (key, val) =>
            e.key
              ? this.unifyValue(e.key, key, f, () => this.unifyValue(e.value, val, f, k))
              : this.unifyValue(e.value, val, f, k),
          ),
        );
      case "every":
        return this.evalTerm(e.domain, f, (d) => {
          let all = true;
          this.iterate(d, (key, val) => {
            let found = false;
            const run = (): boolean => {
              this.evalBody(e.body.exprs, 0, f, () => {
                found = true;
                return true;
              });
              return found;
            };
            if (e.key) this.unifyValue(e.key, key, f, () => this.unifyValue(e.value, val, f, run));
            else this.unifyValue(e.value, val, f, run);
            if (!found) {
              all = false;
              return true;
            }
            return undefined;
          });
          if (!all || !isCollection(d)) return undefined;
          return k();
        });
      case "not": {
        let found = false;
        this.evalExpr(e.expr, f, () => {
          found = true;
          return true;
        });
        return found ? undefined : k();
      }
      case "with":
        return this.evalWith(e, f, k);
      case "nop":
        return k();
    }
  }

  /** Calls fn for each (key, value) of a collection in OPA's order; stops when fn returns true. */
  private iterate(c: Value, fn: (key: Value, val: Value) => boolean | void): boolean | void {
    // Every element visited counts as a step, so nested iteration is bounded too.
    if (Array.isArray(c)) {
      for (let i = 0; i < c.length; i++) {
        this.tick(ITER_LOC);
        if (fn(i, c[i]!)) return true;
      }
      return undefined;
    }
    if (c instanceof SetV) {
      for (const m of c.sorted()) {
        this.tick(ITER_LOC);
        if (fn(m, m)) return true;
      }
      return undefined;
    }
    if (isObject(c)) {
      for (const [key, val] of objectEntries(c)) {
        this.tick(ITER_LOC);
        if (fn(key, val)) return true;
      }
    }
    return undefined;
  }

  // ---- unification ----

  private hasUnbound(t: CTerm, f: Value[]): boolean {
    switch (t.t) {
      case "var":
        return f[t.slot] === undefined;
      case "array":
        for (const i of t.items) if (this.hasUnbound(i, f)) return true;
        return false;
      case "object":
        for (const [, v] of t.items) if (this.hasUnbound(v, f)) return true;
        return false;
      default:
        return false;
    }
  }

  private unify(a: CTerm, b: CTerm, f: Value[], k: K): boolean | void {
    if (!this.hasUnbound(a, f)) return this.evalTerm(a, f, (va) => this.unifyValue(b, va, f, k));
    if (!this.hasUnbound(b, f)) return this.evalTerm(b, f, (vb) => this.unifyValue(a, vb, f, k));
    if (a.t === "array" && b.t === "array" && a.items.length === b.items.length) {
      return this.unifyPairs(
        a.items.map((x, i) => [x, b.items[i]!] as [CTerm, CTerm]),
        0,
        f,
        k,
      );
    }
    if (a.t === "object" && b.t === "object" && a.items.length === b.items.length) {
      const pairs: [CTerm, CTerm][] = [];
      for (const [ka, va] of a.items) {
        const m = b.items.find(([kb]) => kb.t === "val" && ka.t === "val" && equal(ka.v, kb.v));
        if (!m) return undefined;
        pairs.push([va, m[1]]);
      }
      return this.unifyPairs(pairs, 0, f, k);
    }
    return undefined;
  }

  private unifyPairs(pairs: [CTerm, CTerm][], i: number, f: Value[], k: K): boolean | void {
    if (i === pairs.length) return k();
    // Prefer a pair that can run now; patterns on both sides may become bound later.
    for (let j = i; j < pairs.length; j++) {
      const [x, y] = pairs[j]!;
      if (!this.hasUnbound(x, f) || !this.hasUnbound(y, f)) {
        if (j !== i) {
          const rest = pairs.slice();
          [rest[i], rest[j]] = [rest[j]!, rest[i]!];
          return this.unify(x, y, f, () => this.unifyPairs(rest, i + 1, f, k));
        }
        return this.unify(x, y, f, () => this.unifyPairs(pairs, i + 1, f, k));
      }
    }
    const [x, y] = pairs[i]!;
    return this.unify(x, y, f, () => this.unifyPairs(pairs, i + 1, f, k));
  }

  unifyValue(pat: CTerm, v: Value, f: Value[], k: K): boolean | void {
    switch (pat.t) {
      case "var": {
        const cur = f[pat.slot];
        if (cur !== undefined) return equal(cur, v) ? k() : undefined;
        f[pat.slot] = v;
        try {
          return k();
        } finally {
          f[pat.slot] = undefined as unknown as Value;
        }
      }
      case "array":
        if (!Array.isArray(v) || v.length !== pat.items.length) return undefined;
        return this.unifyItems(pat.items, v, 0, f, k);
      case "object": {
        if (!isObject(v) || objectSizeOf(v) !== pat.items.length) return undefined;
        return this.unifyObject(pat.items, v, 0, f, k);
      }
      default:
        return this.evalTerm(pat, f, (pv) => (equal(pv, v) ? k() : undefined));
    }
  }

  private unifyItems(items: CTerm[], v: Value[], i: number, f: Value[], k: K): boolean | void {
    if (i === items.length) return k();
    return this.unifyValue(items[i]!, v[i]!, f, () => this.unifyItems(items, v, i + 1, f, k));
  }

  private unifyObject(items: [CTerm, CTerm][], v: ObjectV, i: number, f: Value[], k: K): boolean | void {
    if (i === items.length) return k();
    const [kt, vt] = items[i]!;
    return this.evalTerm(kt, f, (key) => {
      const x = objectGet(v, key);
      if (x === undefined) return undefined;
      return this.unifyValue(vt, x, f, () => this.unifyObject(items, v, i + 1, f, k));
    });
  }

  // ---- terms ----

  evalTerm(t: CTerm, f: Value[], k: KV): boolean | void {
    switch (t.t) {
      case "val":
        return k(t.v);
      case "var": {
        const v = f[t.slot];
        return v === undefined ? undefined : k(v);
      }
      case "input":
        return this.input === undefined ? undefined : k(this.input);
      case "data":
        return this.walkData(this.root, this.baseData, [], 0, f, k, []);
      case "ref":
        if (t.head.t === "data") {
          if (this.dataOverrides) return this.walkData(this.root, this.baseData, t.path, 0, f, k, []);
          const res = t.res ?? (t.res = this.resolveStatic(t.path));
          switch (res.kind) {
            case "rule": {
              const v = this.nodeValue(res.node, undefined, res.node.path);
              return v === undefined ? undefined : this.evalPath(v, t.path, res.depth, f, k);
            }
            case "base":
              return this.evalPath(res.value, t.path, res.depth, f, k);
            case "undefined":
              return undefined;
            default:
              return this.walkData(this.root, this.baseData, t.path, 0, f, k, []);
          }
        }
        if (t.head.t === "input") {
          return this.input === undefined ? undefined : this.evalPath(this.input, t.path, 0, f, k);
        }
        return this.evalTerm(t.head, f, (hv) => this.evalPath(hv, t.path, 0, f, k));
      case "array":
        return this.evalSeq(t.items, 0, new Array(t.items.length), f, (vals) => k(vals.slice()));
      case "set":
        return this.evalSeq(t.items, 0, new Array(t.items.length), f, (vals) => k(new SetV(vals)));
      case "object": {
        const flat = t.items.flat();
        return this.evalSeq(flat, 0, new Array(flat.length), f, (vals) => {
          const b = new ObjectBuilder();
          for (let i = 0; i < vals.length; i += 2) {
            if (!b.set(vals[i]!, vals[i + 1]!)) {
              throw new RegoError("eval_conflict_error", "object keys must be unique", t.loc);
            }
          }
          return k(b.build());
        });
      }
      case "comp":
        return k(this.evalComprehension(t, f));
      case "call":
        if (t.target.kind === "print") return this.evalPrint(t, f, k);
        if (t.order) return this.evalOrdered(t, f, k);
        return this.evalSeq(t.args, 0, new Array(t.args.length), f, (args) =>
          this.callFunction(t.target, args.slice(), t.loc, k),
        );
    }
  }

  private evalSeq(
    items: CTerm[],
    i: number,
    out: Value[],
    f: Value[],
    k: (vals: Value[]) => boolean | void,
  ): boolean | void {
    if (i === items.length) return k(out);
    return this.evalTerm(items[i]!, f, (v) => {
      out[i] = v;
      return this.evalSeq(items, i + 1, out, f, k);
    });
  }

  private evalOrdered(t: Extract<CTerm, { t: "call" }>, f: Value[], k: KV): boolean | void {
    const order = t.order!;
    const out = new Array<Value>(t.args.length);
    const step = (i: number): boolean | void => {
      if (i === order.length) return this.callFunction(t.target, out.slice(), t.loc, k);
      const j = order[i]!;
      return this.evalTerm(t.args[j]!, f, (v) => {
        out[j] = v;
        return step(i + 1);
      });
    };
    return step(0);
  }

  evalComprehension(t: Extract<CTerm, { t: "comp" }>, f: Value[]): Value {
    if (t.kind === "array") {
      const out: Value[] = [];
      if (t.headDet) {
        this.evalBody(t.body.exprs, 0, f, () => {
          const v = this.det(t.term, f);
          if (v !== undefined) out.push(v);
        });
      } else this.evalBody(t.body.exprs, 0, f, () => this.evalTerm(t.term, f, (v) => void out.push(v)));
      return out;
    }
    if (t.kind === "set") {
      const out = new SetV();
      if (t.headDet) {
        this.evalBody(t.body.exprs, 0, f, () => {
          const v = this.det(t.term, f);
          if (v !== undefined) out.add(v);
        });
      } else this.evalBody(t.body.exprs, 0, f, () => this.evalTerm(t.term, f, (v) => void out.add(v)));
      return out;
    }
    const b = new ObjectBuilder();
    this.evalBody(t.body.exprs, 0, f, () =>
      this.evalTerm(t.key!, f, (key) =>
        this.evalTerm(t.term, f, (v) => {
          if (!b.set(key, v))
            throw new RegoError("eval_conflict_error", "object keys must be unique", t.body.loc);
        }),
      ),
    );
    return b.build();
  }

  /** Looks up / iterates `path[i:]` inside a value. */
  private evalPath(v: Value, path: CTerm[], i: number, f: Value[], k: KV): boolean | void {
    if (i === path.length) return k(v);
    const p = path[i]!;
    if (p.t === "val") {
      const child = lookup(v, p.v);
      return child === undefined ? undefined : this.evalPath(child, path, i + 1, f, k);
    }
    if (p.t === "var") {
      const bound = f[p.slot];
      if (bound !== undefined) {
        const child = lookup(v, bound);
        return child === undefined ? undefined : this.evalPath(child, path, i + 1, f, k);
      }
      const slot = p.slot;
      try {
        return this.iterate(v, (key, val) => {
          f[slot] = key;
          return this.evalPath(val, path, i + 1, f, k);
        });
      } finally {
        f[slot] = undefined as unknown as Value;
      }
    }
    if ((p.t === "array" || p.t === "object") && this.hasUnbound(p, f)) {
      return this.iterate(v, (key, val) =>
        this.unifyValue(p, key, f, () => this.evalPath(val, path, i + 1, f, k)),
      );
    }
    return this.evalTerm(p, f, (key) => {
      const child = lookup(v, key);
      return child === undefined ? undefined : this.evalPath(child, path, i + 1, f, k);
    });
  }

  // ---- data: base documents merged with the rule tree ----

  private walkData(
    node: TreeNode | undefined,
    base: Value | undefined,
    path: CTerm[],
    i: number,
    f: Value[],
    k: KV,
    cur: string[],
  ): boolean | void {
    if (this.dataOverrides) {
      const o = this.dataOverrides.get(pathKey(cur));
      if (o !== undefined) return this.evalPath(o, path, i, f, k);
    }
    if (node && node.hasRules && base === undefined) {
      const v = this.nodeValue(node, base, cur);
      return v === undefined ? undefined : this.evalPath(v, path, i, f, k);
    }
    if (i === path.length) {
      const v = this.fullValue(node, base, cur);
      return v === undefined ? undefined : k(v);
    }
    if (!node && !this.overrideBelow(cur) && base !== undefined && !isObject(base)) {
      return this.evalPath(base, path, i, f, k);
    }
    if (!node && base === undefined && !this.overrideBelow(cur)) return undefined;
    const p = path[i]!;
    const step = (key: Value): boolean | void => {
      if (typeof key !== "string") {
        // The store addresses base documents by string keys: data.x[2] reads key "2".
        const b = base === undefined ? undefined : lookupBase(base, key);
        return b === undefined ? undefined : this.walkData(undefined, b, path, i + 1, f, k, cur);
      }
      const child = node?.children.get(key);
      const b = base === undefined ? undefined : lookup(base, key);
      if (!child && b === undefined && !this.overrideBelow([...cur, key])) return undefined;
      return this.walkData(child, b, path, i + 1, f, k, this.dataOverrides ? [...cur, key] : cur);
    };
    if (p.t === "val") return step(p.v);
    if (p.t === "var" && f[p.slot] !== undefined) return step(f[p.slot]!);
    if (p.t === "var" || this.hasUnbound(p, f)) {
      const v = this.fullValue(node, base, cur);
      return v === undefined ? undefined : this.evalPath(v, path, i, f, k);
    }
    return this.evalTerm(p, f, step);
  }

  /**
   * Follows the constant prefix of a data ref through the rule tree and base
   * data once, so that evaluation jumps straight to the rule or document.
   */
  resolveStatic(path: CTerm[]): StaticRes {
    let node: TreeNode | undefined = this.root;
    let base: Value | undefined = this.baseData;
    for (let i = 0; i < path.length; i++) {
      if (node && node.hasRules) {
        return base === undefined ? { kind: "rule", node, depth: i } : { kind: "dynamic" };
      }
      const p = path[i]!;
      if (p.t !== "val" || typeof p.v !== "string") {
        if (node) return { kind: "dynamic" };
        break;
      }
      node = node?.children.get(p.v);
      base = base === undefined ? undefined : lookupBase(base, p.v);
      if (!node) {
        // Pure base data from here: constant keys address the store (numbers as strings).
        let j = i + 1;
        for (; j < path.length && base !== undefined; j++) {
          const q = path[j]!;
          if (q.t !== "val") break;
          base = lookupBase(base, q.v);
        }
        return base === undefined ? { kind: "undefined" } : { kind: "base", value: base, depth: j };
      }
    }
    if (node && node.hasRules && base === undefined) return { kind: "rule", node, depth: path.length };
    return { kind: "dynamic" };
  }

  private overrideBelow(cur: string[]): boolean {
    if (!this.dataOverrides) return false;
    outer: for (const p of this.overridePaths) {
      if (p.length < cur.length) continue;
      for (let j = 0; j < cur.length; j++) if (p[j] !== cur[j]) continue outer;
      return true;
    }
    return false;
  }

  /** The whole document at a tree position: base data merged with the virtual documents below. */
  private fullValue(node: TreeNode | undefined, base: Value | undefined, cur: string[]): Value | undefined {
    if (this.dataOverrides) {
      const o = this.dataOverrides.get(pathKey(cur));
      if (o !== undefined) return o;
    }
    if (node && node.hasRules) return base !== undefined ? base : this.nodeValue(node, base, cur);
    if (!node && !this.overrideBelow(cur)) return base;
    const cached = node && !this.dataOverrides ? this.cache[node.id] : undefined;
    if (cached !== undefined && cached !== IN_PROGRESS) return cached === UNDEF ? undefined : cached;
    const b = new ObjectBuilder();
    if (base !== undefined) {
      if (!isObject(base)) return base;
      for (const [key, val] of objectEntries(base)) b.put(key, val);
    }
    if (node) {
      for (const [name, child] of node.children) {
        if (child.onlyFunctions) continue;
        const v = this.fullValue(child, base === undefined ? undefined : lookup(base, name), [...cur, name]);
        if (v !== undefined) b.put(name, v);
      }
    }
    if (this.dataOverrides) {
      for (const p of this.overridePaths) {
        if (p.length === cur.length + 1 && cur.every((c, j) => c === p[j])) {
          const v = this.dataOverrides.get(pathKey(p));
          if (v !== undefined) b.put(p[cur.length]!, v);
        } else if (p.length > cur.length + 1 && cur.every((c, j) => c === p[j])) {
          const name = p[cur.length]!;
          if (b.get(name) === undefined) {
            const v = this.fullValue(node?.children.get(name), undefined, [...cur, name]);
            if (v !== undefined) b.put(name, v);
          }
        }
      }
    }
    const out = b.build();
    if (node && !this.dataOverrides) this.cache[node.id] = out;
    return out;
  }

  /**
   * Rule indexing: true when the definition's first expression is `input.<path> == <constant>` and the
   * input holds something else there, so its body would fail on that expression. Skipping it is exact;
   * with mocked functions (`with equal as …`) nothing is skipped.
   */
  private excluded(def: RuleDef): boolean {
    const g = def.guard === undefined ? (def.guard = ruleGuard(def)) : def.guard;
    if (g === null || this.fnOverrides) return false;
    let v: Value | undefined = this.input;
    for (let i = 0; i < g.path.length && v !== undefined; i++) v = lookup(v, g.path[i]!);
    return v === undefined || !equal(v, g.value as Value);
  }

  /** The value of the rules at `node` (memoised per query). */
  ruleValue(node: TreeNode): Value | undefined {
    return this.nodeValue(node, undefined, node.path);
  }

  /** Value of a node that has rules (memoised per query). */
  private nodeValue(node: TreeNode, base: Value | undefined, cur: string[]): Value | undefined {
    const cached = this.cache[node.id];
    if (cached === IN_PROGRESS) {
      throw new RegoError("rego_recursion_error", `rule ${node.name} is recursive`, node.complete[0]?.loc);
    }
    if (cached !== undefined) return cached === UNDEF ? undefined : cached;
    this.cache[node.id] = IN_PROGRESS;
    let v: Value | undefined;
    try {
      v = this.computeNode(node, base, cur);
    } catch (e) {
      this.cache[node.id] = undefined;
      throw e;
    }
    this.cache[node.id] = v === undefined ? UNDEF : v;
    return v;
  }

  private computeNode(node: TreeNode, base: Value | undefined, cur: string[]): Value | undefined {
    const mode = node.mode;
    if (mode === "complete") return this.evalComplete(node);
    if (mode === "set") {
      const out = new SetV();
      const multi = node.multi;
      for (let d = 0; d < multi.length; d++) {
        if (this.excluded(multi[d]!)) continue;
        const chain = multi[d]!.chain;
        for (let c = 0; c < chain.length; c++) {
          const r = chain[c]!;
          const fr = newFrame(r.nslots);
          if (r.fastBody) {
            if (this.runDet(r.body, fr)) {
              const v = this.det(r.key!, fr);
              if (v !== undefined) out.add(v);
            }
          } else if (r.headDet) {
            this.evalBody(r.body.exprs, 0, fr, () => {
              const v = this.det(r.key!, fr);
              if (v !== undefined) out.add(v);
            });
          } else this.evalBody(r.body.exprs, 0, fr, () => this.evalTerm(r.key!, fr, (v) => void out.add(v)));
        }
      }
      // A multi-value rule may also have children (`a.b contains x` and `a.b.c := 1` is a conflict in OPA).
      return out;
    }
    // Partial object rules (ref heads with variables), possibly with static children.
    const tree = new NestedBuilder();
    for (const def of [...node.partial, ...node.multi]) {
      for (const r of def.chain) {
        const fr = newFrame(r.nslots);
        this.evalBody(r.body.exprs, 0, fr, () =>
          this.evalSeq(r.dynamic, 0, new Array(r.dynamic.length), fr, (keys) =>
            r.key
              ? this.evalTerm(r.key, fr, (v) => void tree.addToSet(keys.slice(), v, def.name, r.loc))
              : this.evalTerm(r.value, fr, (v) => void tree.insert(keys.slice(), v, def.name, r.loc)),
          ),
        );
      }
    }
    for (const [name, child] of node.children) {
      if (child.onlyFunctions) continue;
      const v = this.fullValue(child, base === undefined ? undefined : lookup(base, name), [...cur, name]);
      if (v !== undefined) tree.insert([name], v, `${node.name}.${name}`, child.complete[0]?.loc);
    }
    return tree.build();
  }

  private evalComplete(node: TreeNode): Value | undefined {
    let result: Value | undefined;
    let from: RuleDef | undefined;
    for (const def of node.complete) {
      if (this.excluded(def)) continue;
      const v = this.evalChain(def.chain, def.name, null);
      if (v === undefined) continue;
      if (result === undefined) {
        result = v;
        from = def;
      } else if (!equal(result, v)) {
        throw conflict(def.name, def.loc ?? from?.loc);
      }
    }
    if (result === undefined && node.defaultRule) {
      result = this.evalChain(node.defaultRule.chain, node.defaultRule.name, null);
    }
    return result;
  }

  /** First link of an else chain whose body succeeds gives the value; all its solutions must agree. */
  /**
   * Runs a body whose every expression is deterministic: no continuations, no
   * undo (the frame is thrown away after). True when the body succeeds.
   */
  private runDet(body: CBody, f: Value[]): boolean {
    return ((body.run as BodyFn | undefined) ?? bodyFn(body))(this, f);
  }

  /** A deterministic body's expressions count as steps all at once: it cannot loop. */
  ticks(n: number, loc: Location | undefined): void {
    this.steps += n - 1;
    this.tick(loc);
  }

  private evalChain(chain: CRule[], name: string, args: Value[] | null): Value | undefined {
    for (let c = 0; c < chain.length; c++) {
      const r = chain[c]!;
      const fr = newFrame(r.nslots);
      if (r.fastBody && (!args || r.simpleParams)) {
        // The common case: parameters are variables and every expression is deterministic.
        if (args)
          for (let i = 0; i < args.length; i++) fr[(r.params![i] as { slot: number }).slot] = args[i]!;
        if (!this.runDet(r.body, fr)) continue;
        const v = this.det(r.value, fr);
        if (v !== undefined) return v;
        continue;
      }
      let result: Value | undefined;
      const take = (v: Value): boolean | undefined => {
        if (result === undefined) result = v;
        else if (!equal(result, v)) {
          throw args ? fnConflict(name, r.loc) : conflict(name, r.loc);
        }
        return r.constValue ? true : undefined;
      };
      const onSolution = r.headDet
        ? (): boolean | void => {
            const v = this.det(r.value, fr);
            return v === undefined ? undefined : take(v);
          }
        : (): boolean | void => this.evalTerm(r.value, fr, take);
      if (args && r.params) {
        if (r.simpleParams) {
          // Distinct variables as parameters: bind directly, no unification needed.
          for (let i = 0; i < args.length; i++) fr[(r.params[i] as { slot: number }).slot] = args[i]!;
          this.evalBody(r.body.exprs, 0, fr, onSolution);
        } else {
          this.unifyParams(r.params, args, 0, fr, () => this.evalBody(r.body.exprs, 0, fr, onSolution));
        }
      } else {
        this.evalBody(r.body.exprs, 0, fr, onSolution);
      }
      if (result !== undefined) return result;
    }
    return undefined;
  }

  private unifyParams(params: CTerm[], args: Value[], i: number, f: Value[], k: K): boolean | void {
    if (i === params.length) return k();
    return this.unifyValue(params[i]!, args[i]!, f, () => this.unifyParams(params, args, i + 1, f, k));
  }

  // ---- calls ----

  /** A call's single value (relations and mocks go through callFunction). */
  callValue(target: CallTarget, args: Value[], loc: Location): Value | undefined {
    if (this.fnOverrides || (target.kind === "builtin" && target.def.relation)) {
      let out: Value | undefined;
      this.callFunction(target, args, loc, (v) => {
        out = v;
        return true;
      });
      return out;
    }
    if (target.kind === "builtin") return this.callBuiltin(target, args, loc);
    if (target.kind === "user") return this.callUser(target, args, loc);
    return true;
  }

  private callBuiltin(
    target: Extract<CallTarget, { kind: "builtin" }>,
    args: Value[],
    loc: Location,
  ): Value | undefined {
    try {
      return target.def.fn(args, this.bctx);
    } catch (e) {
      if (e instanceof RegoError) {
        if (!e.location) throw new RegoError(e.code, e.detail, loc);
        throw e;
      }
      if (e instanceof BuiltinError) {
        if (this.strict) throw new RegoError(e.code, e.message, loc);
        return undefined;
      }
      if (e instanceof RangeError && /call stack/i.test(e.message)) throw e;
      if (this.strict) {
        throw new RegoError(
          "eval_builtin_error",
          `${target.name}: ${(e as Error).message ?? String(e)}`,
          loc,
        );
      }
      return undefined;
    }
  }

  private callFunction(target: CallTarget, args: Value[], loc: Location, k: KV): boolean | void {
    if (this.fnOverrides) {
      const key = target.kind === "print" ? "print" : target.name;
      const o = this.fnOverrides.get(key);
      if (o) {
        if (o.value !== null) return k(o.value);
        if (o.fn && o.fn !== target) {
          const saved = this.fnOverrides;
          // A replacement runs without any function mocks (OPA: a mock never calls another mock).
          this.fnOverrides = null;
          try {
            const out: Value[] = [];
            this.callFunction(o.fn, args, loc, (v) => void out.push(v));
            // The caller's continuation runs with the mocks back in place.
            this.fnOverrides = saved;
            for (const v of out) if (k(v)) return true;
            return undefined;
          } finally {
            this.fnOverrides = saved;
          }
        }
      }
    }
    if (target.kind === "builtin") {
      const def = target.def;
      const r = this.callBuiltin(target, args, loc);
      if (r === undefined) return undefined;
      if (def.relation) {
        for (const x of r as Value[]) if (k(x)) return true;
        return undefined;
      }
      return k(r);
    }
    if (target.kind === "user") {
      const v = this.callUser(target, args, loc);
      return v === undefined ? undefined : k(v);
    }
    return k(true);
  }

  private callUser(
    target: Extract<CallTarget, { kind: "user" }>,
    args: Value[],
    loc: Location,
  ): Value | undefined {
    let node = target.node;
    if (node === undefined) {
      let n: TreeNode | undefined = this.root;
      for (const p of target.path) n = n?.children.get(p);
      node = target.node = n && n.functions.length > 0 ? n : null;
    }
    if (!node) return undefined;
    if (++this.callDepth > 2000) {
      this.callDepth = 0;
      throw new RegoError("rego_recursion_error", `function ${target.name} is recursive`, loc);
    }
    try {
      let result: Value | undefined;
      let dflt: RuleDef | undefined;
      for (const def of node.functions) {
        if (def.isDefault) {
          dflt = def;
          continue;
        }
        const v = this.evalChain(def.chain, def.name, args);
        if (v === undefined) continue;
        if (result === undefined) result = v;
        else if (!equal(result, v)) throw fnConflict(def.name, def.loc);
      }
      if (result === undefined && dflt) result = this.evalChain(dflt.chain, dflt.name, args);
      return result;
    } finally {
      this.callDepth--;
    }
  }

  private evalPrint(t: Extract<CTerm, { t: "call" }>, f: Value[], k: KV): boolean | void {
    const parts = t.args.map((a) => {
      const vals: Value[] = [];
      try {
        this.evalTerm(a, f, (v) => void vals.push(v));
      } catch (e) {
        if (!(e instanceof RegoError) || e.code === "eval_cancel_error") throw e;
      }
      if (vals.length === 0) return "<undefined>";
      return vals.map((v) => (typeof v === "string" ? v : toRegoText(v))).join(", ");
    });
    this.bctx.print(parts.join(" "));
    return k(true);
  }

  // ---- with ----

  private evalWith(e: Extract<CExpr, { t: "with" }>, f: Value[], k: K): boolean | void {
    const vals: (Value | undefined)[] = [];
    for (const w of e.withs) {
      let v: Value | undefined;
      if (w.kind !== "fn" || w.value) {
        this.evalTerm(w.value!, f, (x) => {
          v = x;
          return true;
        });
        if (v === undefined) return undefined;
      }
      vals.push(v);
    }
    const saved = this.saveState();
    this.applyWith(e.withs, vals);
    try {
      return this.evalExpr(e.expr, f, () => {
        const inner = this.saveState();
        this.restoreState(saved);
        try {
          return k();
        } finally {
          this.restoreState(inner);
        }
      });
    } finally {
      this.restoreState(saved);
    }
  }

  private saveState(): WithState {
    return {
      input: this.input,
      cache: this.cache,
      dataOverrides: this.dataOverrides,
      overridePaths: this.overridePaths,
      fnOverrides: this.fnOverrides,
    };
  }

  private restoreState(s: WithState): void {
    this.input = s.input;
    this.cache = s.cache;
    this.dataOverrides = s.dataOverrides;
    this.overridePaths = s.overridePaths;
    this.fnOverrides = s.fnOverrides;
  }

  private applyWith(withs: CWith[], vals: (Value | undefined)[]): void {
    let data = this.dataOverrides;
    let paths = this.overridePaths;
    let fns = this.fnOverrides;
    withs.forEach((w, i) => {
      const v = vals[i];
      if (w.kind === "input") {
        this.input = w.path.length === 0 ? v : patch(this.input, w.path, v!);
      } else if (w.kind === "data") {
        data = new Map(data ?? []);
        // A later override of an enclosing path replaces earlier ones below it.
        const key = pathKey(w.path);
        data.set(key, v!);
        paths = [...paths.filter((p) => pathKey(p) !== key), w.path];
      } else {
        fns = new Map(fns ?? []);
        fns.set(w.key, { fn: w.fn, value: w.fn ? null : (v ?? null) });
      }
    });
    this.dataOverrides = data;
    this.overridePaths = paths;
    this.fnOverrides = fns;
    this.cache = [];
  }
}

interface WithState {
  input: Value | undefined;
  cache: (CacheEntry | undefined)[];
  dataOverrides: Map<string, Value> | null;
  overridePaths: string[][];
  fnOverrides: Map<string, FnOverride> | null;
}

const NO_SLOTS: Value[] = [];
const hasOwn = Object.prototype.hasOwnProperty;

function newFrame(n: number): Value[] {
  // A body without variables never writes its frame, so one shared empty array serves.
  return n === 0 ? NO_SLOTS : new Array<Value>(n);
}

function isCollection(v: Value): boolean {
  return Array.isArray(v) || v instanceof SetV || isObject(v);
}

function objectSizeOf(o: ObjectV): number {
  return objectEntries(o).length;
}

function lookupBase(v: Value, key: Value): Value | undefined {
  if (isObject(v) && typeof key === "number" && Number.isInteger(key)) return objectGet(v, String(key));
  return lookup(v, key);
}

/** `v[key]` for arrays (integer index), objects and sets (membership); undefined otherwise. */
export function lookup(v: Value, key: Value): Value | undefined {
  // String keys into plain objects are nearly every lookup a policy makes: test for them first.
  // (Built objects have a null prototype, so no `constructor`; arrays, sets and ObjMaps have theirs.)
  if (
    typeof key === "string" &&
    typeof v === "object" &&
    v !== null &&
    (v.constructor === Object || v.constructor === undefined)
  ) {
    const x = (v as Record<string, Value>)[key];
    // A miss, or an Object.prototype member (all functions but `__proto__`): not a Rego value.
    if (x === undefined || typeof x === "function") return undefined;
    return key !== "__proto__" || hasOwn.call(v, key) ? x : undefined;
  }
  if (Array.isArray(v)) {
    if (typeof key !== "number" || !Number.isInteger(key) || key < 0 || key >= v.length) return undefined;
    return v[key];
  }
  if (v instanceof SetV) return v.has(key) ? key : undefined;
  if (isObject(v)) return objectGet(v, key);
  return undefined;
}

function patch(base: Value | undefined, path: string[], v: Value): Value {
  if (path.length === 0) return v;
  const b = new ObjectBuilder();
  if (base !== undefined && isObject(base)) for (const [key, val] of objectEntries(base)) b.put(key, val);
  const head = path[0]!;
  const child = base !== undefined && isObject(base) ? objectGet(base, head) : undefined;
  b.put(head, patch(child, path.slice(1), v));
  return b.build();
}

function conflict(name: string, loc?: Location): RegoError {
  return new RegoError(
    "eval_conflict_error",
    `complete rules must not produce multiple outputs: rule ${name} produced conflicting values`,
    loc,
  );
}

function fnConflict(name: string, loc?: Location): RegoError {
  return new RegoError(
    "eval_conflict_error",
    `functions must not produce multiple outputs for same inputs: function ${name} produced conflicting values for the same inputs`,
    loc,
  );
}

/** Builds the object of a partial-object rule, nesting by the dynamic key path. */
class NestedBuilder {
  private readonly entries = new Map<
    unknown,
    { key: Value; child?: NestedBuilder; value?: Value; set?: SetV }
  >();

  insert(keys: Value[], v: Value, name: string, loc: Location | undefined): void {
    const [head, ...rest] = keys;
    const h = hashKey(head!);
    let e = this.entries.get(h);
    const label = `${name}.${typeof head === "string" ? head : toRegoText(head!)}`;
    if (rest.length === 0) {
      if (e) {
        const cur = e.value ?? (e.child ? e.child.build() : e.set);
        if (cur === undefined || !equal(cur, v)) {
          throw new RegoError(
            "eval_conflict_error",
            `object keys must be unique: rule ${label} produced conflicting values`,
            loc,
          );
        }
        return;
      }
      this.entries.set(h, { key: head!, value: v });
      return;
    }
    if (!e) {
      e = { key: head!, child: new NestedBuilder() };
      this.entries.set(h, e);
    }
    if (!e.child) {
      throw new RegoError(
        "eval_conflict_error",
        `object keys must be unique: rule ${label} produced conflicting values`,
        loc,
      );
    }
    e.child.insert(rest, v, label, loc);
  }

  addToSet(keys: Value[], v: Value, name: string, loc: Location | undefined): void {
    if (keys.length === 0) return;
    const [head, ...rest] = keys;
    const h = hashKey(head!);
    let e = this.entries.get(h);
    if (rest.length === 0) {
      if (!e) {
        e = { key: head!, set: new SetV() };
        this.entries.set(h, e);
      }
      if (!e.set) throw new RegoError("eval_conflict_error", `rule ${name} produced conflicting values`, loc);
      e.set.add(v);
      return;
    }
    if (!e) {
      e = { key: head!, child: new NestedBuilder() };
      this.entries.set(h, e);
    }
    e.child!.addToSet(rest, v, name, loc);
  }

  build(): Value {
    const b = new ObjectBuilder();
    for (const e of this.entries.values()) b.put(e.key, e.value ?? e.set ?? e.child!.build());
    return b.build();
  }
}

type DetFn = (ev: Evaluator, f: Value[]) => Value | undefined;

/** The index entry of a definition (see RuleDef.guard): single-link chains only, else chains never. */
function ruleGuard(def: RuleDef): { path: string[]; value: Value } | null {
  if (def.chain.length !== 1) return null;
  const first = def.chain[0]!.body.exprs[0];
  if (!first || first.t !== "truthy") return null;
  const t = first.term;
  if (t.t !== "call" || t.target.kind !== "builtin" || t.target.name !== "equal" || t.args.length !== 2) {
    return null;
  }
  for (const [a, b] of [
    [t.args[0]!, t.args[1]!],
    [t.args[1]!, t.args[0]!],
  ] as const) {
    if (a.t !== "ref" || a.head.t !== "input" || b.t !== "val") continue;
    if (!a.path.every((p) => p.t === "val" && typeof p.v === "string")) continue;
    const v = b.v;
    if (v !== null && typeof v === "object") continue;
    return { path: a.path.map((p) => (p as { v: string }).v), value: v };
  }
  return null;
}

const COMPARISONS: Record<string, ((a: Value, b: Value) => boolean) | undefined> = {
  equal: (a, b) => equal(a, b),
  neq: (a, b) => !equal(a, b),
  lt: (a, b) => compare(a, b) < 0,
  lte: (a, b) => compare(a, b) <= 0,
  gt: (a, b) => compare(a, b) > 0,
  gte: (a, b) => compare(a, b) >= 0,
};

/**
 * Compiles a deterministic term into a closure once (cached on the term), so
 * the hot path runs straight-line code instead of re-dispatching on the IR.
 */
/**
 * A deterministic ref into `data`, specialised on first use to what its static prefix names (a rule,
 * a base document, nothing); the resolution depends only on the compiled policy, never on the query.
 */
function dataDet(t: Extract<CTerm, { t: "ref" }>): DetFn {
  let impl: DetFn | undefined;
  return (ev, f) => (impl ??= specialiseData(t, ev.resolveStatic(t.path)))(ev, f);
}

function specialiseData(t: Extract<CTerm, { t: "ref" }>, res: StaticRes): DetFn {
  t.res ??= res;
  if (res.kind === "dynamic") return (ev, f) => ev.first(t, f);
  if (res.kind === "undefined") return (ev, f) => (ev.dataOverrides ? ev.first(t, f) : undefined);
  const rest = t.path.slice(res.depth).map((p) => detFn(p));
  const n = rest.length;
  const node = res.kind === "rule" ? res.node : undefined;
  const base = res.kind === "base" ? res.value : undefined;
  return (ev, f) => {
    if (ev.dataOverrides) return ev.first(t, f);
    let v = node ? ev.ruleValue(node) : base;
    for (let i = 0; i < n && v !== undefined; i++) {
      const key = rest[i]!(ev, f);
      if (key === undefined) return undefined;
      v = lookup(v, key);
    }
    return v;
  };
}

type BodyFn = (ev: Evaluator, f: Value[]) => boolean;

/** A body whose every expression is deterministic as one closure: no dispatch per expression. */
function bodyFn(body: CBody): BodyFn {
  const checks = body.exprs.map(exprCheck);
  const n = checks.length;
  const loc = body.exprs[0]?.loc;
  const fn: BodyFn = (ev, f) => {
    ev.ticks(n, loc);
    for (let i = 0; i < n; i++) if (!checks[i]!(ev, f)) return false;
    return true;
  };
  body.run = fn;
  return fn;
}

function exprCheck(e: CExpr): BodyFn {
  switch (e.t) {
    case "truthy": {
      const term = detFn(e.term);
      return (ev, f) => {
        const v = term(ev, f);
        return v !== undefined && v !== false;
      };
    }
    case "unify": {
      const a = e.a;
      const b = e.b;
      return (ev, f) => ev.detUnify(a, b, f) !== false;
    }
    case "not": {
      const term = detFn((e.expr as Extract<CExpr, { t: "truthy" }>).term);
      return (ev, f) => {
        const v = term(ev, f);
        return v === undefined || v === false;
      };
    }
    default:
      return () => true;
  }
}

function detFn(t: CTerm): DetFn {
  const fn = buildDet(t);
  t.dfn = fn;
  return fn;
}

function buildDet(t: CTerm): DetFn {
  switch (t.t) {
    case "val": {
      const v = t.v;
      return () => v;
    }
    case "var": {
      const s = t.slot;
      return (_ev, f) => f[s];
    }
    case "input":
      return (ev) => ev.input;
    case "ref": {
      if (t.head.t === "data") return dataDet(t);
      const head = t.head.t === "input" ? (ev: Evaluator) => ev.input : detFn(t.head);
      const path = t.path;
      if (path.every((p) => p.t === "val")) {
        const keys = path.map((p) => (p as { v: Value }).v);
        const n = keys.length;
        return (ev, f) => {
          let v = head(ev, f);
          for (let i = 0; i < n && v !== undefined; i++) v = lookup(v, keys[i]!);
          return v;
        };
      }
      const parts = path.map((p) => detFn(p));
      return (ev, f) => {
        let v = head(ev, f);
        for (let i = 0; i < parts.length && v !== undefined; i++) {
          const key = parts[i]!(ev, f);
          if (key === undefined) return undefined;
          v = lookup(v, key);
        }
        return v;
      };
    }
    case "call": {
      if (t.target.kind === "print" || t.order) return (ev, f) => ev.first(t, f);
      const cmp = t.target.kind === "builtin" && t.args.length === 2 ? COMPARISONS[t.target.name] : undefined;
      if (cmp) {
        // Comparisons are total (never fail): run them inline unless a `with` mocks functions.
        const a = detFn(t.args[0]!);
        const b = detFn(t.args[1]!);
        const target = t.target;
        const loc = t.loc;
        return (ev, f) => {
          const x = a(ev, f);
          if (x === undefined) return undefined;
          const y = b(ev, f);
          if (y === undefined) return undefined;
          return ev.fnOverrides ? ev.callValue(target, [x, y], loc) : cmp(x, y);
        };
      }
      const args = t.args.map((a) => detFn(a));
      const n = args.length;
      const target = t.target;
      const loc = t.loc;
      return (ev, f) => {
        const vals = new Array<Value>(n);
        for (let i = 0; i < n; i++) {
          const v = args[i]!(ev, f);
          if (v === undefined) return undefined;
          vals[i] = v;
        }
        return ev.callValue(target, vals, loc);
      };
    }
    case "comp":
      return (ev, f) => ev.evalComprehension(t, f);
    case "array":
    case "set": {
      // Collection literals in decision documents and builtin arguments: build them without continuations.
      const items = t.items.map((i) => detFn(i));
      const n = items.length;
      const isSet = t.t === "set";
      return (ev, f) => {
        const vals = new Array<Value>(n);
        for (let i = 0; i < n; i++) {
          const v = items[i]!(ev, f);
          if (v === undefined) return undefined;
          vals[i] = v;
        }
        return isSet ? new SetV(vals) : vals;
      };
    }
    case "object": {
      const keys = t.items.map(([key]) => detFn(key));
      const vals = t.items.map(([, val]) => detFn(val));
      const n = keys.length;
      const loc = t.loc;
      return (ev, f) => {
        const b = new ObjectBuilder();
        for (let i = 0; i < n; i++) {
          const key = keys[i]!(ev, f);
          if (key === undefined) return undefined;
          const v = vals[i]!(ev, f);
          if (v === undefined) return undefined;
          if (!b.set(key, v)) throw new RegoError("eval_conflict_error", "object keys must be unique", loc);
        }
        return b.build();
      };
    }
    default:
      return (ev, f) => ev.first(t, f);
  }
}

/** Per-query builtin context, built lazily: most queries never read the clock or the memo. */
class LazyBuiltinContext implements BuiltinContext {
  private now: bigint | undefined;
  private memoMap: Map<string, Value> | undefined;
  private readonly sink: ((message: string) => void) | undefined;
  constructor(opts: EvalOptions) {
    this.now = opts.nowNs;
    this.sink = opts.print;
  }
  get nowNs(): bigint {
    return (this.now ??= BigInt(Date.now()) * 1_000_000n);
  }
  get memo(): Map<string, Value> {
    return (this.memoMap ??= new Map());
  }
  print(message: string): void {
    if (this.sink) this.sink(message);
    else process.stderr.write(message + "\n");
  }
}

/** Evaluates a compiled query body and collects rows of the named variables. */
export function runQuery(ev: Evaluator, body: CBody, nslots: number, vars: [string, number][]): ResultRow[] {
  const rows: ResultRow[] = [];
  const f = newFrame(nslots);
  try {
    ev.evalBody(body.exprs, 0, f, () => {
      const row: ResultRow = {};
      for (const [name, slot] of vars) {
        const v = f[slot];
        if (v !== undefined) row[name] = v;
      }
      rows.push(row);
    });
  } catch (e) {
    let err: unknown = e;
    if (e instanceof RangeError) {
      err = new RegoError("eval_cancel_error", "evaluation exceeded the maximum stack depth", body.loc);
    } else if (!(e instanceof RegoError)) {
      err = new RegoError("eval_internal_error", (e as Error)?.message ?? String(e), body.loc);
    }
    (err as RegoError & { partialRows?: ResultRow[] }).partialRows = rows;
    throw err;
  }
  return rows;
}
