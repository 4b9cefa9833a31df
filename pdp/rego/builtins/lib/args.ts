// Operand checking shared by the builtin families. The messages reproduce OPA's
// (topdown/builtins/builtins.go) word for word, already prefixed with the
// builtin's name the way OPA's handleBuiltinErr does it, because policies and
// the conformance cases match on them.
import { BuiltinError, type BuiltinContext, type BuiltinDef } from "../registry.js";
import {
  isArray,
  isNumber,
  isObject,
  isSet,
  typeName,
  ObjMap,
  objectEntries,
  type ObjectV,
  type SetV,
  type Value,
} from "../../value.js";
import { isInteger, toBigInt, type Num } from "../../number.js";

/**
 * A builtin definition. RangeErrors (BigInt or string size limits, stack
 * exhaustion on absurdly deep values) become builtin errors, so that no
 * input can make a builtin throw anything but BuiltinError.
 */
export function def(
  name: string,
  arity: number,
  fn: (args: Value[], ctx: BuiltinContext) => Value | undefined,
  extra?: Partial<Pick<BuiltinDef, "relation" | "nondeterministic">>,
): BuiltinDef {
  const guarded = (args: Value[], ctx: BuiltinContext): Value | undefined => {
    try {
      return fn(args, ctx);
    } catch (e) {
      if (e instanceof RangeError) throw builtinErr(name, `value out of range: ${e.message}`);
      throw e;
    }
  };
  return extra ? { name, arity, fn: guarded, ...extra } : { name, arity, fn: guarded };
}

/**
 * Materialising an integer means building all its digits; beyond this many
 * (a literal like 1e1000000000 is a short text) we refuse instead of hanging.
 */
export const MAX_INT_DIGITS = 10_000;

/** Decimal digits of a number's integer part (≤ 0 when |n| < 1). */
export function intDigits(n: Num): number {
  if (typeof n === "number") {
    const a = Math.abs(n);
    return a < 1 ? 0 : Math.floor(Math.log10(a)) + 1;
  }
  const m = n.m < 0n ? -n.m : n.m;
  return m === 0n ? 0 : m.toString().length + n.e;
}

/** OPA's builtins.ErrOperand: reported as eval_type_error. */
export function operandErr(name: string, pos: number, msg: string): BuiltinError {
  return new BuiltinError("eval_type_error", `${name}: operand ${pos} ${msg}`);
}

/** Any other builtin failure: eval_builtin_error. */
export function builtinErr(name: string, msg: string): BuiltinError {
  return new BuiltinError("eval_builtin_error", `${name}: ${msg}`);
}

/** A type error whose text is not positional (e.g. object.subset's). */
export function typeErrMsg(name: string, msg: string): BuiltinError {
  return new BuiltinError("eval_type_error", `${name}: ${msg}`);
}

export function typeErr(name: string, pos: number, got: Value, ...expected: string[]): BuiltinError {
  if (expected.length === 1) return operandErr(name, pos, `must be ${expected[0]} but got ${typeName(got)}`);
  return operandErr(name, pos, `must be one of {${expected.join(", ")}} but got ${typeName(got)}`);
}

export function elemErr(
  name: string,
  pos: number,
  composite: Value,
  got: Value,
  ...expected: string[]
): BuiltinError {
  const t = typeName(composite);
  if (expected.length === 1) {
    return operandErr(name, pos, `must be ${t} of ${expected[0]}s but got ${t} containing ${typeName(got)}`);
  }
  return operandErr(
    name,
    pos,
    `must be ${t} of (any of) {${expected.join(", ")}} but got ${t} containing ${typeName(got)}`,
  );
}

export function strArg(name: string, v: Value, pos: number): string {
  if (typeof v !== "string") throw typeErr(name, pos, v, "string");
  return v;
}

export function numArg(name: string, v: Value, pos: number): Num {
  if (!isNumber(v)) throw typeErr(name, pos, v, "number");
  return v;
}

export function arrArg(name: string, v: Value, pos: number): Value[] {
  if (!isArray(v)) throw typeErr(name, pos, v, "array");
  return v;
}

export function setArg(name: string, v: Value, pos: number): SetV {
  if (!isSet(v)) throw typeErr(name, pos, v, "set");
  return v;
}

export function objArg(name: string, v: Value, pos: number): ObjectV {
  if (!isObject(v)) throw typeErr(name, pos, v, "object");
  return v;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const FLOAT_MSG = "must be integer number but got floating-point number";

/**
 * OPA's IntOperand: a Go int. Integers outside int64 are reported as
 * floating-point there too (json.Number.Int64 fails), so we do the same.
 */
export function intArg(name: string, v: Value, pos: number): number {
  if (typeof v === "number") {
    if (Number.isSafeInteger(v)) return v;
    if (!Number.isInteger(v)) throw operandErr(name, pos, FLOAT_MSG);
  } else if (!isNumber(v)) {
    throw typeErr(name, pos, v, "number");
  }
  if (!isInteger(v) || intDigits(v) > 19) throw operandErr(name, pos, FLOAT_MSG);
  const b = toBigInt(v);
  if (b === null || b < INT64_MIN || b > INT64_MAX) throw operandErr(name, pos, FLOAT_MSG);
  return Number(b);
}

/** OPA's BigIntOperand: any integer, exactly. */
export function bigIntArg(name: string, v: Value, pos: number): bigint {
  if (!isNumber(v)) throw typeErr(name, pos, v, "integer");
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  if (!isInteger(v)) throw operandErr(name, pos, FLOAT_MSG);
  if (intDigits(v) > MAX_INT_DIGITS) throw builtinErr(name, `operand ${pos} is too large`);
  const b = toBigInt(v);
  if (b === null) throw operandErr(name, pos, FLOAT_MSG);
  return b;
}

/** Strings of an array or set operand (StringSliceOperand). */
export function stringsOf(name: string, v: Value, pos: number): string[] {
  if (isArray(v)) {
    for (const x of v) if (typeof x !== "string") throw elemErr(name, pos, v, x, "string");
    return v as string[];
  }
  if (isSet(v)) {
    const items = v.sorted();
    for (const x of items) if (typeof x !== "string") throw elemErr(name, pos, v, x, "string");
    return items as string[];
  }
  throw typeErr(name, pos, v, "array", "set");
}

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Visits an object's entries in no particular order (objectEntries sorts,
 * which most operations do not need). The visit stops when `fn` returns
 * true, and then so does this.
 */
export function forEachEntry(o: ObjectV, fn: (k: Value, v: Value) => boolean | void): boolean {
  if (o instanceof ObjMap) {
    for (const [k, v] of objectEntries(o)) if (fn(k, v) === true) return true;
    return false;
  }
  for (const k in o) if (hasOwn.call(o, k) && fn(k, o[k]!) === true) return true;
  return false;
}

/** Code points of a string (Go's []rune). */
export function runes(s: string): string[] {
  return Array.from(s);
}

/** True when the string has no surrogate pairs, so UTF-16 indexes are code point indexes. */
export function isBmp(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return false;
  }
  return true;
}

export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Number of code points. */
export function runeCount(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
