// Go's strconv text forms, which OPA's output inherits: quoting (strconv.Quote
// and friends) and float formatting (strconv.FormatFloat). Floats are
// formatted from their exact binary value, so rounding matches Go digit for
// digit (round half to even on the exact decimal expansion), which JS's
// toFixed/toPrecision do not.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** unicode.IsPrint. */
export function isPrint(cp: number): boolean {
  if (cp < 0x80) return cp >= 0x20 && cp < 0x7f;
  return PRINTABLE.test(String.fromCodePoint(cp));
}

const HEX = "0123456789abcdef";

function hexPad(n: number, width: number): string {
  const h = n.toString(16);
  return h.length >= width ? h : "0".repeat(width - h.length) + h;
}

function escapeRune(cp: number, q: number, asciiOnly: boolean): string {
  if (cp === q || cp === 0x5c) return "\\" + String.fromCodePoint(cp);
  if (asciiOnly ? cp < 0x80 && isPrint(cp) : isPrint(cp)) return String.fromCodePoint(cp);
  switch (cp) {
    case 7:
      return "\\a";
    case 8:
      return "\\b";
    case 12:
      return "\\f";
    case 10:
      return "\\n";
    case 13:
      return "\\r";
    case 9:
      return "\\t";
    case 11:
      return "\\v";
  }
  if (cp < 0x20 || cp === 0x7f) return "\\x" + HEX[cp >> 4]! + HEX[cp & 15]!;
  if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
  if (cp < 0x10000) return "\\u" + hexPad(cp, 4);
  return "\\U" + hexPad(cp, 8);
}

function quoteWith(s: string, q: string, asciiOnly: boolean): string {
  const qc = q.charCodeAt(0);
  let out = q;
  let plainFrom = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Fast path: printable ASCII other than the quote and backslash.
    if (c >= 0x20 && c < 0x7f && c !== qc && c !== 0x5c) continue;
    out += s.slice(plainFrom, i);
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    out += escapeRune(cp, qc, asciiOnly);
    plainFrom = i + 1;
  }
  return out + s.slice(plainFrom) + q;
}

/** strconv.Quote */
export function quote(s: string): string {
  return quoteWith(s, '"', false);
}

/** strconv.QuoteToASCII */
export function quoteToASCII(s: string): string {
  return quoteWith(s, '"', true);
}

/** strconv.QuoteRune / QuoteRuneToASCII */
export function quoteRune(cp: number, asciiOnly: boolean): string {
  if (cp > 0x10ffff || cp < 0 || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  return "'" + escapeRune(cp, 0x27, asciiOnly) + "'";
}

/** strconv.CanBackquote */
export function canBackquote(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0xfeff) return false;
    if ((c < 0x20 && c !== 9) || c === 0x60 || c === 0x7f) return false;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

// ---- floats ----

/** Decimal digits `d` (no leading/trailing zeros) with the point after `dp` digits. */
interface Digits {
  d: string;
  dp: number;
}

function floatBits(f: number): { mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, f);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  let exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (exp === 0) exp = 1;
  else mant |= 1n << 52n;
  // value = mant × 2^(exp − 1075)
  return { mant, exp: exp - 1023 };
}

function trimZeros(d: Digits): Digits {
  let n = d.d.length;
  while (n > 0 && d.d.charCodeAt(n - 1) === 48) n--;
  if (n === 0) return { d: "", dp: 0 };
  return n === d.d.length ? d : { d: d.d.slice(0, n), dp: d.dp };
}

/** The exact decimal expansion of a positive finite float. */
function exactDigits(f: number): Digits {
  const { mant, exp } = floatBits(f);
  const e2 = exp - 52;
  if (mant === 0n) return { d: "", dp: 0 };
  if (e2 >= 0) {
    const s = (mant << BigInt(e2)).toString();
    return trimZeros({ d: s, dp: s.length });
  }
  const s = (mant * 5n ** BigInt(-e2)).toString();
  return trimZeros({ d: s, dp: s.length + e2 });
}

/** The shortest digits that read back as f (Go's and JS's shortest agree). */
function shortestDigits(f: number): Digits {
  if (f === 0) return { d: "", dp: 0 };
  const s = f.toExponential();
  const e = s.indexOf("e");
  const d = s.slice(0, e).replace(".", "");
  return trimZeros({ d, dp: Number(s.slice(e + 1)) + 1 });
}

/** decimal.Round(nd): half to even on an exact expansion. */
function roundTo(x: Digits, nd: number): Digits {
  if (nd < 0 || nd >= x.d.length) return x;
  const c = x.d.charCodeAt(nd);
  let up: boolean;
  if (c === 53 && nd + 1 === x.d.length) up = nd > 0 && (x.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  else up = c >= 53;
  if (!up) return trimZeros({ d: x.d.slice(0, nd), dp: x.d.length === 0 ? 0 : x.dp });
  for (let i = nd - 1; i >= 0; i--) {
    const ch = x.d.charCodeAt(i);
    if (ch < 57) return { d: x.d.slice(0, i) + String.fromCharCode(ch + 1), dp: x.dp };
  }
  return { d: "1", dp: x.dp + 1 };
}

function fmtE(neg: boolean, x: Digits, prec: number, ech: string): string {
  let out = neg ? "-" : "";
  out += x.d.length ? x.d[0] : "0";
  if (prec > 0) {
    out += ".";
    const m = Math.min(x.d.length, prec + 1);
    if (m > 1) out += x.d.slice(1, m);
    const have = Math.max(m, 1);
    if (prec + 1 > have) out += "0".repeat(prec + 1 - have);
  }
  let exp = x.d.length === 0 ? 0 : x.dp - 1;
  out += ech;
  if (exp < 0) {
    out += "-";
    exp = -exp;
  } else {
    out += "+";
  }
  return out + (exp < 10 ? "0" + exp : String(exp));
}

function fmtF(neg: boolean, x: Digits, prec: number): string {
  let out = neg ? "-" : "";
  if (x.dp > 0) {
    const m = Math.min(x.d.length, x.dp);
    out += x.d.slice(0, m);
    if (m < x.dp) out += "0".repeat(x.dp - m);
  } else {
    out += "0";
  }
  if (prec > 0) {
    out += ".";
    for (let i = 1; i <= prec; i++) {
      const j = x.dp + i - 1;
      out += j >= 0 && j < x.d.length ? x.d[j] : "0";
    }
  }
  return out;
}

/**
 * strconv.FormatFloat(f, fmt, prec, 64) for finite f; prec −1 means the
 * shortest representation.
 */
export function formatFloat(f: number, fmt: string, prec: number): string {
  const neg = f < 0 || Object.is(f, -0);
  const a = Math.abs(f);
  if (fmt === "b") return formatB(neg, a);
  if (fmt === "x" || fmt === "X") return formatX(neg, a, prec, fmt);
  const shortest = prec < 0;
  let digs: Digits;
  if (shortest) {
    digs = shortestDigits(a);
    switch (fmt) {
      case "e":
      case "E":
        prec = Math.max(digs.d.length - 1, 0);
        break;
      case "f":
        prec = Math.max(digs.d.length - digs.dp, 0);
        break;
      default:
        prec = digs.d.length;
    }
  } else {
    const exact = exactDigits(a);
    switch (fmt) {
      case "e":
      case "E":
        digs = roundTo(exact, prec + 1);
        break;
      case "f":
        digs = roundTo(exact, exact.dp + prec);
        break;
      default:
        if (prec === 0) prec = 1;
        digs = roundTo(exact, prec);
    }
  }
  switch (fmt) {
    case "e":
    case "E":
      return fmtE(neg, digs, prec, fmt);
    case "f":
      return fmtF(neg, digs, prec);
  }
  let eprec = prec;
  const nd = digs.d.length;
  if (eprec > nd && nd >= digs.dp) eprec = nd;
  if (shortest) eprec = 6;
  const exp = digs.dp - 1;
  if (exp < -4 || exp >= eprec) {
    if (prec > nd) prec = nd;
    return fmtE(neg, digs, prec - 1, fmt === "G" ? "E" : "e");
  }
  if (prec > digs.dp) prec = nd;
  return fmtF(neg, digs, Math.max(prec - digs.dp, 0));
}

function formatB(neg: boolean, a: number): string {
  const { mant, exp } = floatBits(a);
  const e = a === 0 ? -1074 : exp - 52;
  return (neg ? "-" : "") + mant.toString() + "p" + (e >= 0 ? "+" : "") + e;
}

const MASK64 = (1n << 64n) - 1n;

function formatX(neg: boolean, a: number, prec: number, fmt: string): string {
  let { mant, exp } = floatBits(a);
  if (mant === 0n) exp = 0;
  mant = (mant << 8n) & MASK64;
  while (mant !== 0n && (mant & (1n << 60n)) === 0n) {
    mant = (mant << 1n) & MASK64;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & ((1n << 60n) - 1n);
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant = (mant << (60n - shift)) & MASK64;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const digits = fmt === "X" ? "0123456789ABCDEF" : HEX;
  let out = (neg ? "-" : "") + "0" + fmt + String(Number((mant >> 60n) & 1n));
  mant = (mant << 4n) & MASK64;
  if (prec < 0 && mant !== 0n) {
    out += ".";
    while (mant !== 0n) {
      out += digits[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & MASK64;
    }
  } else if (prec > 0) {
    out += ".";
    for (let i = 0; i < prec; i++) {
      out += digits[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & MASK64;
    }
  }
  out += fmt === "X" ? "P" : "p";
  if (exp < 0) {
    out += "-";
    exp = -exp;
  } else {
    out += "+";
  }
  return out + (exp < 10 ? "0" + exp : String(exp));
}
