// semver.compare / semver.is_valid. Versions are checked against SemVer 2.0.0
// strictly (no leading zeros in numeric parts, no empty pre-release or build
// section, no "v" prefix), which is what the conformance cases pin; build
// metadata never affects precedence.
import type { BuiltinDef } from "./registry.js";
import { builtinErr, def, strArg } from "./lib/args.js";

interface SemVer {
  major: bigint;
  minor: bigint;
  patch: bigint;
  pre: string[];
}

const NUM = "(0|[1-9][0-9]*)";
const PRE_ID = "(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)";
const BUILD_ID = "[0-9A-Za-z-]+";
const SEMVER_RE = new RegExp(
  `^${NUM}\\.${NUM}\\.${NUM}(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+(${BUILD_ID}(?:\\.${BUILD_ID})*))?$`,
);

// Go parses the numeric parts with strconv.ParseInt(…, 64).
const INT64_MAX = 2n ** 63n - 1n;

export function parseSemVer(s: string): SemVer | null {
  const m = SEMVER_RE.exec(s);
  if (!m) return null;
  const major = BigInt(m[1]!);
  const minor = BigInt(m[2]!);
  const patch = BigInt(m[3]!);
  if (major > INT64_MAX || minor > INT64_MAX || patch > INT64_MAX) return null;
  return { major, minor, patch, pre: m[4] ? m[4].split(".") : [] };
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const DIGITS = /^[0-9]+$/;

function comparePre(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) {
    // A version without pre-release outranks one with.
    return a.length === b.length ? 0 : a.length === 0 ? 1 : -1;
  }
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const xn = DIGITS.test(x);
    const yn = DIGITS.test(y);
    if (xn && yn) {
      const c = cmpBig(BigInt(x), BigInt(y));
      if (c !== 0) return c;
    } else if (xn !== yn) {
      return xn ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1; // identifiers are ASCII: UTF-16 order is byte order
    }
  }
  return cmpBig(BigInt(a.length), BigInt(b.length));
}

export function compareSemVer(a: SemVer, b: SemVer): number {
  return (
    cmpBig(a.major, b.major) ||
    cmpBig(a.minor, b.minor) ||
    cmpBig(a.patch, b.patch) ||
    comparePre(a.pre, b.pre)
  );
}

export const builtins: BuiltinDef[] = [
  def("semver.compare", 2, (args) => {
    const name = "semver.compare";
    const a = strArg(name, args[0]!, 1);
    const b = strArg(name, args[1]!, 2);
    const va = parseSemVer(a);
    if (!va) throw builtinErr(name, `operand 1: string ${JSON.stringify(a)} is not a valid SemVer`);
    const vb = parseSemVer(b);
    if (!vb) throw builtinErr(name, `operand 2: string ${JSON.stringify(b)} is not a valid SemVer`);
    return compareSemVer(va, vb);
  }),
  def("semver.is_valid", 1, (args) => {
    const v = args[0]!;
    return typeof v === "string" && parseSemVer(v) !== null;
  }),
];
