// Arithmetic on exact numbers (number.ts), set difference through `minus`,
// numbers.range*, and the bits.* family on arbitrary-size integers.
import type { BuiltinDef } from "./registry.js";
import { isNumber, isSet, makeSet, type SetV, type Value } from "../value.js";
import {
  absNum,
  addNum,
  divNum,
  isInteger,
  isZero,
  mulNum,
  numFromBigInt,
  numFromFloat,
  remNum,
  roundNum,
  subNum,
  toFloat,
  type Num,
} from "../number.js";
import {
  bigIntArg,
  builtinErr,
  def,
  intDigits,
  MAX_INT_DIGITS,
  numArg,
  operandErr,
  typeErr,
} from "./lib/args.js";

function checked(name: string, r: Num | null): Num {
  // Only a float result can be non-finite; OPA's big.Float has no such limit.
  if (r === null) throw builtinErr(name, "result is out of the representable range");
  return r;
}

function binary(name: string, op: (a: Num, b: Num) => Num | null): BuiltinDef {
  return def(name, 2, ([a, b]) => checked(name, op(numArg(name, a!, 1), numArg(name, b!, 2))));
}

function setDiff(a: SetV, b: SetV): SetV {
  const out: Value[] = [];
  for (const x of a.sorted()) if (!b.has(x)) out.push(x);
  return out.length === a.size ? a : makeSet(out);
}

function minus([a, b]: Value[]): Value {
  const an = isNumber(a!);
  const bn = isNumber(b!);
  if (an && bn) return checked("minus", subNum(a as Num, b as Num));
  const as = isSet(a!);
  if (as && isSet(b!)) return setDiff(a as SetV, b as SetV);
  if (!an && !as) throw typeErr("minus", 1, a!, "number", "set");
  if (as) throw typeErr("minus", 2, b!, "set");
  throw typeErr("minus", 2, b!, "number");
}

function div([a, b]: Value[]): Value {
  const x = numArg("div", a!, 1);
  const y = numArg("div", b!, 2);
  if (isZero(y)) throw builtinErr("div", "divide by zero");
  // divNum divides integers exactly, which means materialising them.
  if (intDigits(x) > MAX_INT_DIGITS || intDigits(y) > MAX_INT_DIGITS) {
    return checked("div", numFromFloat(toFloat(x) / toFloat(y)));
  }
  return checked("div", divNum(x, y));
}

function rem([a, b]: Value[]): Value {
  const x = numArg("rem", a!, 1);
  const y = numArg("rem", b!, 2);
  if (intDigits(x) > MAX_INT_DIGITS || intDigits(y) > MAX_INT_DIGITS) {
    throw builtinErr("rem", "operand is too large");
  }
  const r = remNum(x, y);
  if (r === "not-integer") throw builtinErr("rem", "modulo on floating-point number");
  if (r === null) throw builtinErr("rem", "modulo by zero");
  return r;
}

function unary(name: string, op: (n: Num) => Num): BuiltinDef {
  return def(name, 1, ([a]) => op(numArg(name, a!, 1)));
}

/**
 * round/ceil/floor. A fraction with a huge negative exponent (1e-1000000)
 * is decided from its sign and leading digit rather than by scaling it.
 */
function rounding(mode: "round" | "ceil" | "floor"): (n: Num) => Num {
  return (n) => {
    if (typeof n === "number" || n.e >= -MAX_INT_DIGITS || isInteger(n)) return roundNum(n, mode);
    const neg = n.m < 0n;
    const digits = intDigits(n);
    if (digits > 0) return roundNum(n, mode);
    if (mode === "ceil") return neg ? 0 : 1;
    if (mode === "floor") return neg ? -1 : 0;
    // |n| < 1: rounds away from zero only from one half up.
    const lead = (neg ? -n.m : n.m).toString().charCodeAt(0);
    return digits === 0 && lead >= 53 ? (neg ? -1 : 1) : 0;
  };
}

// Beyond this a range cannot be materialised in reasonable memory; OPA would
// run until the query is cancelled.
const MAX_RANGE = 10_000_000n;

function range(name: string, x: bigint, y: bigint, step: bigint): Value[] {
  const count = (x <= y ? y - x : x - y) / step + 1n;
  if (count > MAX_RANGE) throw builtinErr(name, `range of ${count} numbers is too large`);
  const n = Number(count);
  const out: Value[] = new Array(n);
  const up = x <= y;
  const safe =
    x >= BigInt(Number.MIN_SAFE_INTEGER) &&
    x <= BigInt(Number.MAX_SAFE_INTEGER) &&
    y >= BigInt(Number.MIN_SAFE_INTEGER) &&
    y <= BigInt(Number.MAX_SAFE_INTEGER);
  if (safe && step <= BigInt(Number.MAX_SAFE_INTEGER)) {
    const s = up ? Number(step) : -Number(step);
    let v = Number(x);
    for (let i = 0; i < n; i++, v += s) out[i] = v;
    return out;
  }
  const s = up ? step : -step;
  let v = x;
  for (let i = 0; i < n; i++, v += s) out[i] = numFromBigInt(v);
  return out;
}

function numbersRange([a, b]: Value[]): Value {
  const x = bigIntArg("numbers.range", a!, 1);
  const y = bigIntArg("numbers.range", b!, 2);
  return range("numbers.range", x, y, 1n);
}

function numbersRangeStep([a, b, c]: Value[]): Value {
  const name = "numbers.range_step";
  const x = bigIntArg(name, a!, 1);
  const y = bigIntArg(name, b!, 2);
  const step = bigIntArg(name, c!, 3);
  // OPA raises this as a plain error that already carries the name, and then
  // prefixes the name again.
  if (step <= 0n) throw builtinErr(name, `${name}: step must be a positive integer`);
  return range(name, x, y, step);
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function isInt32(v: Value): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX;
}

function bits2(name: string, small: (a: number, b: number) => number, big: (a: bigint, b: bigint) => bigint) {
  return def(name, 2, ([a, b]) => {
    if (isInt32(a!) && isInt32(b!)) return small(a, b);
    return numFromBigInt(big(bigIntArg(name, a!, 1), bigIntArg(name, b!, 2)));
  });
}

// Shifting further than this would build an integer too large to hold.
const MAX_SHIFT = 1n << 20n;

function shiftCount(name: string, b: bigint): bigint {
  if (b < 0n) throw operandErr(name, 2, "must be an unsigned integer number but got a negative integer");
  return b;
}

function lsh([a, b]: Value[]): Value {
  const x = bigIntArg("bits.lsh", a!, 1);
  const s = shiftCount("bits.lsh", bigIntArg("bits.lsh", b!, 2));
  if (x === 0n) return 0;
  if (s > MAX_SHIFT) throw builtinErr("bits.lsh", "shift count too large");
  return numFromBigInt(x << s);
}

function rsh([a, b]: Value[]): Value {
  const x = bigIntArg("bits.rsh", a!, 1);
  const s = shiftCount("bits.rsh", bigIntArg("bits.rsh", b!, 2));
  // big.Int.Rsh is an arithmetic shift, like BigInt's >>.
  if (s > BigInt(x.toString(2).length)) return x < 0n ? -1 : 0;
  return numFromBigInt(x >> s);
}

export const builtins: BuiltinDef[] = [
  binary("plus", addNum),
  def("minus", 2, minus),
  binary("mul", mulNum),
  def("div", 2, div),
  def("rem", 2, rem),
  unary("abs", absNum),
  unary("round", rounding("round")),
  unary("ceil", rounding("ceil")),
  unary("floor", rounding("floor")),
  def("numbers.range", 2, numbersRange),
  def("numbers.range_step", 3, numbersRangeStep),
  bits2(
    "bits.and",
    (a, b) => a & b,
    (a, b) => a & b,
  ),
  bits2(
    "bits.or",
    (a, b) => a | b,
    (a, b) => a | b,
  ),
  bits2(
    "bits.xor",
    (a, b) => a ^ b,
    (a, b) => a ^ b,
  ),
  def("bits.negate", 1, ([a]) => (isInt32(a!) ? ~a : numFromBigInt(~bigIntArg("bits.negate", a!, 1)))),
  def("bits.lsh", 2, lsh),
  def("bits.rsh", 2, rsh),
];
