// object.* builtins.
import type { BuiltinDef } from "./registry.js";
import {
  compare,
  equal,
  isArray,
  isObject,
  isSet,
  makeSet,
  objectGet,
  objectKeys,
  objectSize,
  ObjectBuilder,
  type ObjectV,
  type SetV,
  type Value,
} from "../value.js";
import { arrArg, def, elemErr, forEachEntry, objArg, typeErr, typeErrMsg } from "./lib/args.js";

/** ast.Value.Find: walks objects by key, arrays by integer index, sets by member. */
export function findPath(v: Value, path: Value[]): Value | undefined {
  for (const k of path) {
    if (isObject(v)) {
      const x = objectGet(v, k);
      if (x === undefined) return undefined;
      v = x;
    } else if (isArray(v)) {
      if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k >= v.length) return undefined;
      v = v[k]!;
    } else if (isSet(v)) {
      if (!v.has(k)) return undefined;
      v = k;
    } else {
      return undefined;
    }
  }
  return v;
}

function get([o, k, dflt]: Value[]): Value {
  const obj = objArg("object.get", o!, 1);
  if (isArray(k!)) {
    if (k.length === 0) return obj;
    const found = findPath(obj, k);
    return found === undefined ? dflt! : found;
  }
  // Not `??`: a null value is a value.
  const v = objectGet(obj, k!);
  return v === undefined ? dflt! : v;
}

/** The keys operand of object.remove/filter: an array, set or object's keys. */
function keySet(name: string, v: Value): SetV {
  if (isSet(v)) return v;
  if (isArray(v)) return makeSet(v);
  if (isObject(v)) return makeSet(objectKeys(v));
  throw typeErr(name, 2, v, "object", "set", "array");
}

function remove([o, ks]: Value[]): Value {
  const obj = objArg("object.remove", o!, 1);
  const keys = keySet("object.remove", ks!);
  const out = new ObjectBuilder();
  let removed = false;
  forEachEntry(obj, (k, v) => {
    if (keys.has(k)) removed = true;
    else out.put(k, v);
  });
  return removed ? out.build() : obj;
}

function filter([o, ks]: Value[]): Value {
  const obj = objArg("object.filter", o!, 1);
  const keys = keySet("object.filter", ks!);
  const out = new ObjectBuilder();
  for (const k of keys.sorted()) {
    const v = objectGet(obj, k);
    if (v !== undefined) out.put(k, v);
  }
  return out.build();
}

/** object.union's merge: b wins, except that two objects merge recursively. */
export function mergeWithOverwrite(a: ObjectV, b: ObjectV): ObjectV {
  if (objectSize(b) === 0) return a;
  if (objectSize(a) === 0) return b;
  const out = new ObjectBuilder();
  forEachEntry(a, (k, v) => void out.put(k, v));
  forEachEntry(b, (k, v) => {
    const prev = objectGet(a, k);
    out.put(k, prev !== undefined && isObject(prev) && isObject(v) ? mergeWithOverwrite(prev, v) : v);
  });
  return out.build();
}

function union([a, b]: Value[]): Value {
  const x = objArg("object.union", a!, 1);
  const y = objArg("object.union", b!, 2);
  if (equal(x, y)) return x;
  return mergeWithOverwrite(x, y);
}

function unionN([a]: Value[]): Value {
  const arr = arrArg("object.union_n", a!, 1);
  // OPA walks the array from the end, so the last offending element is reported.
  for (let i = arr.length - 1; i >= 0; i--) {
    if (!isObject(arr[i]!)) throw elemErr("object.union_n", 1, arr, arr[i]!, "object");
  }
  let acc: ObjectV = new ObjectBuilder().build();
  for (const o of arr) acc = mergeWithOverwrite(acc, o as ObjectV);
  return acc;
}

function objectSubset(sup: ObjectV, sub: ObjectV): boolean {
  return !forEachEntry(sub, (k, subV) => {
    const supV = objectGet(sup, k);
    if (supV === undefined) return true;
    if (equal(subV, supV)) return false;
    if (isObject(supV) && isObject(subV)) return !objectSubset(supV, subV);
    if (isSet(supV) && isSet(subV)) return !setSubset(supV, subV);
    if (isArray(supV) && isArray(subV)) return !arraySubset(supV, subV);
    return true;
  });
}

function setSubset(sup: SetV, sub: SetV): boolean {
  if (sub.size > sup.size) return false;
  for (const x of sub.sorted()) if (!sup.has(x)) return false;
  return true;
}

/** The sub array must appear contiguously in the super array. */
function arraySubset(sup: Value[], sub: Value[]): boolean {
  if (sub.length > sup.length) return false;
  outer: for (let start = 0; start + sub.length <= sup.length; start++) {
    for (let j = 0; j < sub.length; j++) if (compare(sup[start + j]!, sub[j]!) !== 0) continue outer;
    return true;
  }
  return false;
}

/**
 * OPA's arraySetSubset, quirks included: it counts matching array elements
 * (duplicates count again) and never succeeds on an empty array.
 */
function arraySetSubset(sup: Value[], sub: SetV): boolean {
  let unmatched = sub.size;
  for (const x of sup) {
    if (sub.has(x)) unmatched--;
    if (unmatched === 0) return true;
  }
  return false;
}

function subset([a, b]: Value[]): Value {
  if (isObject(a!) && isObject(b!)) return objectSubset(a, b);
  if (isSet(a!) && isSet(b!)) return setSubset(a, b);
  if (isArray(a!) && isArray(b!)) return arraySubset(a, b);
  if (isArray(a!) && isSet(b!)) return arraySetSubset(a, b);
  throw typeErrMsg("object.subset", "both arguments object.subset must be of the same type or array and set");
}

export const builtins: BuiltinDef[] = [
  def("object.get", 3, get),
  def("object.keys", 1, ([o]) => makeSet(objectKeys(objArg("object.keys", o!, 1)))),
  def("object.remove", 2, remove),
  def("object.filter", 2, filter),
  def("object.union", 2, union),
  def("object.union_n", 1, unionN),
  def("object.subset", 2, subset),
];
