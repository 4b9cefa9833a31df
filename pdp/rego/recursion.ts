// Compile-time recursion check (OPA's rego_recursion_error): Rego rules may not
// depend on themselves, directly or through other rules and functions.
import { RegoError } from "./errors.js";
import type { RuleDef, TreeNode } from "./ir.js";
import { walkBody, walkTerm, type IRVisitor } from "./irwalk.js";

/** Every node that defines rules or functions, reachable from root. */
function ruleNodes(root: TreeNode): TreeNode[] {
  const out: TreeNode[] = [];
  const visit = (n: TreeNode): void => {
    if (n.hasRules || n.functions.length > 0) out.push(n);
    for (const c of n.children.values()) visit(c);
  };
  visit(root);
  return out;
}

/** A data path a rule reads; `dynamic` when a variable part follows it (`data.x[y]`). */
interface DepPath {
  path: string[];
  dynamic: boolean;
}

/** The static data paths a term or expression reads (refs into data, user function calls). */
function pathsVisitor(out: DepPath[]): IRVisitor {
  return {
    term: (t) => {
      if (t.t === "data") out.push({ path: [], dynamic: false });
      else if (t.t === "ref" && t.head.t === "data") {
        const p: string[] = [];
        for (const x of t.path) {
          if (x.t !== "val" || typeof x.v !== "string") break;
          p.push(x.v);
        }
        out.push({ path: p, dynamic: p.length < t.path.length });
        for (const x of t.path) walkTerm(x, pathsVisitor(out));
        return false;
      } else if (t.t === "call" && t.target.kind === "user")
        out.push({ path: t.target.path, dynamic: false });
      return true;
    },
  };
}

function defsOf(n: TreeNode): RuleDef[] {
  return [...n.complete, ...(n.defaultRule ? [n.defaultRule] : []), ...n.multi, ...n.partial, ...n.functions];
}

export function checkRecursion(root: TreeNode): RegoError[] {
  const nodes = ruleNodes(root);
  const byKey = new Map(nodes.map((n) => [n.path.join("\u0000"), n]));
  const edges = new Map<TreeNode, Set<TreeNode>>();
  for (const n of nodes) {
    const paths: DepPath[] = [];
    for (const def of defsOf(n)) {
      for (const r of def.chain) {
        const v = pathsVisitor(paths);
        walkBody(r.body, v);
        walkTerm(r.value, v);
        if (r.key) walkTerm(r.key, v);
        for (const d of r.dynamic) walkTerm(d, v);
      }
    }
    const deps = new Set<TreeNode>();
    for (const { path: p, dynamic } of paths) {
      // The rule nodes at this path, above it (their documents contain it) and, for
      // a whole-document read, below it. Dynamic reads are left to the evaluator,
      // which detects a rule re-entering itself.
      for (let i = 0; i <= p.length; i++) {
        const hit = byKey.get(p.slice(0, i).join("\u0000"));
        if (hit && (i === p.length || hit.hasRules)) deps.add(hit);
      }
      if (dynamic) continue;
      const prefix = p.join("\u0000");
      for (const m of nodes) {
        const key = m.path.join("\u0000");
        if (m.path.length > p.length && (p.length === 0 || key.startsWith(prefix + "\u0000"))) deps.add(m);
      }
    }
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
