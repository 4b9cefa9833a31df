// graph.reachable, graph.reachable_paths and walk, following OPA's
// topdown/reachable.go and walk.go (walk is a relation: one [path, value]
// result per node, in pre-order, object keys and set members in sorted order).
import type { BuiltinDef } from "./registry.js";
import { def, objArg, typeErr } from "./lib/args.js";
import {
  isArray,
  isObject,
  isSet,
  makeSet,
  objectEntries,
  objectGet,
  type ObjectV,
  type Value,
} from "../value.js";

/** Vertices of an edge list: array items or set members; anything else has none. */
function vertices(v: Value): Value[] {
  if (isArray(v)) return v;
  if (isSet(v)) return v.sorted();
  return [];
}

function initialVertices(name: string, v: Value): Value[] {
  if (!isArray(v) && !isSet(v)) throw typeErr(name, 2, v, "{array, set}");
  return vertices(v);
}

function reachable(graph: ObjectV, initial: Value[]): Value {
  const reached = makeSet([]);
  const queue = [...initial];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    const edges = objectGet(graph, node);
    if (edges === undefined) continue;
    for (const n of vertices(edges)) if (!reached.has(n)) queue.push(n);
    reached.add(node);
  }
  return reached;
}

function reachablePaths(graph: ObjectV, initial: Value[]): Value {
  const result = makeSet([]);
  const build = (root: Value, path: Value[], reachedVals: Value[]): void => {
    const edges = objectGet(graph, root);
    if (edges === undefined) {
      // A node missing from the graph ends the path without itself.
      result.add(path);
      return;
    }
    const here = [...path, root];
    const next = vertices(edges);
    if (next.length === 0) {
      result.add(here);
      return;
    }
    const seen = makeSet([...reachedVals, root]);
    for (const n of next) {
      if (seen.has(n)) result.add(here);
      else build(n, here, [...reachedVals, root]);
    }
  };
  for (const node of initial) {
    const edges = objectGet(graph, node);
    if (edges === undefined) continue;
    const next = vertices(edges);
    if (next.length === 0) {
      result.add([node]);
      continue;
    }
    for (const n of next) build(n, [node], [node]);
  }
  return result;
}

function walk(input: Value): Value[] {
  const out: Value[] = [];
  const visit = (path: Value[], v: Value): void => {
    out.push([path, v]);
    if (isArray(v)) {
      for (let i = 0; i < v.length; i++) visit([...path, i], v[i]!);
    } else if (isSet(v)) {
      for (const m of v.sorted()) visit([...path, m], m);
    } else if (isObject(v)) {
      for (const [k, x] of objectEntries(v)) visit([...path, k], x);
    }
  };
  visit([], input);
  return out;
}

export const builtins: BuiltinDef[] = [
  def("graph.reachable", 2, (args) => {
    const name = "graph.reachable";
    const graph = objArg(name, args[0]!, 1);
    return reachable(graph, initialVertices(name, args[1]!));
  }),
  def("graph.reachable_paths", 2, (args) => {
    const name = "graph.reachable_paths";
    const graph = objArg(name, args[0]!, 1);
    return reachablePaths(graph, initialVertices(name, args[1]!));
  }),
  def("walk", 1, (args) => walk(args[0]!), { relation: true }),
];
