// units.parse and units.parse_bytes, exact like OPA: units.parse computes with
// rationals (big.Rat), so results are exact and non-integers are printed with
// 10 decimals; units.parse_bytes computes with Go's 64-bit-mantissa big.Float
// and truncates to an integer, which we reproduce bit for bit (it decides
// results such as "1.1KiB" = 1126).
import type { BuiltinDef } from "./registry.js";
import { BuiltinError } from "./registry.js";
import { def, strArg } from "./lib/args.js";
import { numFromBigInt, numFromText, type Num } from "../number.js";

// Go's extractNumAndUnit caps the exponent of scientific notation at 6 digits.
const MAX_EXPONENT_DIGITS = 6;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

/** Splits "10.5e3KiB" into ["10.5e3", "KiB"]; null when the exponent is too long. */
function extractNumAndUnit(s: string): [string, string] | null {
  let firstNonNum = -1;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (!isDigit(c) && c !== "." && c !== "e" && c !== "E" && c !== "+" && c !== "-") {
      firstNonNum = i;
      break;
    }
    if (c === "e" || c === "E") {
      const next = s[i + 1];
      if (i === s.length - 1 || (!isDigit(next) && next !== "+" && next !== "-")) {
        firstNonNum = i;
        break;
      }
      if (next === "+" || next === "-") i++;
      let end = i + 1;
      while (end < s.length && isDigit(s[end])) end++;
      if (end - (i + 1) > MAX_EXPONENT_DIGITS) return null;
    }
  }
  if (firstNonNum === -1) return [s, ""];
  if (firstNonNum === 0) return ["", s];
  return [s.slice(0, firstNonNum), s.slice(firstNonNum)];
}

interface Decimal {
  /** signed significand */
  m: bigint;
  /** value = m × 10^e */
  e: number;
}

const DECIMAL_RE = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;

/** Go's decimal float syntax as accepted by big.Rat / big.Float SetString. */
function parseDecimal(s: string): Decimal | null {
  const mm = DECIMAL_RE.exec(s);
  if (!mm) return null;
  const int = mm[2] ?? "";
  const frac = mm[3] ?? "";
  if (int === "" && frac === "") return null;
  const e = (mm[4] ? Number(mm[4]) : 0) - frac.length;
  let m = BigInt((int + frac).replace(/^0+(?=.)/, "") || "0");
  if (mm[1] === "-") m = -m;
  return { m, e };
}

const abs = (x: bigint): bigint => (x < 0n ? -x : x);
const bitLen = (x: bigint): number => (x === 0n ? 0 : abs(x).toString(2).length);

// ---- units.parse (big.Rat) ----

const SI: Record<string, bigint> = {
  "": 1n,
  k: 1000n,
  K: 1000n,
  ki: 1024n,
  Ki: 1024n,
  M: 1000n ** 2n,
  mi: 1024n ** 2n,
  Mi: 1024n ** 2n,
  g: 1000n ** 3n,
  G: 1000n ** 3n,
  gi: 1024n ** 3n,
  Gi: 1024n ** 3n,
  t: 1000n ** 4n,
  T: 1000n ** 4n,
  ti: 1024n ** 4n,
  Ti: 1024n ** 4n,
  p: 1000n ** 5n,
  P: 1000n ** 5n,
  pi: 1024n ** 5n,
  Pi: 1024n ** 5n,
  e: 1000n ** 6n,
  E: 1000n ** 6n,
  ei: 1024n ** 6n,
  Ei: 1024n ** 6n,
};

/** The float64 0.001 (OPA's siMilli) as an exact fraction mant / 2^shift. */
const MILLI = (() => {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, 0.001);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn) - 1075;
  const mant = (bits & ((1n << 52n) - 1n)) | (1n << 52n);
  return { mant, shift: -exp };
})();

/** A rational num/den as OPA prints it: an integer, or 10 decimals rounded half away from zero. */
function ratToNum(num: bigint, den: bigint): Num {
  if (num % den === 0n) return numFromBigInt(num / den);
  const neg = num < 0n;
  const scaled = abs(num) * 10n ** 10n;
  let q = scaled / den;
  if ((scaled % den) * 2n >= den) q += 1n;
  const digits = q.toString().padStart(11, "0");
  const text = `${neg ? "-" : ""}${digits.slice(0, -10)}.${digits.slice(-10)}`;
  return numFromText(text) ?? 0;
}

function unitsParse(raw: string): Num {
  const name = "units.parse";
  const fail = (msg: string): BuiltinError =>
    new BuiltinError("eval_builtin_error", `${name}: ${name}: ${msg}`);
  const s = raw.replaceAll('"', "");
  if (s.includes(" ")) throw fail("spaces not allowed in resource strings");
  const split = extractNumAndUnit(s);
  if (!split) throw fail("exponent too large");
  const [numText, rawUnit] = split;
  if (numText === "") throw fail("no amount provided");
  // Only the letters after the first are lowercased, to keep "m" and "M" apart.
  const unit = rawUnit.length > 1 ? rawUnit[0] + rawUnit.slice(1).toLowerCase() : rawUnit;
  const factor = unit === "m" ? null : SI[unit];
  if (factor === undefined) throw fail(`unit ${unit} not recognized`);
  const d = parseDecimal(numText);
  if (!d) throw fail("could not parse amount to a number");

  if (factor !== null) {
    if (d.e >= 0) return numFromText(`${d.m * factor}e${d.e}`) ?? 0;
    if (d.e < -100000) return 0; // below the 10 printed decimals
    return ratToNum(d.m * factor, 10n ** BigInt(-d.e));
  }
  // milli: m × 10^e × mant / 2^shift
  const sig = d.m * MILLI.mant;
  if (d.e >= MILLI.shift) {
    return numFromText(`${sig * 5n ** BigInt(MILLI.shift)}e${d.e - MILLI.shift}`) ?? 0;
  }
  if (d.e < -100000) return 0;
  const num = d.e >= 0 ? sig * 10n ** BigInt(d.e) : sig;
  const den = (1n << BigInt(MILLI.shift)) * (d.e < 0 ? 10n ** BigInt(-d.e) : 1n);
  return ratToNum(num, den);
}

// ---- units.parse_bytes (big.Float, 64-bit mantissa, round half to even) ----

interface Float64m {
  neg: boolean;
  /** 64-bit mantissa (or 0) */
  mant: bigint;
  /** value = mant × 2^exp */
  exp: number;
}

/** Rounds |num|/den to a 64-bit mantissa, half to even. */
function roundToPrec(neg: boolean, num: bigint, den: bigint): Float64m {
  if (num === 0n) return { neg, mant: 0n, exp: 0 };
  let shift = 64 - (bitLen(num) - bitLen(den));
  for (;;) {
    const n = shift >= 0 ? num << BigInt(shift) : num;
    const d = shift >= 0 ? den : den << BigInt(-shift);
    let q = n / d;
    const r = n % d;
    const bl = bitLen(q);
    if (bl > 64) {
      shift -= bl - 64;
      continue;
    }
    if (bl < 64) {
      shift += 64 - bl;
      continue;
    }
    const twice = r * 2n;
    if (twice > d || (twice === d && (q & 1n) === 1n)) q += 1n;
    if (bitLen(q) > 64) return { neg, mant: q >> 1n, exp: -shift + 1 };
    return { neg, mant: q, exp: -shift };
  }
}

const BYTE_UNITS: Record<string, bigint> = {
  "": 1n,
  kb: 1000n,
  k: 1000n,
  kib: 1024n,
  ki: 1024n,
  mb: 1000n ** 2n,
  m: 1000n ** 2n,
  mib: 1024n ** 2n,
  mi: 1024n ** 2n,
  gb: 1000n ** 3n,
  g: 1000n ** 3n,
  gib: 1024n ** 3n,
  gi: 1024n ** 3n,
  tb: 1000n ** 4n,
  t: 1000n ** 4n,
  tib: 1024n ** 4n,
  ti: 1024n ** 4n,
  pb: 1000n ** 5n,
  p: 1000n ** 5n,
  pib: 1024n ** 5n,
  pi: 1024n ** 5n,
  eb: 1000n ** 6n,
  e: 1000n ** 6n,
  eib: 1024n ** 6n,
  ei: 1024n ** 6n,
};

function unitsParseBytes(raw: string): Num {
  const name = "units.parse_bytes";
  const fail = (msg: string): BuiltinError =>
    new BuiltinError("eval_builtin_error", `${name}: ${name}: ${msg}`);
  const s = raw.toLowerCase().replaceAll('"', "");
  if (s.includes(" ")) throw fail("spaces not allowed in resource strings");
  const split = extractNumAndUnit(s);
  if (!split) throw fail("exponent too large");
  const [numText, unit] = split;
  if (numText === "") throw fail("no byte amount provided");
  const factor = BYTE_UNITS[unit];
  if (factor === undefined) throw fail(`byte unit ${unit} not recognized`);
  const d = parseDecimal(numText);
  if (!d) throw fail("could not parse byte amount to a number");

  const neg = d.m < 0n;
  const mag = abs(d.m);
  const x =
    d.e >= 0 ? roundToPrec(neg, mag * 10n ** BigInt(d.e), 1n) : roundToPrec(neg, mag, 10n ** BigInt(-d.e));
  // The product is rounded to 64 bits again, then truncated toward zero.
  const p = roundToPrec(neg, x.mant * factor, 1n);
  const exp = p.exp + x.exp;
  let total = exp >= 0 ? p.mant << BigInt(exp) : p.mant >> BigInt(-exp);
  if (neg) total = -total;
  return numFromBigInt(total);
}

export const builtins: BuiltinDef[] = [
  def("units.parse", 1, (args) => unitsParse(strArg("units.parse", args[0]!, 1))),
  def("units.parse_bytes", 1, (args) => unitsParseBytes(strArg("units.parse_bytes", args[0]!, 1))),
];
