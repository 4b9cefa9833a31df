// json.* builtins: (un)marshalling with Go's encoding/json behaviour, and
// the path-based editors json.filter, json.remove and json.patch.
import type { BuiltinDef } from "./registry.js";
import {
  equal,
  hashKey,
  isArray,
  isObject,
  isSet,
  makeSet,
  objectGet,
  objectKeys,
  ObjectBuilder,
  type ObjectV,
  toRegoText,
  typeName,
  type Value,
} from "../value.js";
import { arrArg, builtinErr, def, forEachEntry, objArg, operandErr, strArg, typeErr } from "./lib/args.js";
import { goJSON, goJSONIndent, isValidJSON, JSONSyntaxError, parseJSON } from "./lib/gojson.js";

function marshalWithOptions([v, o]: Value[]): Value {
  const name = "json.marshal_with_options";
  const opts = objArg(name, o!, 2);
  let indent = "\t";
  let prefix = "";
  let implicitPretty = false;
  let explicitSet = false;
  let pretty = false;
  objectKeys(opts).forEach((k, idx) => {
    const val = objectGet(opts, k)!;
    if (typeof k !== "string") {
      const inner = `operand ${idx} must be string but got ${typeName(k)}`;
      throw operandErr(name, 2, `failed to stringify key ${toRegoText(k)} at index ${idx}: ${inner}`);
    }
    switch (k) {
      case "prefix":
      case "indent":
        if (typeof val !== "string") {
          const inner = `operand ${idx} must be string but got ${typeName(val)}`;
          throw operandErr(name, 2, `key ${k} failed cast to string: ${inner}`);
        }
        if (k === "prefix") prefix = val;
        else indent = val;
        implicitPretty = true;
        break;
      case "pretty":
        explicitSet = true;
        if (typeof val !== "boolean") throw operandErr(name, 2, `key ${k} failed cast to bool`);
        pretty = val;
        break;
      default:
        throw operandErr(name, 2, `object contained unknown key ${k}`);
    }
  });
  if (!explicitSet) pretty = implicitPretty;
  if (!pretty) return goJSON(v!);
  return prefix + goJSONIndent(v!, prefix, indent);
}

function unmarshal([s]: Value[]): Value {
  const text = strArg("json.unmarshal", s!, 1);
  try {
    return parseJSON(text);
  } catch (e) {
    if (e instanceof JSONSyntaxError) throw builtinErr("json.unmarshal", e.message);
    throw e;
  }
}

// ---- paths ----

/** A tree of selected paths: null selects the whole value below. */
type PathNode = null | Map<unknown, [Value, PathNode]>;

/** OPA's parsePath: "/a/b" (JSON-pointer escapes) or an array of segments. */
function parsePath(name: string, p: Value): Value[] | null {
  if (typeof p === "string") {
    if (p === "") return [];
    return p
      .replace(/^\/+/, "")
      .split("/")
      .map((part) => part.replaceAll("~1", "/").replaceAll("~0", "~"));
  }
  if (isArray(p)) return p;
  if (name === "") return null;
  throw operandErr(
    name,
    2,
    `must be one of {set, array} containing string paths or array of path segments but got ${typeName(p)}`,
  );
}

function jsonPaths(name: string, v: Value): Value[][] {
  let items: Value[];
  if (isArray(v)) items = v;
  else if (isSet(v)) items = v.sorted();
  else throw typeErr(name, 2, v, "set", "array");
  return items.map((p) => parsePath(name, p)!);
}

/** pathsToObject: a shorter path wins over the longer paths below it. */
function pathTree(paths: Value[][]): Map<unknown, [Value, PathNode]> {
  const root = new Map<unknown, [Value, PathNode]>();
  for (const path of paths) {
    if (path.length === 0) continue;
    let node = root;
    let done = false;
    for (let i = 0; i < path.length - 1; i++) {
      const h = hashKey(path[i]!);
      const child = node.get(h);
      if (child === undefined) {
        const m = new Map<unknown, [Value, PathNode]>();
        node.set(h, [path[i]!, m]);
        node = m;
      } else if (child[1] === null) {
        done = true;
        break;
      } else {
        node = child[1];
      }
    }
    if (!done) {
      const last = path[path.length - 1]!;
      node.set(hashKey(last), [last, null]);
    }
  }
  return root;
}

/** ast filterObject: keeps only what the tree selects (array indexes are selected by string keys). */
function filterValue(v: Value, f: PathNode): Value {
  if (f === null) return v;
  if (isArray(v)) {
    const out: Value[] = [];
    for (let i = 0; i < v.length; i++) {
      const sub = f.get(hashKey(String(i)));
      if (sub) out.push(filterValue(v[i]!, sub[1]));
    }
    return out;
  }
  if (isSet(v)) {
    const out: Value[] = [];
    for (const x of v.sorted()) {
      const sub = f.get(hashKey(x));
      if (sub) out.push(filterValue(x, sub[1]));
    }
    return makeSet(out);
  }
  if (isObject(v)) {
    const out = new ObjectBuilder();
    for (const [, [k, sub]] of f) {
      const x = objectGet(v, k);
      if (x !== undefined) out.put(k, filterValue(x, sub));
    }
    return out.build();
  }
  return v;
}

function jsonFilter([o, p]: Value[]): Value {
  const obj = objArg("json.filter", o!, 1);
  return filterValue(obj, pathTree(jsonPaths("json.filter", p!)));
}

/** jsonRemove: drops what the tree selects; undefined means "removed". */
function removeValue(v: Value, f: PathNode | undefined): Value | undefined {
  if (f === undefined) return v;
  if (f === null) return undefined;
  if (isObject(v)) {
    const out = new ObjectBuilder();
    forEachEntry(v, (k, x) => {
      const r = removeValue(x, f.get(hashKey(k))?.[1]);
      if (r !== undefined) out.put(k, r);
    });
    return out.build();
  }
  if (isSet(v)) {
    const out: Value[] = [];
    for (const x of v.sorted()) {
      const r = removeValue(x, f.get(hashKey(x))?.[1]);
      if (r !== undefined) out.push(r);
    }
    return makeSet(out);
  }
  if (isArray(v)) {
    const out: Value[] = [];
    for (let i = 0; i < v.length; i++) {
      const r = removeValue(v[i]!, f.get(hashKey(String(i)))?.[1]);
      if (r !== undefined) out.push(r);
    }
    return out;
  }
  return v;
}

function jsonRemove([o, p]: Value[]): Value | undefined {
  const obj = objArg("json.remove", o!, 1);
  return removeValue(obj, pathTree(jsonPaths("json.remove", p!)));
}

// ---- json.patch (RFC 6902 over Rego values, with OPA's edit-tree rules) ----

class PatchError extends Error {}

const INT_RE = /^[+-]?\d+$/;

/** edittree's toIndex. */
function toIndex(len: number, key: Value): number {
  if (typeof key === "number") {
    if (!Number.isInteger(key)) throw new PatchError("invalid number type for indexing");
    return key;
  }
  if (typeof key === "string") {
    if (key === "-") return len;
    if (!INT_RE.test(key)) throw new PatchError("invalid string for indexing");
    if (key !== "0" && key.startsWith("0"))
      throw new PatchError("leading zeros are not allowed in JSON paths");
    const n = Number(key);
    if (!Number.isSafeInteger(n)) throw new PatchError("invalid string for indexing");
    return n;
  }
  throw new PatchError("invalid type for indexing");
}

function child(v: Value, key: Value): Value {
  if (isObject(v)) {
    const x = objectGet(v, key);
    if (x === undefined) throw new PatchError("path does not exist");
    return x;
  }
  if (isSet(v)) {
    if (!v.has(key)) throw new PatchError("path does not exist");
    return key;
  }
  if (isArray(v)) {
    const i = toIndex(v.length, key);
    if (i < 0 || i >= v.length) throw new PatchError("path does not exist");
    return v[i]!;
  }
  throw new PatchError("expected composite type");
}

function withChild(v: Value, key: Value, old: Value, updated: Value): Value {
  if (isObject(v)) {
    const out = new ObjectBuilder();
    forEachEntry(v, (k, x) => void out.put(k, x));
    out.put(key, updated);
    return out.build();
  }
  if (isSet(v)) {
    const items = v.sorted().filter((x) => !equal(x, old));
    items.push(updated);
    return makeSet(items);
  }
  const arr = (v as Value[]).slice();
  arr[toIndex(arr.length, key)] = updated;
  return arr;
}

function insert(v: Value, key: Value, value: Value): Value {
  if (isObject(v)) {
    const out = new ObjectBuilder();
    forEachEntry(v, (k, x) => void out.put(k, x));
    out.put(key, value);
    return out.build();
  }
  if (isSet(v)) {
    if (!equal(key, value)) throw new PatchError("set key does not equal value to be inserted");
    return v.has(value) ? v : makeSet([...v.sorted(), value]);
  }
  if (isArray(v)) {
    const i = toIndex(v.length, key);
    if (i < 0 || i > v.length) throw new PatchError("index for array insertion out of bounds");
    const arr = v.slice();
    arr.splice(i, 0, value);
    return arr;
  }
  throw new PatchError("expected composite type");
}

function remove(v: Value, key: Value): Value {
  if (isObject(v)) {
    if (objectGet(v, key) === undefined) throw new PatchError("cannot delete child key that does not exist");
    const out = new ObjectBuilder();
    forEachEntry(v, (k, x) => void (equal(k, key) || out.put(k, x)));
    return out.build();
  }
  if (isSet(v)) {
    if (!v.has(key)) throw new PatchError("cannot delete child key that does not exist");
    return makeSet(v.sorted().filter((x) => !equal(x, key)));
  }
  if (isArray(v)) {
    const i = toIndex(v.length, key);
    if (i < 0 || i >= v.length) throw new PatchError("index for array delete out of bounds");
    const arr = v.slice();
    arr.splice(i, 1);
    return arr;
  }
  throw new PatchError("expected composite type");
}

/** Applies `edit` to the parent of the path's last segment, rebuilding the spine. */
function editAt(doc: Value, path: Value[], edit: (parent: Value, key: Value) => Value, i = 0): Value {
  if (i === path.length - 1) return edit(doc, path[i]!);
  const old = child(doc, path[i]!);
  return withChild(doc, path[i]!, old, editAt(old, path, edit, i + 1));
}

function render(doc: Value | undefined, path: Value[]): Value {
  if (doc === undefined) throw new PatchError("deleted node");
  let v = doc;
  for (const k of path) v = child(v, k);
  return v;
}

function addAt(doc: Value | undefined, path: Value[], value: Value): Value {
  if (path.length === 0) return value;
  if (doc === undefined) throw new PatchError("deleted node");
  return editAt(doc, path, (p, k) => insert(p, k, value));
}

function removeAt(doc: Value | undefined, path: Value[]): Value | undefined {
  if (doc === undefined) throw new PatchError("deleted node");
  if (path.length === 0) return undefined;
  return editAt(doc, path, remove);
}

function attr(op: ObjectV, name: string): Value {
  const v = objectGet(op, name);
  if (v === undefined) throw new PatchError(`missing '${name}' attribute`);
  return v;
}

function pathOf(v: Value): Value[] {
  const p = parsePath("", v);
  if (p === null) throw new PatchError("invalid path");
  return p;
}

function applyPatch(source: Value, ops: Value[]): Value | undefined {
  let doc: Value | undefined = source;
  for (const op of ops) {
    if (!isObject(op)) throw new PatchError("not an object");
    const kind = attr(op, "op");
    if (typeof kind !== "string") throw new PatchError("attribute 'op' must be a string");
    if (!["add", "remove", "replace", "move", "copy", "test"].includes(kind)) {
      throw new PatchError(`unrecognized op '${kind}'`);
    }
    const pathV = attr(op, "path");
    const from = kind === "move" || kind === "copy" ? attr(op, "from") : null;
    const value = kind === "add" || kind === "replace" || kind === "test" ? attr(op, "value") : null;
    const path = pathOf(pathV);
    switch (kind) {
      case "add":
        doc = addAt(doc, path, value!);
        break;
      case "remove":
        doc = removeAt(doc, path);
        break;
      case "replace":
        doc = addAt(removeAt(doc, path), path, value!);
        break;
      case "move": {
        const fromPath = pathOf(from!);
        const chunk = render(doc, fromPath);
        doc = addAt(removeAt(doc, fromPath), path, chunk);
        break;
      }
      case "copy":
        doc = addAt(doc, path, render(doc, pathOf(from!)));
        break;
      case "test":
        if (!equal(render(doc, path), value!)) throw new PatchError("test failed");
        break;
    }
  }
  return doc;
}

function jsonPatch([doc, p]: Value[]): Value | undefined {
  const ops = arrArg("json.patch", p!, 2);
  try {
    return applyPatch(doc!, ops);
  } catch (e) {
    // OPA turns every patch failure into an undefined result.
    if (e instanceof PatchError) return undefined;
    throw e;
  }
}

export const builtins: BuiltinDef[] = [
  def("json.marshal", 1, ([v]) => goJSON(v!)),
  def("json.marshal_with_options", 2, marshalWithOptions),
  def("json.unmarshal", 1, unmarshal),
  def("json.is_valid", 1, ([s]) => typeof s === "string" && isValidJSON(s)),
  def("json.filter", 2, jsonFilter),
  def("json.remove", 2, jsonRemove),
  def("json.patch", 2, jsonPatch),
];
