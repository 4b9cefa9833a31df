// Type predicates and conversions. In Rego v1 the is_* predicates are total:
// false for other types rather than undefined.
import type { BuiltinDef } from "./registry.js";
import { isArray, isNumber, isObject, isSet, typeName, type Value } from "../value.js";
import { numFromText } from "../number.js";
import { builtinErr, def, typeErr } from "./lib/args.js";
import { quote } from "./lib/gofmt.js";

// strconv.ParseFloat's syntax: decimal, or hex with a mandatory p exponent
// (inf/nan are rejected before this).
const DEC_FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const HEX_FLOAT = /^[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+$/;

function toNumber(v: Value): Value {
  if (v === null) return 0;
  if (typeof v === "boolean") return v ? 1 : 0;
  if (isNumber(v)) return v;
  if (typeof v !== "string") throw typeErr("to_number", 1, v, "null", "boolean", "number", "string");
  const lower = v.replace(/^[+-]+/, "").toLowerCase();
  if (lower === "inf" || lower === "infinity" || lower === "nan") {
    throw typeErr("to_number", 1, v, "valid number string");
  }
  if (DEC_FLOAT.test(v)) {
    // OPA keeps the text as the number, so the value is exact; normalise the
    // forms our decimal parser does not take (leading '+', '.5', '5.').
    let t = v.startsWith("+") ? v.slice(1) : v;
    t = t.replace(/^(-?)\./, "$10.").replace(/\.(?=[eE]|$)/, "");
    if (!Number.isFinite(Number(t))) {
      throw builtinErr("to_number", `strconv.ParseFloat: parsing ${quote(v)}: value out of range`);
    }
    const n = numFromText(t);
    if (n !== null) return n;
  } else if (HEX_FLOAT.test(v)) {
    const f = parseHexFloat(v);
    if (f !== null) return f;
  }
  throw builtinErr("to_number", `strconv.ParseFloat: parsing ${quote(v)}: invalid syntax`);
}

function parseHexFloat(s: string): number | null {
  const m = /^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)[pP]([+-]?\d+)$/.exec(s);
  if (!m) return null;
  const mant = BigInt("0x" + (m[2]! + m[3]! || "0"));
  const exp = Number(m[4]) - 4 * m[3]!.length;
  const f = Number(mant) * 2 ** exp;
  if (!Number.isFinite(f)) return null;
  const r = m[1] === "-" ? -f : f;
  return Number.isInteger(r) && !Number.isSafeInteger(r) ? null : r;
}

export const builtins: BuiltinDef[] = [
  def("is_number", 1, ([v]) => isNumber(v!)),
  def("is_string", 1, ([v]) => typeof v === "string"),
  def("is_boolean", 1, ([v]) => typeof v === "boolean"),
  def("is_array", 1, ([v]) => isArray(v!)),
  def("is_set", 1, ([v]) => isSet(v!)),
  def("is_object", 1, ([v]) => isObject(v!)),
  def("is_null", 1, ([v]) => v === null),
  def("type_name", 1, ([v]) => typeName(v!)),
  def("to_number", 1, ([v]) => toNumber(v!)),
];
