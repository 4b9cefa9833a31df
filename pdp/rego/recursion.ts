// Compile-time recursion check (OPA's rego_recursion_error): Rego rules may not
// depend on themselves, directly or through other rules and functions. The
// dependency reading here (which rule nodes a term can evaluate) is shared with
// the input-path analysis (input_paths.ts).
import { RegoError } from "./errors.js";
import type { CRule, CTerm, RuleDef, TreeNode } from "./ir.js";
import { walkBody, walkTerm, type IRVisitor } from "./irwalk.js";

/** A data path a rule reads; `dynamic` when a non-constant part follows it (`data.x[y]`). */
export interface DepPath {
  path: readonly string[];
  dynamic: boolean;
}

/**
 * The data path a term names by itself: a bare `data`, a ref into `data` (its constant string prefix), a
 * user function call. A caller walking the IR must not walk a data ref's head (it is a bare `data`), only
 * its path terms.
 */
export function dataDependency(t: CTerm): DepPath | undefined {
  if (t.t === "data") return { path: [], dynamic: false };
  if (t.t === "ref" && t.head.t === "data") {
    const p: string[] = [];
    for (const x of t.path) {
      if (x.t !== "val" || typeof x.v !== "string") break;
      p.push(x.v);
    }
    return { path: p, dynamic: p.length < t.path.length };
  }
  if (t.t === "call" && t.target.kind === "user") return { path: t.target.path, dynamic: false };
  return undefined;
}

/** The static data paths a term or expression reads (refs into data, user function calls). */
function pathsVisitor(out: DepPath[]): IRVisitor {
  const v: IRVisitor = {
    term: (t) => {
      const d = dataDependency(t);
      if (d) out.push(d);
      if (t.t === "ref" && t.head.t === "data") {
        for (const x of t.path) walkTerm(x, v);
        return false;
      }
      return true;
    },
  };
  return v;
}

export function defsOf(n: TreeNode): RuleDef[] {
  return [...n.complete, ...(n.defaultRule ? [n.defaultRule] : []), ...n.multi, ...n.partial, ...n.functions];
}

/**
 * Walks every term of one rule link: body, head value, key and dynamic ref parts, and with `params` the
 * function parameters (patterns an argument is unified with).
 */
export function walkRule(r: CRule, v: IRVisitor, params: boolean): void {
  if (params && r.params) for (const p of r.params) walkTerm(p, v);
  walkBody(r.body, v);
  walkTerm(r.value, v);
  if (r.key) walkTerm(r.key, v);
  for (const d of r.dynamic) walkTerm(d, v);
}

const SEP = "\u0000";

/** The nodes of a rule tree that define rules or functions, and which of them a data read evaluates. */
export class RuleGraph {
  readonly nodes: TreeNode[] = [];
  private readonly byKey = new Map<string, TreeNode>();

  constructor(root: TreeNode) {
    const visit = (n: TreeNode): void => {
      if (n.hasRules || n.functions.length > 0) this.nodes.push(n);
      for (const c of n.children.values()) visit(c);
    };
    visit(root);
    for (const n of this.nodes) this.byKey.set(n.path.join(SEP), n);
  }

  /**
   * Adds to `out` the rule nodes a read of `dep` evaluates: the node at the path, those above it (their
   * documents contain it) and those below it (a whole-document read builds them). `dynamicBelow: false`
   * leaves out the nodes below a dynamic read (`data.x[y]`), which only the evaluator can resolve.
   */
  addNodes(dep: DepPath, dynamicBelow: boolean, out: Set<TreeNode>): void {
    const p = dep.path;
    for (let i = 0; i <= p.length; i++) {
      const hit = this.byKey.get(p.slice(0, i).join(SEP));
      if (hit && (i === p.length || hit.hasRules)) out.add(hit);
    }
    if (dep.dynamic && !dynamicBelow) return;
    const prefix = p.join(SEP) + SEP;
    for (const m of this.nodes) {
      if (m.path.length > p.length && (p.length === 0 || m.path.join(SEP).startsWith(prefix))) out.add(m);
    }
  }
}

export function checkRecursion(root: TreeNode): RegoError[] {
  const graph = new RuleGraph(root);
  const nodes = graph.nodes;
  const edges = new Map<TreeNode, Set<TreeNode>>();
  for (const n of nodes) {
    const paths: DepPath[] = [];
    const v = pathsVisitor(paths);
    for (const def of defsOf(n)) for (const r of def.chain) walkRule(r, v, false);
    const deps = new Set<TreeNode>();
    // Dynamic reads are left to the evaluator, which detects a rule re-entering itself.
    for (const dep of paths) graph.addNodes(dep, false, deps);
    edges.set(n, deps);
  }
  const errors: RegoError[] = [];
  const state = new Map<TreeNode, 1 | 2>();
  const stack: TreeNode[] = [];
  const reported = new Set<TreeNode>();
  const visit = (n: TreeNode): void => {
    state.set(n, 1);
    stack.push(n);
    for (const d of edges.get(n) ?? []) {
      const s = state.get(d);
      if (s === 1) {
        if (!reported.has(d)) {
          reported.add(d);
          const cycle = stack.slice(stack.indexOf(d)).map((x) => x.name);
          const def = defsOf(d)[0];
          errors.push(
            new RegoError(
              "rego_recursion_error",
              `rule ${d.name} is recursive: ${[...cycle, d.name].join(" -> ")}`,
              def?.loc,
            ),
          );
        }
      } else if (s === undefined) visit(d);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of nodes) if (!state.has(n)) visit(n);
  return errors;
}
