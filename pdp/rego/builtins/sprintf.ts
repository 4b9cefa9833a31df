// sprintf: OPA hands the operands to Go's fmt.Sprintf after converting them —
// integers that fit an int64 become Go ints, larger integers *big.Int, other
// numbers float64, strings stay strings, and every other value becomes its
// Rego text (a string). So this is an emulation of Go's fmt for exactly those
// four argument types, including its in-band error texts ("%!d(string=x)").
import type { BuiltinDef } from "./registry.js";
import { isArray, isBigNum, toRegoText, type Value } from "../value.js";
import { isInteger, numToString, toBigInt, toFloat } from "../number.js";
import { def, intDigits, strArg, typeErr } from "./lib/args.js";
import { canBackquote, formatFloat, isPrint, quote, quoteRune, quoteToASCII } from "./lib/gofmt.js";

type Arg =
  { t: "int"; v: bigint } | { t: "big"; v: bigint } | { t: "float"; v: number } | { t: "string"; v: string };

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64 = 2n ** 64n;
const MAX_RUNE = 0x10ffff;

function toArg(v: Value): Arg {
  if (typeof v === "string") return { t: "string", v };
  if (typeof v === "number") {
    if (Number.isInteger(v)) return { t: "int", v: BigInt(v) };
    return { t: "float", v };
  }
  if (isBigNum(v)) {
    // Beyond float64's range OPA ends up passing the number's text.
    if (intDigits(v) > 309) return { t: "string", v: numToString(v) };
    if (isInteger(v)) {
      const b = toBigInt(v)!;
      return { t: b >= INT64_MIN && b <= INT64_MAX ? "int" : "big", v: b };
    }
    const f = toFloat(v);
    // json.Number.Float64 fails out of range; OPA then passes the number's text.
    return Number.isFinite(f) ? { t: "float", v: f } : { t: "string", v: numToString(v) };
  }
  return { t: "string", v: toRegoText(v) };
}

function typeString(a: Arg): string {
  switch (a.t) {
    case "int":
      return "int";
    case "big":
      return "*big.Int";
    case "float":
      return "float64";
    case "string":
      return "string";
  }
}

function runeLen(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) i++;
    n++;
  }
  return n;
}

const LDIGITS = "0123456789abcdefx";
const UDIGITS = "0123456789ABCDEFX";

class Printer {
  out = "";
  // fmt.fmtFlags
  widPresent = false;
  precPresent = false;
  minus = false;
  plus = false;
  sharp = false;
  space = false;
  zero = false;
  plusV = false;
  sharpV = false;
  wid = 0;
  prec = 0;

  clearFlags(): void {
    this.widPresent = this.precPresent = this.minus = this.plus = false;
    this.sharp = this.space = this.zero = this.plusV = this.sharpV = false;
    this.wid = this.prec = 0;
  }

  writePadding(n: number): void {
    if (n <= 0) return;
    this.out += (this.zero && !this.minus ? "0" : " ").repeat(n);
  }

  pad(s: string): void {
    if (!this.widPresent || this.wid === 0) {
      this.out += s;
      return;
    }
    const width = this.wid - runeLen(s);
    if (!this.minus) {
      this.writePadding(width);
      this.out += s;
    } else {
      this.out += s;
      this.writePadding(width);
    }
  }

  /** pad with the zero flag ignored. */
  padSpaces(s: string): void {
    const z = this.zero;
    this.zero = false;
    this.pad(s);
    this.zero = z;
  }

  truncate(s: string): string {
    if (!this.precPresent) return s;
    let n = this.prec;
    let i = 0;
    while (i < s.length) {
      if (--n < 0) return s.slice(0, i);
      const c = s.charCodeAt(i);
      i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
    }
    return s;
  }

  // ---- integers (Go int) ----

  fmtInteger(v: bigint, base: number, verb: string, digits: string): void {
    const negative = v < 0n;
    let u = negative ? -v : v;
    let prec = 0;
    if (this.precPresent) {
      prec = this.prec;
      if (prec === 0 && u === 0n) {
        const z = this.zero;
        this.zero = false;
        this.writePadding(this.wid);
        this.zero = z;
        return;
      }
    } else if (this.zero && !this.minus && this.widPresent) {
      prec = this.wid;
      if (negative || this.plus || this.space) prec--;
    }
    let s = u === 0n ? "0" : "";
    while (u > 0n) {
      s = digits[Number(u % BigInt(base))]! + s;
      u /= BigInt(base);
    }
    if (prec > s.length) s = "0".repeat(prec - s.length) + s;
    if (this.sharp) {
      if (base === 2) s = "0b" + s;
      else if (base === 8 && s[0] !== "0") s = "0" + s;
      else if (base === 16) s = "0" + digits[16] + s;
    }
    if (verb === "O") s = "0o" + s;
    if (negative) s = "-" + s;
    else if (this.plus) s = "+" + s;
    else if (this.space) s = " " + s;
    this.padSpaces(s);
  }

  fmtInt(v: bigint, verb: string, a: Arg): void {
    switch (verb) {
      case "v":
      case "d":
        return this.fmtInteger(v, 10, verb, LDIGITS);
      case "b":
        return this.fmtInteger(v, 2, verb, LDIGITS);
      case "o":
      case "O":
        return this.fmtInteger(v, 8, verb, LDIGITS);
      case "x":
        return this.fmtInteger(v, 16, verb, LDIGITS);
      case "X":
        return this.fmtInteger(v, 16, verb, UDIGITS);
      case "c":
        return this.pad(String.fromCodePoint(runeOf(v)));
      case "q":
        return this.pad(quoteRune(runeOf(v), this.plus));
      case "U":
        return this.fmtUnicode(v < 0n ? v + UINT64 : v);
    }
    this.badVerb(verb, a);
  }

  fmtUnicode(u: bigint): void {
    let prec = 4;
    if (this.precPresent && this.prec > 4) prec = this.prec;
    let hex = u.toString(16).toUpperCase();
    if (hex.length < prec) hex = "0".repeat(prec - hex.length) + hex;
    let s = "U+" + hex;
    if (this.sharp && u <= BigInt(MAX_RUNE) && isPrint(Number(u)) && !isSurrogate(Number(u))) {
      s += " '" + String.fromCodePoint(Number(u)) + "'";
    }
    this.padSpaces(s);
  }

  // ---- *big.Int (its own Format method) ----

  fmtBig(x: bigint, verb: string): void {
    let base: number;
    switch (verb) {
      case "b":
        base = 2;
        break;
      case "o":
      case "O":
        base = 8;
        break;
      case "d":
      case "s":
      case "v":
        base = 10;
        break;
      case "x":
      case "X":
        base = 16;
        break;
      default:
        this.out += `%!${verb}(big.Int=${x.toString()})`;
        return;
    }
    const sign = x < 0n ? "-" : this.plus || this.plusV ? "+" : this.space ? " " : "";
    let prefix = "";
    if (this.sharp || this.sharpV) {
      if (verb === "b") prefix = "0b";
      else if (verb === "o") prefix = "0";
      else if (verb === "x") prefix = "0x";
      else if (verb === "X") prefix = "0X";
    }
    if (verb === "O") prefix = "0o";
    let digits = (x < 0n ? -x : x).toString(base);
    if (verb === "X") digits = digits.toUpperCase();
    let left = 0;
    let zeros = 0;
    let right = 0;
    if (this.precPresent) {
      if (digits.length < this.prec) zeros = this.prec - digits.length;
      else if (digits === "0" && this.prec === 0) return;
    }
    const length = sign.length + prefix.length + zeros + digits.length;
    if (this.widPresent && length < this.wid) {
      const d = this.wid - length;
      if (this.minus) right = d;
      else if (this.zero && !this.precPresent) zeros = d;
      else left = d;
    }
    this.out += " ".repeat(left) + sign + prefix + "0".repeat(zeros) + digits + " ".repeat(right);
  }

  // ---- float64 ----

  fmtFloat(v: number, verb: string, a: Arg): void {
    let prec: number;
    switch (verb) {
      case "v":
        verb = "g";
        prec = -1;
        break;
      case "b":
      case "g":
      case "G":
      case "x":
      case "X":
        prec = -1;
        break;
      case "f":
      case "e":
      case "E":
        prec = 6;
        break;
      case "F":
        verb = "f";
        prec = 6;
        break;
      default:
        return this.badVerb(verb, a);
    }
    if (this.precPresent) prec = this.prec;
    let num = formatFloat(v, verb, prec);
    num = num[0] === "-" || num[0] === "+" ? num : "+" + num;
    if (this.space && num[0] === "+" && !this.plus) num = " " + num.slice(1);
    if (this.sharp && verb !== "b") num = sharpFloat(num, verb, prec);
    if (this.plus || num[0] !== "+") {
      if (this.zero && !this.minus && this.widPresent && this.wid > num.length) {
        this.out += num[0];
        this.writePadding(this.wid - num.length);
        this.out += num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  // ---- strings ----

  fmtString(s: string, verb: string, a: Arg): void {
    switch (verb) {
      case "v":
        return this.sharpV ? this.fmtQ(s) : this.pad(this.truncate(s));
      case "s":
        return this.pad(this.truncate(s));
      case "x":
        return this.fmtSx(s, LDIGITS);
      case "X":
        return this.fmtSx(s, UDIGITS);
      case "q":
        return this.fmtQ(s);
    }
    this.badVerb(verb, a);
  }

  fmtQ(s: string): void {
    s = this.truncate(s);
    if (this.sharp && canBackquote(s)) return this.pad("`" + s + "`");
    this.pad(this.plus ? quoteToASCII(s) : quote(s));
  }

  fmtSx(s: string, digits: string): void {
    const bytes = new TextEncoder().encode(s);
    let length = bytes.length;
    if (this.precPresent && this.prec < length) length = this.prec;
    let width = 2 * length;
    if (width > 0) {
      if (this.space) {
        if (this.sharp) width *= 2;
        width += length - 1;
      } else if (this.sharp) {
        width += 2;
      }
    } else {
      if (this.widPresent) this.writePadding(this.wid);
      return;
    }
    if (this.widPresent && this.wid > width && !this.minus) this.writePadding(this.wid - width);
    let buf = this.sharp ? "0" + digits[16] : "";
    for (let i = 0; i < length; i++) {
      if (this.space && i > 0) {
        buf += " ";
        if (this.sharp) buf += "0" + digits[16];
      }
      const c = bytes[i]!;
      buf += digits[c >> 4]! + digits[c & 15]!;
    }
    this.out += buf;
    if (this.widPresent && this.wid > width && this.minus) this.writePadding(this.wid - width);
  }

  // ---- dispatch ----

  printArg(a: Arg, verb: string): void {
    if (verb === "T") return this.pad(this.truncate(typeString(a)));
    if (verb === "p") return this.badVerb(verb, a);
    switch (a.t) {
      case "int":
        return this.fmtInt(a.v, verb, a);
      case "big":
        return this.fmtBig(a.v, verb);
      case "float":
        return this.fmtFloat(a.v, verb, a);
      case "string":
        return this.fmtString(a.v, verb, a);
    }
  }

  badVerb(verb: string, a: Arg): void {
    this.out += "%!" + verb + "(" + typeString(a) + "=";
    this.printArg(a, "v");
    this.out += ")";
  }
}

function isSurrogate(cp: number): boolean {
  return cp >= 0xd800 && cp <= 0xdfff;
}

/** A Go int converted to rune the way fmtC does (out of range → U+FFFD). */
function runeOf(v: bigint): number {
  if (v < 0n || v > BigInt(MAX_RUNE)) return 0xfffd;
  const cp = Number(v);
  return isSurrogate(cp) ? 0xfffd : cp;
}

/** The '#' flag on floats: keep the decimal point, and %g's trailing zeros. */
function sharpFloat(num: string, verb: string, prec: number): string {
  let digits = 0;
  if (verb === "g" || verb === "G" || verb === "x") digits = prec === -1 ? 6 : prec;
  let tail = "";
  let hasPoint = false;
  let sawNonzero = false;
  for (let i = 1; i < num.length; i++) {
    const c = num[i]!;
    if (c === ".") {
      hasPoint = true;
    } else if (c === "p" || c === "P" || ((c === "e" || c === "E") && verb !== "x" && verb !== "X")) {
      tail = num.slice(i);
      num = num.slice(0, i);
      break;
    } else {
      if (c !== "0") sawNonzero = true;
      if (sawNonzero) digits--;
    }
  }
  if (!hasPoint) {
    if (num.length === 2 && num[1] === "0") digits--;
    num += ".";
  }
  if (digits > 0) num += "0".repeat(digits);
  return num + tail;
}

const TOO_LARGE = 1_000_000;

function parseNum(s: string, start: number, end: number): [number, boolean, number] {
  if (start >= end) return [0, false, end];
  let num = 0;
  let isNum = false;
  let i = start;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    if (num > TOO_LARGE || num < -TOO_LARGE) return [0, false, end];
    num = num * 10 + (c - 48);
    isNum = true;
  }
  return [num, isNum, i];
}

/** fmt.Sprintf(format, args...) */
export function goSprintf(format: string, args: Arg[]): string {
  const p = new Printer();
  const end = format.length;
  let argNum = 0;
  let afterIndex = false;
  let reordered = false;
  let goodArgNum = true;

  const argNumber = (i: number): [number, boolean] => {
    if (i >= end || format[i] !== "[") return [i, false];
    reordered = true;
    // parseArgNumber: "[n]" with n ≥ 1
    if (end - i < 3) {
      goodArgNum = false;
      return [i + 1, false];
    }
    for (let j = i + 1; j < end; j++) {
      if (format[j] === "]") {
        const [width, ok, newi] = parseNum(format, i + 1, j);
        if (!ok || newi !== j) {
          goodArgNum = false;
          return [j + 1, false];
        }
        const index = width - 1;
        if (index >= 0 && index < args.length) {
          argNum = index;
          return [j + 1, true];
        }
        goodArgNum = false;
        return [j + 1, true];
      }
    }
    goodArgNum = false;
    return [i + 1, false];
  };

  const intFromArg = (): [number, boolean] => {
    let num = 0;
    let isInt = false;
    if (argNum < args.length) {
      const a = args[argNum]!;
      if (a.t === "int") {
        num = Number(a.v);
        isInt = true;
      }
      argNum++;
      if (num > TOO_LARGE || num < -TOO_LARGE) {
        num = 0;
        isInt = false;
      }
    }
    return [num, isInt];
  };

  let i = 0;
  while (i < end) {
    goodArgNum = true;
    const lasti = i;
    while (i < end && format[i] !== "%") i++;
    if (i > lasti) p.out += format.slice(lasti, i);
    if (i >= end) break;
    i++; // skip %
    p.clearFlags();
    flags: for (; i < end; i++) {
      switch (format[i]) {
        case "#":
          p.sharp = true;
          break;
        case "0":
          p.zero = true;
          break;
        case "+":
          p.plus = true;
          break;
        case "-":
          p.minus = true;
          break;
        case " ":
          p.space = true;
          break;
        default:
          break flags;
      }
    }
    [i, afterIndex] = argNumber(i);

    if (i < end && format[i] === "*") {
      i++;
      [p.wid, p.widPresent] = intFromArg();
      if (!p.widPresent) p.out += "%!(BADWIDTH)";
      if (p.wid < 0) {
        p.wid = -p.wid;
        p.minus = true;
        p.zero = false;
      }
      afterIndex = false;
    } else {
      [p.wid, p.widPresent, i] = parseNum(format, i, end);
      if (afterIndex && p.widPresent) goodArgNum = false;
    }

    if (i + 1 < end && format[i] === ".") {
      i++;
      if (afterIndex) goodArgNum = false;
      [i, afterIndex] = argNumber(i);
      if (i < end && format[i] === "*") {
        i++;
        [p.prec, p.precPresent] = intFromArg();
        if (p.prec < 0) {
          p.prec = 0;
          p.precPresent = false;
        }
        if (!p.precPresent) p.out += "%!(BADPREC)";
        afterIndex = false;
      } else {
        [p.prec, p.precPresent, i] = parseNum(format, i, end);
        if (!p.precPresent) {
          p.prec = 0;
          p.precPresent = true;
        }
      }
    }

    if (!afterIndex) [i, afterIndex] = argNumber(i);

    if (i >= end) {
      p.out += "%!(NOVERB)";
      break;
    }
    const cp = format.codePointAt(i)!;
    const verb = String.fromCodePoint(cp);
    i += verb.length;

    if (verb === "%") {
      p.out += "%";
    } else if (!goodArgNum) {
      p.out += `%!${verb}(BADINDEX)`;
    } else if (argNum >= args.length) {
      p.out += `%!${verb}(MISSING)`;
    } else {
      if (verb === "v") {
        p.sharpV = p.sharp;
        p.sharp = false;
        p.plusV = p.plus;
        p.plus = false;
      }
      p.printArg(args[argNum]!, verb);
      argNum++;
    }
  }

  if (!reordered && argNum < args.length) {
    p.clearFlags();
    p.out += "%!(EXTRA ";
    for (let k = argNum; k < args.length; k++) {
      if (k > argNum) p.out += ", ";
      const a = args[k]!;
      p.out += typeString(a) + "=";
      p.printArg(a, "v");
    }
    p.out += ")";
  }
  return p.out;
}

function sprintf([f, a]: Value[]): Value {
  const format = strArg("sprintf", f!, 1);
  if (!isArray(a!)) throw typeErr("sprintf", 2, a!, "array");
  // The usual "to string" use: sprintf("%d", [n]).
  if (format === "%d" && a.length === 1 && typeof a[0] === "number" && Number.isInteger(a[0])) {
    return String(a[0]);
  }
  const fast = simpleSprintf(format, a);
  if (fast !== null) return fast;
  const args: Arg[] = new Array(a.length);
  for (let i = 0; i < a.length; i++) args[i] = toArg(a[i]!);
  return goSprintf(format, args);
}

/**
 * The shapes policies use for messages — `%s`/`%v` of strings, `%q` of plain
 * ASCII strings, `%d`/`%v` of safe integers, `%%` — without building Go's printer; null for anything else
 * (flags, widths, other verbs or types go the exact way).
 */
function simpleSprintf(format: string, a: Value[]): string | null {
  let out = "";
  let last = 0;
  let ai = 0;
  for (let i = format.indexOf("%"); i >= 0; i = format.indexOf("%", last)) {
    const verb = format.charCodeAt(i + 1);
    out += format.slice(last, i);
    last = i + 2;
    if (verb === 0x25) {
      out += "%";
      continue;
    }
    const arg = a[ai++];
    if ((verb === 0x73 || verb === 0x76) && typeof arg === "string") out += arg;
    else if (verb === 0x71 && typeof arg === "string" && plainAscii(arg)) out += `"${arg}"`;
    else if ((verb === 0x64 || verb === 0x76) && typeof arg === "number" && Number.isSafeInteger(arg)) {
      out += String(arg);
    } else return null;
  }
  if (ai !== a.length) return null;
  return out + format.slice(last);
}

/** Printable ASCII without a double quote or a backslash: what Go's %q (strconv.Quote) only wraps in quotes. */
function plainAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

export const builtins: BuiltinDef[] = [def("sprintf", 2, sprintf)];
