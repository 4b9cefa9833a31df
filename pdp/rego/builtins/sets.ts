// Set algebra and the `in` operator's builtins (internal.member_2/3).
import type { BuiltinDef } from "./registry.js";
import { equal, isArray, isObject, isSet, makeSet, objectGet, type SetV, type Value } from "../value.js";
import { def, forEachEntry, setArg } from "./lib/args.js";

const EMPTY: Value[] = [];

function intersect(a: SetV, b: SetV): SetV {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  const out: Value[] = [];
  for (const x of small.sorted()) if (large.has(x)) out.push(x);
  return out.length === small.size ? small : makeSet(out);
}

function union(a: SetV, b: SetV): SetV {
  if (b.size === 0) return a;
  if (a.size === 0) return b;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  const extra: Value[] = [];
  for (const x of small.sorted()) if (!large.has(x)) extra.push(x);
  return extra.length === 0 ? large : makeSet(large.sorted().concat(extra));
}

function unionAll([v]: Value[]): Value {
  const sets = setArg("union", v!, 1).sorted();
  const all: Value[] = [];
  for (const s of sets) {
    for (const x of setArg("union", s, 1).sorted()) all.push(x);
  }
  return makeSet(all);
}

function intersectAll([v]: Value[]): Value {
  const sets = setArg("intersection", v!, 1).sorted();
  if (sets.length === 0) return makeSet(EMPTY);
  let acc: SetV | null = null;
  for (const s of sets) {
    const set = setArg("intersection", s, 1);
    acc = acc === null ? set : intersect(acc, set);
  }
  return acc!;
}

function member([x, xs]: Value[]): Value {
  if (isSet(xs!)) return xs.has(x!);
  if (isArray(xs!)) {
    for (const y of xs) if (equal(x!, y)) return true;
    return false;
  }
  if (isObject(xs!)) {
    return forEachEntry(xs, (_k, y) => equal(x!, y));
  }
  return false;
}

function memberWithKey([k, v, xs]: Value[]): Value {
  if (isSet(xs!)) return xs.has(k!) && equal(k!, v!);
  if (isObject(xs!)) {
    const got = objectGet(xs, k!);
    return got !== undefined && equal(got, v!);
  }
  if (isArray(xs!)) {
    // Only an integral number within bounds indexes an array (ast.Array.Get).
    if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k >= xs.length) return false;
    return equal(xs[k]!, v!);
  }
  return false;
}

export const builtins: BuiltinDef[] = [
  def("and", 2, ([a, b]) => intersect(setArg("and", a!, 1), setArg("and", b!, 2))),
  def("or", 2, ([a, b]) => union(setArg("or", a!, 1), setArg("or", b!, 2))),
  def("union", 1, unionAll),
  def("intersection", 1, intersectAll),
  def("internal.member_2", 2, member),
  def("internal.member_3", 3, memberWithKey),
];
