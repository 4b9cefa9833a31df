// Which parts of `input` one entrypoint's evaluation can read: the decision cache keys on the values at
// these paths instead of the whole input (pdp/cache/key.ts), so two inputs that differ only elsewhere
// (a fresh token's `jti`, `iat`, `exp`) share a decision. That is only exact when the answer is a
// superset of what the evaluator can look at, so every doubt reads as "the whole input" (undefined).
//
// Reached: every rule and function definition the entrypoint can evaluate, found through the same data
// dependencies the recursion check uses (recursion.ts) — except that a dynamic ref `data.x[y]` reaches
// everything under `data.x` — plus the functions a `with` puts in place of others. In their IR:
//   * a ref with head `input` reads its constant string prefix (a variable, a number or any other term
//     ends the prefix; what follows is read whole);
//   * a bare `input` (an argument, a value, `count(input)`) reads the whole input;
//   * a `with input…` replaces part of the document for the expressions under it; rather than reason
//     about which reads see the replacement, it counts as a whole-input read.
import type { CExpr, CTerm, TreeNode } from "./ir.js";
import { walkTerm, type IRVisitor } from "./irwalk.js";
import { dataDependency, defsOf, RuleGraph, walkRule, type DepPath } from "./recursion.js";

/** Input paths, sorted, none a prefix of another; frozen, so callers may share and memoise them. */
export type InputPaths = readonly (readonly string[])[];

function constantPrefix(path: readonly CTerm[]): string[] {
  const out: string[] = [];
  for (const x of path) {
    if (x.t !== "val" || typeof x.v !== "string") break;
    out.push(x.v);
  }
  return out;
}

function comparePaths(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    // Code-unit order, not localeCompare: every replica must produce the same order (it is in the key).
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length - b.length;
}

function isPrefix(p: readonly string[], of: readonly string[]): boolean {
  if (p.length > of.length) return false;
  for (let i = 0; i < p.length; i++) if (p[i] !== of[i]) return false;
  return true;
}

/** Sorted, without duplicates and without paths below another read path; undefined when `[]` is read. */
export function normalizeInputPaths(paths: readonly (readonly string[])[]): InputPaths | undefined {
  const sorted = [...paths].sort(comparePaths);
  const out: (readonly string[])[] = [];
  for (const p of sorted) {
    if (p.length === 0) return undefined;
    // In sorted order a prefix comes right before the paths it covers, so the last kept path decides.
    const last = out[out.length - 1];
    if (last !== undefined && isPrefix(last, p)) continue;
    out.push(Object.freeze([...p]));
  }
  return Object.freeze(out);
}

/**
 * The input paths an evaluation of `data.<entry>` can read, or undefined when it may read the whole input
 * (or when that cannot be told). `graph` may be shared between calls on the same tree.
 */
export function analyzeInputPaths(
  root: TreeNode,
  entry: readonly string[],
  graph: RuleGraph = new RuleGraph(root),
): InputPaths | undefined {
  const reads: string[][] = [];
  let whole = false;
  const pending: DepPath[] = [{ path: entry, dynamic: false }];
  const visitor: IRVisitor = {
    term: (t: CTerm) => {
      const dep = dataDependency(t);
      if (dep) pending.push(dep);
      if (t.t === "ref" && (t.head.t === "data" || t.head.t === "input")) {
        if (t.head.t === "input") {
          const prefix = constantPrefix(t.path);
          if (prefix.length === 0) whole = true;
          else reads.push(prefix);
        }
        // Not the head: it is a bare `data`/`input` here, not a read of the whole document.
        for (const x of t.path) walkTerm(x, visitor);
        return false;
      }
      if (t.t === "input") whole = true;
      return true;
    },
    expr: (e: CExpr) => {
      if (e.t !== "with") return true;
      for (const w of e.withs) {
        if (w.kind === "input") whole = true;
        else if (w.kind === "fn" && w.fn?.kind === "user") pending.push({ path: w.fn.path, dynamic: false });
      }
      return true;
    },
  };
  const reached = new Set<TreeNode>();
  const found = new Set<TreeNode>();
  while (pending.length > 0 && !whole) {
    found.clear();
    // Dynamic reads reach everything below their constant prefix: the key may be any of them.
    graph.addNodes(pending.pop()!, true, found);
    for (const n of found) {
      if (reached.has(n)) continue;
      reached.add(n);
      for (const def of defsOf(n)) for (const r of def.chain) walkRule(r, visitor, true);
    }
  }
  return whole ? undefined : normalizeInputPaths(reads);
}
