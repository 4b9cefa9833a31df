// One traversal of the IR for every analysis that needs to see all of it
// (slots used, nested bodies, data paths read). Hooks return false to skip
// the node's children.
import type { CBody, CExpr, CTerm } from "./ir.js";

export interface IRVisitor {
  term?(t: CTerm): boolean | void;
  expr?(e: CExpr): boolean | void;
  /** A nested body: of a comprehension or an `every`. */
  body?(b: CBody): boolean | void;
}

export function walkTerm(t: CTerm, v: IRVisitor): void {
  if (v.term?.(t) === false) return;
  switch (t.t) {
    case "ref":
      walkTerm(t.head, v);
      for (const p of t.path) walkTerm(p, v);
      return;
    case "array":
    case "set":
      for (const i of t.items) walkTerm(i, v);
      return;
    case "object":
      for (const [k, x] of t.items) {
        walkTerm(k, v);
        walkTerm(x, v);
      }
      return;
    case "call":
      for (const a of t.args) walkTerm(a, v);
      return;
    case "comp":
      if (t.key) walkTerm(t.key, v);
      walkTerm(t.term, v);
      walkBody(t.body, v);
      return;
    default:
      return;
  }
}

export function walkBody(b: CBody, v: IRVisitor): void {
  if (v.body?.(b) === false) return;
  for (const e of b.exprs) walkExpr(e, v);
}

export function walkExpr(e: CExpr, v: IRVisitor): void {
  if (v.expr?.(e) === false) return;
  switch (e.t) {
    case "unify":
      walkTerm(e.a, v);
      walkTerm(e.b, v);
      return;
    case "truthy":
      walkTerm(e.term, v);
      return;
    case "somein":
      if (e.key) walkTerm(e.key, v);
      walkTerm(e.value, v);
      walkTerm(e.coll, v);
      return;
    case "every":
      walkTerm(e.domain, v);
      if (e.key) walkTerm(e.key, v);
      walkTerm(e.value, v);
      walkBody(e.body, v);
      return;
    case "not":
      walkExpr(e.expr, v);
      return;
    case "with":
      for (const w of e.withs) if (w.value) walkTerm(w.value, v);
      walkExpr(e.expr, v);
      return;
    case "nop":
      return;
  }
}

/** Adds every variable slot the term uses (nested bodies included). */
export function collectSlots(t: CTerm, out: Set<number>): void {
  walkTerm(t, { term: (x) => void (x.t === "var" && out.add(x.slot)) });
}

export function collectSlotsExpr(e: CExpr, out: Set<number>): void {
  walkExpr(e, { term: (x) => void (x.t === "var" && out.add(x.slot)) });
}

/** Counts occurrences of each slot in an expression. */
export function countSlotsExpr(e: CExpr, out: Map<number, number>): void {
  walkExpr(e, { term: (x) => void (x.t === "var" && out.set(x.slot, (out.get(x.slot) ?? 0) + 1)) });
}

/** Calls fn for each body nested in the expression (comprehensions, `every`), at any depth. */
export function walkNestedBodies(e: CExpr, fn: (b: CBody) => void): void {
  walkExpr(e, { body: (b) => void fn(b) });
}

/** Slots used by the expression outside its nested bodies (and outside `every` bindings). */
export function collectOutside(e: CExpr, out: Set<number>): void {
  const term = (x: CTerm): boolean => {
    if (x.t === "var") out.add(x.slot);
    return x.t !== "comp";
  };
  walkExpr(e, {
    term,
    expr: (x) => {
      if (x.t !== "every") return true;
      walkTerm(x.domain, { term });
      return false;
    },
  });
}
