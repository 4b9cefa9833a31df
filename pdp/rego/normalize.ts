// Gives every IR term and every IR expression one object shape. The evaluator
// switches on `t.t` millions of times a second; with a dozen shapes V8's inline
// caches go megamorphic and each property read becomes a slow lookup. One class
// per kind of node keeps them monomorphic. Pure performance: no semantics here.
import type { CBody, CExpr, CRule, CTerm, CWith } from "./ir.js";

class TermNode {
  t: unknown;
  v: unknown = undefined;
  slot: unknown = undefined;
  name: unknown = undefined;
  head: unknown = undefined;
  path: unknown = undefined;
  loc: unknown = undefined;
  res: unknown = undefined;
  items: unknown = undefined;
  kind: unknown = undefined;
  key: unknown = undefined;
  term: unknown = undefined;
  body: unknown = undefined;
  headDet: unknown = undefined;
  target: unknown = undefined;
  args: unknown = undefined;
  order: unknown = undefined;
  dfn: unknown = undefined;
  constructor(t: unknown) {
    this.t = t;
  }
}

class ExprNode {
  t: unknown;
  a: unknown = undefined;
  b: unknown = undefined;
  loc: unknown = undefined;
  det: unknown = undefined;
  term: unknown = undefined;
  key: unknown = undefined;
  value: unknown = undefined;
  coll: unknown = undefined;
  domain: unknown = undefined;
  body: unknown = undefined;
  expr: unknown = undefined;
  withs: unknown = undefined;
  fastIter: unknown = undefined;
  constructor(t: unknown) {
    this.t = t;
  }
}

export function normalizeTerm(t: CTerm): CTerm {
  const n = new TermNode(t.t) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(t)) n[k] = v;
  switch (t.t) {
    case "ref":
      n.head = normalizeTerm(t.head);
      n.path = t.path.map(normalizeTerm);
      break;
    case "array":
    case "set":
      n.items = t.items.map(normalizeTerm);
      break;
    case "object":
      n.items = t.items.map(([k, v]) => [normalizeTerm(k), normalizeTerm(v)]);
      break;
    case "comp":
      n.key = t.key ? normalizeTerm(t.key) : null;
      n.term = normalizeTerm(t.term);
      n.body = normalizeBody(t.body);
      break;
    case "call":
      n.args = t.args.map(normalizeTerm);
      break;
    default:
      break;
  }
  return n as unknown as CTerm;
}

export function normalizeExpr(e: CExpr): CExpr {
  const n = new ExprNode(e.t) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(e)) n[k] = v;
  switch (e.t) {
    case "unify":
      n.a = normalizeTerm(e.a);
      n.b = normalizeTerm(e.b);
      break;
    case "truthy":
      n.term = normalizeTerm(e.term);
      break;
    case "somein":
      n.key = e.key ? normalizeTerm(e.key) : null;
      n.value = normalizeTerm(e.value);
      n.coll = normalizeTerm(e.coll);
      break;
    case "every":
      n.key = e.key ? normalizeTerm(e.key) : null;
      n.value = normalizeTerm(e.value);
      n.domain = normalizeTerm(e.domain);
      n.body = normalizeBody(e.body);
      break;
    case "not":
      n.expr = normalizeExpr(e.expr);
      break;
    case "with":
      n.expr = normalizeExpr(e.expr);
      n.withs = e.withs.map(normalizeWith);
      break;
    case "nop":
      break;
  }
  return n as unknown as CExpr;
}

function normalizeWith(w: CWith): CWith {
  if (w.kind === "fn") return { ...w, value: w.value ? normalizeTerm(w.value) : null };
  return { ...w, value: normalizeTerm(w.value) };
}

export function normalizeBody(b: CBody): CBody {
  return { exprs: b.exprs.map(normalizeExpr), loc: b.loc, run: undefined };
}

export function normalizeRule(r: CRule): CRule {
  return {
    ...r,
    params: r.params ? r.params.map(normalizeTerm) : null,
    body: normalizeBody(r.body),
    key: r.key ? normalizeTerm(r.key) : null,
    value: normalizeTerm(r.value),
    dynamic: r.dynamic.map(normalizeTerm),
  };
}
