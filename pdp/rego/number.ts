// Rego numbers are exact decimals. Most numbers a policy sees are safe integers
// or ordinary floats, so those stay JS numbers (fast path); a BigNum holds the
// rest exactly: integers beyond 2^53 and decimals whose float would differ
// from the literal (1e400, 0.1234567890123456789).
//
// Invariant that keeps equality and hashing cheap: a value is a JS number iff
// it is exactly representable as one (a safe integer, or a non-integer whose
// shortest float text denotes the same decimal); otherwise it is a BigNum. So
// one value never has two representations.

export class BigNum {
  /** value = m × 10^e, m not divisible by 10 (unless 0, then e = 0) */
  constructor(
    readonly m: bigint,
    readonly e: number,
  ) {}

  /** Exact decimal text without exponent when reasonable, as OPA prints big numbers. */
  toString(): string {
    return decimalToString(this.m, this.e);
  }
}

export type Num = number | BigNum;

interface Dec {
  m: bigint;
  e: number;
}

function normDec(m: bigint, e: number): Dec {
  if (m === 0n) return { m: 0n, e: 0 };
  while (m % 10n === 0n) {
    m /= 10n;
    e++;
  }
  return { m, e };
}

const DEC_RE = /^(-?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function parseDec(text: string): Dec | null {
  const mm = DEC_RE.exec(text);
  if (!mm) return null;
  const frac = mm[3] ?? "";
  let e = mm[4] ? Number(mm[4]) : 0;
  if (!Number.isSafeInteger(e)) return null;
  e -= frac.length;
  const m = BigInt(mm[2]! + frac) * (mm[1] === "-" ? -1n : 1n);
  return normDec(m, e);
}

/** The exact decimal a JS number denotes in Rego (its shortest round-trip text). */
function decOfNumber(n: number): Dec {
  if (Number.isSafeInteger(n)) return normDec(BigInt(n), 0);
  return parseDec(String(n))!;
}

function toDec(n: Num): Dec {
  return typeof n === "number" ? decOfNumber(n) : { m: n.m, e: n.e };
}

/** Chooses the canonical representation of an exact decimal. */
function fromDec(d: Dec): Num {
  const { m, e } = normDec(d.m, d.e);
  if (e >= 0) {
    if (e <= 16) {
      const v = m * 10n ** BigInt(e);
      if (v >= -9007199254740991n && v <= 9007199254740991n) return Number(v);
    }
    return new BigNum(m, e);
  }
  // A fraction: use the float only when its shortest text is this exact decimal.
  const text = decimalToString(m, e);
  const f = Number(text);
  if (Number.isFinite(f) && f !== 0) {
    const back = decOfNumber(f);
    if (back.m === m && back.e === e) return f;
  }
  return new BigNum(m, e);
}

function decimalToString(m: bigint, e: number): string {
  const neg = m < 0n;
  let digits = (neg ? -m : m).toString();
  let out: string;
  if (e >= 0) {
    if (e > 400) return `${neg ? "-" : ""}${digits}e+${e}`;
    out = digits + "0".repeat(e);
  } else {
    const p = -e;
    if (p > 400) return `${neg ? "-" : ""}${digits}e${e}`;
    if (digits.length <= p) digits = "0".repeat(p - digits.length + 1) + digits;
    out = digits.slice(0, digits.length - p) + "." + digits.slice(digits.length - p);
  }
  return (neg ? "-" : "") + out;
}

/** Parses a Rego/JSON number literal into its canonical representation. */
export function numFromText(text: string): Num | null {
  const d = parseDec(text);
  if (!d) return null;
  return fromDec(d);
}

/** Canonicalises a JS number result of float arithmetic (unsafe integers become exact). */
export function numFromFloat(f: number): Num | null {
  if (!Number.isFinite(f)) return null;
  if (Number.isInteger(f)) {
    if (Number.isSafeInteger(f)) return f === 0 ? 0 : f;
    return fromDec(normDec(BigInt(f), 0));
  }
  return f;
}

export function numFromBigInt(b: bigint): Num {
  return fromDec(normDec(b, 0));
}

export function isInteger(n: Num): boolean {
  return typeof n === "number" ? Number.isInteger(n) : n.e >= 0;
}

/** The integer as a bigint, or null when not integral. */
// Integers with more digits than this are refused where an exact bigint is
// needed: 10^e for a hostile exponent (`1e1000000`) would stall the evaluator.
export const MAX_INT_DIGITS = 10_000;

export function toBigInt(n: Num): bigint | null {
  if (typeof n === "number") return Number.isInteger(n) ? BigInt(n) : null;
  if (n.e < 0 || n.e > MAX_INT_DIGITS) return null;
  return n.m * 10n ** BigInt(n.e);
}

/** Nearest float (may be ±Infinity or 0 for extreme BigNums). */
export function toFloat(n: Num): number {
  return typeof n === "number" ? n : Number(decimalToString(n.m, n.e).replace(/^(-?)(\d+e)/, "$1$2"));
}

export function compareNum(a: Num, b: Num): number {
  if (typeof a === "number" && typeof b === "number") return a < b ? -1 : a > b ? 1 : 0;
  return compareDec(toDec(a), toDec(b));
}

function compareDec(a: Dec, b: Dec): number {
  const sa = a.m < 0n ? -1 : a.m > 0n ? 1 : 0;
  const sb = b.m < 0n ? -1 : b.m > 0n ? 1 : 0;
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (sa === 0) return 0;
  // Align exponents; bound the scaling work by comparing magnitudes first.
  const da = (a.m < 0n ? -a.m : a.m).toString().length + a.e;
  const db = (b.m < 0n ? -b.m : b.m).toString().length + b.e;
  if (da !== db) return (da < db ? -1 : 1) * sa;
  const e = Math.min(a.e, b.e);
  const x = a.m * 10n ** BigInt(a.e - e);
  const y = b.m * 10n ** BigInt(b.e - e);
  return x < y ? -1 : x > y ? 1 : 0;
}

function alignAdd(a: Dec, b: Dec, sign: bigint): Dec {
  const e = Math.min(a.e, b.e);
  return { m: a.m * 10n ** BigInt(a.e - e) + sign * b.m * 10n ** BigInt(b.e - e), e };
}

// Exponent gaps beyond this would build enormous bigints; fall back to floats.
const MAX_ALIGN = 2000;

function exactOk(a: Dec, b: Dec): boolean {
  return Math.abs(a.e - b.e) <= MAX_ALIGN;
}

export function addNum(a: Num, b: Num): Num | null {
  if (typeof a === "number" && typeof b === "number") {
    const r = a + b;
    if (Number.isSafeInteger(r) || ((!Number.isInteger(a) || !Number.isInteger(b)) && !Number.isInteger(r))) {
      return numFromFloat(r);
    }
  }
  const da = toDec(a);
  const db = toDec(b);
  if (!exactOk(da, db)) return numFromFloat(toFloat(a) + toFloat(b));
  return fromDec(alignAdd(da, db, 1n));
}

export function subNum(a: Num, b: Num): Num | null {
  if (typeof a === "number" && typeof b === "number") {
    const r = a - b;
    if (Number.isSafeInteger(r) || ((!Number.isInteger(a) || !Number.isInteger(b)) && !Number.isInteger(r))) {
      return numFromFloat(r);
    }
  }
  const da = toDec(a);
  const db = toDec(b);
  if (!exactOk(da, db)) return numFromFloat(toFloat(a) - toFloat(b));
  return fromDec(alignAdd(da, db, -1n));
}

export function mulNum(a: Num, b: Num): Num | null {
  if (typeof a === "number" && typeof b === "number") {
    const r = a * b;
    if (Number.isSafeInteger(r) && Number.isInteger(a) && Number.isInteger(b)) return r === 0 ? 0 : r;
    if (!Number.isInteger(a) || !Number.isInteger(b)) return numFromFloat(r);
  }
  const da = toDec(a);
  const db = toDec(b);
  return fromDec({ m: da.m * db.m, e: da.e + db.e });
}

/** Division; null on divide by zero. Exact for integers that divide evenly. */
export function divNum(a: Num, b: Num): Num | null {
  if (isZero(b)) return null;
  const ia = toBigInt(a);
  const ib = toBigInt(b);
  if (ia !== null && ib !== null && ia % ib === 0n) return numFromBigInt(ia / ib);
  return numFromFloat(toFloat(a) / toFloat(b));
}

/** Remainder with the sign of the dividend; null when not integers or b is zero. */
export function remNum(a: Num, b: Num): Num | null | "not-integer" {
  const ia = toBigInt(a);
  const ib = toBigInt(b);
  if (ia === null || ib === null) return "not-integer";
  if (ib === 0n) return null;
  return numFromBigInt(ia % ib);
}

export function isZero(n: Num): boolean {
  return typeof n === "number" ? n === 0 : n.m === 0n;
}

export function negNum(n: Num): Num {
  return typeof n === "number" ? (n === 0 ? 0 : -n) : new BigNum(-n.m, n.e);
}

export function absNum(n: Num): Num {
  return typeof n === "number" ? Math.abs(n) : new BigNum(n.m < 0n ? -n.m : n.m, n.e);
}

/** Round half away from zero (Go's math.Round / big.Float semantics used by OPA). */
export function roundNum(n: Num, mode: "round" | "ceil" | "floor"): Num {
  if (isInteger(n)) return n;
  if (typeof n === "number") {
    const r =
      mode === "ceil"
        ? Math.ceil(n)
        : mode === "floor"
          ? Math.floor(n)
          : Math.sign(n) * Math.round(Math.abs(n));
    return numFromFloat(r === 0 ? 0 : r)!;
  }
  const digits = (n.m < 0n ? -n.m : n.m).toString().length;
  if (digits + n.e < -1) {
    // |n| < 0.1: no need to build 10^-e.
    if (mode === "ceil") return n.m > 0n ? 1 : 0;
    if (mode === "floor") return n.m < 0n ? -1 : 0;
    return 0;
  }
  const scale = 10n ** BigInt(-n.e);
  let q = n.m / scale; // truncates toward zero
  const r = n.m % scale;
  if (mode === "ceil" && r > 0n) q += 1n;
  else if (mode === "floor" && r < 0n) q -= 1n;
  else if (mode === "round") {
    const twice = (r < 0n ? -r : r) * 2n;
    if (twice >= scale) q += n.m < 0n ? -1n : 1n;
  }
  return numFromBigInt(q);
}

/** Text of a number as OPA prints it in JSON and `sprintf("%v")`. */
export function numToString(n: Num): string {
  if (typeof n === "number") {
    if (Number.isInteger(n)) return String(n);
    const s = String(n);
    // JS writes 1e-7 / 1.5e+21; Go's json prints the same magnitudes as 1e-07 / 1.5e+21.
    return s.replace(/e([+-])(\d)$/, "e$10$2");
  }
  return n.toString();
}

/** Canonical key text for hashing BigNums (JS numbers hash as themselves). */
export function bigKey(n: BigNum): string {
  return `${n.m}e${n.e}`;
}
