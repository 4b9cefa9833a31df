// Aggregates over collections. `any`/`all` were removed in Rego v1.
import type { BuiltinDef } from "./registry.js";
import { collectionSize, compare, isArray, isNumber, isSet, type Value } from "../value.js";
import { addNum, mulNum, type Num } from "../number.js";
import { builtinErr, def, elemErr, runeCount, typeErr } from "./lib/args.js";

function count([v]: Value[]): Value {
  if (typeof v === "string") return runeCount(v);
  const n = collectionSize(v!);
  if (n === undefined) throw typeErr("count", 1, v!, "array", "object", "set", "string");
  return n;
}

function members(name: string, v: Value): Value[] {
  if (isArray(v)) return v;
  if (isSet(v)) return v.sorted();
  throw typeErr(name, 1, v, "set", "array");
}

function fold(name: string, v: Value, init: Num, op: (a: Num, b: Num) => Num | null): Value {
  const xs = members(name, v);
  // Type-check every element first: OPA reports a non-number even when the
  // running result could already be computed.
  for (const x of xs) if (!isNumber(x)) throw elemErr(name, 1, v, x, "number");
  let acc = init;
  for (const x of xs) {
    const r = op(acc, x as Num);
    if (r === null) throw builtinErr(name, "result is out of the representable range");
    acc = r;
  }
  return acc;
}

function sum([v]: Value[]): Value {
  // Fast path: safe integers summed as floats stay exact while the total is safe.
  if (isArray(v)) {
    let s = 0;
    let i = 0;
    for (; i < v.length; i++) {
      const x = v[i];
      if (typeof x !== "number" || !Number.isInteger(x)) break;
      s += x;
      if (!Number.isSafeInteger(s)) break;
    }
    if (i === v.length) return s;
  }
  return fold("sum", v!, 0, addNum);
}

function extreme(name: string, v: Value, sign: number): Value | undefined {
  const xs = members(name, v);
  if (xs.length === 0) return undefined;
  if (isSet(v)) return sign > 0 ? xs[xs.length - 1] : xs[0];
  let best = xs[0]!;
  for (let i = 1; i < xs.length; i++) if (compare(xs[i]!, best) * sign > 0) best = xs[i]!;
  return best;
}

function sort([v]: Value[]): Value {
  if (isArray(v)) return v.length < 2 ? v : v.slice().sort(compare);
  if (isSet(v)) return v.sorted().slice();
  throw typeErr("sort", 1, v!, "set", "array");
}

export const builtins: BuiltinDef[] = [
  def("count", 1, count),
  def("sum", 1, sum),
  def("product", 1, ([v]) => fold("product", v!, 1, mulNum)),
  def("max", 1, ([v]) => extreme("max", v!, 1)),
  def("min", 1, ([v]) => extreme("min", v!, -1)),
  def("sort", 1, sort),
];
