// Rego values. JSON data (input, base documents) is used as-is: JSON.parse output
// is already a valid Value, so the hot path converts nothing. Rego adds sets and
// objects whose keys are not strings; those get classes. Everything that touches
// values goes through this file's API, never through the representation.
import { BigNum, bigKey, compareNum, numToString, type Num } from "./number.js";

export { BigNum };

/** A plain JS object with string keys (from JSON, or built by Rego with string keys). */
export interface JsonObject {
  [key: string]: Value;
}
export type ObjectV = JsonObject | ObjMap;
export type Value = null | boolean | number | BigNum | string | Value[] | SetV | ObjectV;
export type TypeName = "null" | "boolean" | "number" | "string" | "array" | "object" | "set";

const hasOwn = Object.prototype.hasOwnProperty;

/** A Rego set. Iteration is in OPA's sorted order. */
export class SetV {
  readonly map = new Map<unknown, Value>();
  private sortedCache: Value[] | null = null;

  constructor(items?: Iterable<Value>) {
    if (items) for (const v of items) this.map.set(hashKey(v), v);
  }
  /** Mutating: only while building a set. */
  add(v: Value): void {
    this.map.set(hashKey(v), v);
    this.sortedCache = null;
  }
  has(v: Value): boolean {
    return this.map.has(hashKey(v));
  }
  get size(): number {
    return this.map.size;
  }
  /** Members in OPA's sorted order (cached). */
  sorted(): Value[] {
    if (!this.sortedCache) this.sortedCache = [...this.map.values()].sort(compare);
    return this.sortedCache;
  }
}

/** An object with at least one non-string key. Iteration is in sorted key order. */
export class ObjMap {
  readonly map = new Map<unknown, [Value, Value]>();
  private sortedCache: [Value, Value][] | null = null;

  set(k: Value, v: Value): void {
    this.map.set(hashKey(k), [k, v]);
    this.sortedCache = null;
  }
  get(k: Value): Value | undefined {
    return this.map.get(hashKey(k))?.[1];
  }
  get size(): number {
    return this.map.size;
  }
  sorted(): [Value, Value][] {
    if (!this.sortedCache) this.sortedCache = [...this.map.values()].sort((a, b) => compare(a[0], b[0]));
    return this.sortedCache;
  }
}

export function isBigNum(v: Value): v is BigNum {
  return v instanceof BigNum;
}
export function isNumber(v: Value): v is Num {
  return typeof v === "number" || v instanceof BigNum;
}
export function isArray(v: Value): v is Value[] {
  return Array.isArray(v);
}
export function isSet(v: Value): v is SetV {
  return v instanceof SetV;
}
export function isObject(v: Value): v is ObjectV {
  return (
    typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof SetV) && !(v instanceof BigNum)
  );
}
export function isPlainObject(v: Value): v is JsonObject {
  return isObject(v) && !(v instanceof ObjMap);
}

export function typeName(v: Value): TypeName {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return "boolean";
    case "number":
      return "number";
    case "string":
      return "string";
  }
  if (Array.isArray(v)) return "array";
  if (v instanceof SetV) return "set";
  if (v instanceof BigNum) return "number";
  return "object";
}

// Type order as OPA's ast.Compare: null < boolean < number < string < array < object < set.
const TYPE_ORDER: Record<TypeName, number> = {
  null: 0,
  boolean: 1,
  number: 2,
  string: 3,
  array: 6,
  object: 7,
  set: 8,
};

/**
 * A Map key that is equal for equal Rego values. Primitives are their own key
 * (Map distinguishes "1" from 1); composites and BigNums get a string starting
 * with NUL, and a real string starting with NUL is escaped so none can collide.
 */
export function hashKey(v: Value): unknown {
  switch (typeof v) {
    case "string":
      return v.charCodeAt(0) === 0 ? "\u0000s" + v : v;
    case "number":
      return Number.isSafeInteger(v) || !Number.isInteger(v) ? (v === 0 ? 0 : v) : "\u0000#" + bigIntKey(v);
    case "boolean":
      return v;
  }
  if (v === null) return null;
  return "\u0000" + keyText(v);
}

function bigIntKey(v: number): string {
  // An unsafe-integer float denotes an exact integer; key it as BigNum would.
  let m = BigInt(v);
  let e = 0;
  while (m !== 0n && m % 10n === 0n) {
    m /= 10n;
    e++;
  }
  return `${m}e${e}`;
}

function keyText(v: Value): string {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      return Number.isSafeInteger(v) || !Number.isInteger(v)
        ? "#" + String(v === 0 ? 0 : v)
        : "#" + bigIntKey(v);
    case "boolean":
      return v ? "t" : "f";
  }
  if (v === null) return "n";
  if (Array.isArray(v)) return "[" + v.map(keyText).join(",") + "]";
  if (v instanceof BigNum) return "#" + bigKey(v);
  if (v instanceof SetV) return "<" + v.sorted().map(keyText).join(",") + ">";
  return (
    "{" +
    objectEntries(v)
      .map(([k, x]) => keyText(k) + ":" + keyText(x))
      .join(",") +
    "}"
  );
}

// ---- objects ----

export function objectGet(o: ObjectV, k: Value): Value | undefined {
  if (o instanceof ObjMap) return o.get(k);
  if (typeof k !== "string") return undefined;
  return hasOwn.call(o, k) ? o[k] : undefined;
}

export function objectSize(o: ObjectV): number {
  return o instanceof ObjMap ? o.size : Object.keys(o).length;
}

/** Entries in OPA's sorted key order. */
export function objectEntries(o: ObjectV): [Value, Value][] {
  if (o instanceof ObjMap) return o.sorted();
  const keys = Object.keys(o).sort(compareStrings);
  const out: [Value, Value][] = new Array(keys.length);
  for (let i = 0; i < keys.length; i++) out[i] = [keys[i]!, o[keys[i]!]!];
  return out;
}

export function objectKeys(o: ObjectV): Value[] {
  if (o instanceof ObjMap) return o.sorted().map((e) => e[0]);
  return Object.keys(o).sort(compareStrings);
}

/**
 * Builds objects. `set` reports a conflict (same key, different value) by
 * returning false so callers raise their own error message.
 */
export class ObjectBuilder {
  private plain: JsonObject | null = Object.create(null) as JsonObject;
  private general: ObjMap | null = null;

  set(k: Value, v: Value): boolean {
    const prev = this.get(k);
    if (prev !== undefined) return equal(prev, v);
    if (this.plain && typeof k === "string") {
      this.plain[k] = v;
      return true;
    }
    if (this.plain) {
      this.general = new ObjMap();
      for (const key of Object.keys(this.plain)) this.general.set(key, this.plain[key]!);
      this.plain = null;
    }
    this.general!.set(k, v);
    return true;
  }
  /** Overwrites (for object.union and friends). */
  put(k: Value, v: Value): void {
    if (this.plain && typeof k === "string") {
      this.plain[k] = v;
      return;
    }
    if (this.plain) {
      this.general = new ObjMap();
      for (const key of Object.keys(this.plain)) this.general.set(key, this.plain[key]!);
      this.plain = null;
    }
    this.general!.set(k, v);
  }
  get(k: Value): Value | undefined {
    if (this.plain) return typeof k === "string" && hasOwn.call(this.plain, k) ? this.plain[k] : undefined;
    return this.general!.get(k);
  }
  get size(): number {
    return this.plain ? Object.keys(this.plain).length : this.general!.size;
  }
  build(): ObjectV {
    return this.plain ?? this.general!;
  }
}

export function makeObject(entries: Iterable<[Value, Value]>): ObjectV {
  const b = new ObjectBuilder();
  for (const [k, v] of entries) b.put(k, v);
  return b.build();
}

export function makeSet(items: Iterable<Value>): SetV {
  return new SetV(items);
}

/** Members of a collection for iteration: array items, set members (sorted), object values. */
export function collectionSize(v: Value): number | undefined {
  if (Array.isArray(v)) return v.length;
  if (v instanceof SetV) return v.size;
  if (isObject(v)) return objectSize(v);
  return undefined;
}

// ---- equality and order ----

export function equal(a: Value, b: Value): boolean {
  if (a === b) return true;
  const ta = typeof a;
  if (ta === "string" || ta === "boolean" || a === null || b === null) return false;
  if (ta === "number" || a instanceof BigNum) {
    return (typeof b === "number" || b instanceof BigNum) && compareNum(a as Num, b) === 0;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equal(a[i]!, b[i]!)) return false;
    return true;
  }
  if (a instanceof SetV) {
    if (!(b instanceof SetV) || a.size !== b.size) return false;
    for (const k of a.map.keys()) if (!b.map.has(k)) return false;
    return true;
  }
  if (!isObject(b) || !isObject(a as Value)) return false;
  const oa = a as ObjectV;
  if (objectSize(oa) !== objectSize(b)) return false;
  if (oa instanceof ObjMap) {
    for (const [k, v] of oa.map.values()) {
      const w = objectGet(b, k);
      if (w === undefined || !equal(v, w)) return false;
    }
    return true;
  }
  for (const k of Object.keys(oa)) {
    const w = objectGet(b, k);
    if (w === undefined || !equal(oa[k]!, w)) return false;
  }
  return true;
}

/** Go's string order is by UTF-8 bytes, which equals code point order. */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (astral code points) sort after all other BMP units in UTF-8.
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x < y ? -1 : 1;
    }
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** OPA's total order of values. */
export function compare(a: Value, b: Value): number {
  const ta = typeName(a);
  const tb = typeName(b);
  if (ta !== tb) return TYPE_ORDER[ta] < TYPE_ORDER[tb] ? -1 : 1;
  switch (ta) {
    case "null":
      return 0;
    case "boolean":
      return a === b ? 0 : a === false ? -1 : 1;
    case "number":
      return compareNum(a as Num, b as Num);
    case "string":
      return compareStrings(a as string, b as string);
    case "array": {
      const x = a as Value[];
      const y = b as Value[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compare(x[i]!, y[i]!);
        if (c !== 0) return c;
      }
      return x.length - y.length < 0 ? -1 : x.length > y.length ? 1 : 0;
    }
    case "set": {
      const x = (a as SetV).sorted();
      const y = (b as SetV).sorted();
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compare(x[i]!, y[i]!);
        if (c !== 0) return c;
      }
      return x.length < y.length ? -1 : x.length > y.length ? 1 : 0;
    }
    case "object": {
      const x = objectEntries(a as ObjectV);
      const y = objectEntries(b as ObjectV);
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compare(x[i]![0], y[i]![0]);
        if (c !== 0) return c;
        const d = compare(x[i]![1], y[i]![1]);
        if (d !== 0) return d;
      }
      return x.length < y.length ? -1 : x.length > y.length ? 1 : 0;
    }
  }
}

// ---- conversion ----

/**
 * A value as JSON-compatible JS data, the way OPA serialises results: sets
 * become sorted arrays, non-string object keys become their JSON text, BigNums
 * become the nearest float (use `toJSONText` to keep them exact).
 */
export function toJS(v: Value): unknown {
  if (v === null || typeof v !== "object") return v;
  if (v instanceof BigNum) return Number(v.toString());
  if (Array.isArray(v)) return v.map(toJS);
  if (v instanceof SetV) return v.sorted().map(toJS);
  const out: Record<string, unknown> = {};
  for (const [k, x] of objectEntries(v)) {
    Object.defineProperty(out, typeof k === "string" ? k : toJSONText(k), {
      value: toJS(x),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** JSON text of a value (exact numbers, sorted keys and set members). */
export function toJSONText(v: Value, indent = ""): string {
  return writeJSON(v, indent, "");
}

function writeJSON(v: Value, indent: string, cur: string): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      return numToString(v);
    case "string":
      return JSON.stringify(v);
  }
  if (v instanceof BigNum) return v.toString();
  const inner = cur + indent;
  const nl = indent ? "\n" : "";
  const sep = indent ? ": " : ":";
  let items: string[];
  let open: string;
  let close: string;
  if (Array.isArray(v) || v instanceof SetV) {
    const arr = Array.isArray(v) ? v : v.sorted();
    items = arr.map((x) => inner + writeJSON(x, indent, inner));
    open = "[";
    close = "]";
  } else {
    items = objectEntries(v).map(
      ([k, x]) =>
        inner + JSON.stringify(typeof k === "string" ? k : toJSONText(k)) + sep + writeJSON(x, indent, inner),
    );
    open = "{";
    close = "}";
  }
  if (items.length === 0) return open + close;
  return open + nl + items.join("," + nl) + nl + cur + close;
}

/** Rego source text of a value (OPA's Term.String()): sets as `{1, 2}`, empty set `set()`. */
export function toRegoText(v: Value): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      return numToString(v);
    case "string":
      return JSON.stringify(v);
  }
  if (v instanceof BigNum) return v.toString();
  if (Array.isArray(v)) return "[" + v.map(toRegoText).join(", ") + "]";
  if (v instanceof SetV) return v.size === 0 ? "set()" : "{" + v.sorted().map(toRegoText).join(", ") + "}";
  return (
    "{" +
    objectEntries(v)
      .map(([k, x]) => toRegoText(k) + ": " + toRegoText(x))
      .join(", ") +
    "}"
  );
}

/**
 * Converts arbitrary parsed JSON/YAML data into a Value: objects get a null
 * prototype-safe shape, numbers stay numbers. Rejects what JSON cannot hold.
 */
export function fromJS(x: unknown): Value {
  if (x === null || x === undefined) return null;
  switch (typeof x) {
    case "boolean":
    case "string":
      return x;
    case "number":
      if (!Number.isFinite(x)) throw new TypeError(`non-finite number ${x}`);
      return x;
    case "bigint":
      return new BigNum(x, 0).m === x ? normalizeBigInt(x) : null;
  }
  if (Array.isArray(x)) return x.map(fromJS);
  if (x instanceof SetV || x instanceof ObjMap || x instanceof BigNum) return x;
  if (x instanceof Map) return makeObject([...x.entries()].map(([k, v]) => [fromJS(k), fromJS(v)]));
  if (typeof x === "object") {
    const out = Object.create(null) as JsonObject;
    for (const k of Object.keys(x)) out[k] = fromJS((x as Record<string, unknown>)[k]);
    return out;
  }
  throw new TypeError(`cannot convert ${typeof x} to a Rego value`);
}

function normalizeBigInt(b: bigint): Value {
  if (b >= -9007199254740991n && b <= 9007199254740991n) return Number(b);
  let m = b;
  let e = 0;
  while (m % 10n === 0n) {
    m /= 10n;
    e++;
  }
  return new BigNum(m, e);
}
