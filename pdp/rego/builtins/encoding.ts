// Encodings: base64/base64url, hex, URL query strings, YAML. Strings are
// UTF-8 bytes on the Go side, so all byte-level work goes through UTF-8.
import { Buffer } from "node:buffer";
import type { BuiltinDef } from "./registry.js";
import { compareStrings, isArray, isObject, isSet, makeObject, objectEntries, type Value } from "../value.js";
import { builtinErr, def, operandErr, strArg, typeErr } from "./lib/args.js";
import { isPrint, quote } from "./lib/gofmt.js";
import { goJSON } from "./lib/gojson.js";
import { fromYAML, isValidYAML, toYAML, YAMLError } from "./lib/goyaml.js";

const utf8 = (s: string): Buffer => Buffer.from(s, "utf8");
const fromUtf8 = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8");

// ---- base64 ----

const STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function decodeMap(alphabet: string): Int16Array {
  const m = new Int16Array(256).fill(-1);
  for (let i = 0; i < alphabet.length; i++) m[alphabet.charCodeAt(i)] = i;
  return m;
}
const STD_MAP = decodeMap(STD);
const URL_MAP = decodeMap(URL);

class CorruptInput extends Error {
  constructor(readonly offset: number) {
    super(`illegal base64 data at input byte ${offset}`);
  }
}

/**
 * Go's base64.Encoding.DecodeString with padding required: newlines are
 * skipped, anything else out of place is reported at its byte offset.
 */
function base64Decode(src: Uint8Array, map: Int16Array): Uint8Array {
  const out = new Uint8Array(Math.floor((src.length * 3) / 4) + 3);
  let n = 0;
  let si = 0;
  const isNL = (c: number): boolean => c === 10 || c === 13;
  for (;;) {
    const dbuf = [0, 0, 0, 0];
    let dlen = 4;
    let done = false;
    for (let j = 0; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return out.subarray(0, n);
        throw new CorruptInput(si - j);
      }
      const c = src[si]!;
      si++;
      const d = map[c]!;
      if (d >= 0) {
        dbuf[j] = d;
        continue;
      }
      if (isNL(c)) {
        j--;
        continue;
      }
      if (c !== 61 /* = */) throw new CorruptInput(si - 1);
      if (j < 2) throw new CorruptInput(si - 1);
      if (j === 2) {
        while (si < src.length && isNL(src[si]!)) si++;
        if (si === src.length) throw new CorruptInput(src.length);
        if (src[si] !== 61) throw new CorruptInput(si - 1);
        si++;
      }
      while (si < src.length && isNL(src[si]!)) si++;
      if (si < src.length) throw new CorruptInput(si);
      dlen = j;
      done = true;
      break;
    }
    const val = (dbuf[0]! << 18) | (dbuf[1]! << 12) | (dbuf[2]! << 6) | dbuf[3]!;
    out[n++] = (val >> 16) & 0xff;
    if (dlen > 2) out[n++] = (val >> 8) & 0xff;
    if (dlen > 3) out[n++] = val & 0xff;
    if (done) return out.subarray(0, n);
  }
}

// Canonical padded input, which Buffer decodes exactly as Go does; anything
// else (newlines, errors) takes the byte-by-byte path for Go's error offsets.
const STD_CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_CANONICAL = /^(?:[A-Za-z0-9\-_]{4})*(?:[A-Za-z0-9\-_]{2}==|[A-Za-z0-9\-_]{3}=)?$/;

function decodeWith(name: string, s: string, map: Int16Array): string {
  if (map === STD_MAP ? STD_CANONICAL.test(s) : URL_CANONICAL.test(s)) {
    return Buffer.from(s, map === STD_MAP ? "base64" : "base64url").toString("utf8");
  }
  try {
    return fromUtf8(base64Decode(utf8(s), map));
  } catch (e) {
    if (e instanceof CorruptInput) throw builtinErr(name, e.message);
    throw e;
  }
}

function base64UrlDecode([v]: Value[]): Value {
  let s = strArg("base64url.decode", v!, 1);
  // RFC 7515 appendix C: restore the padding some encoders leave out.
  if (!s.endsWith("=")) {
    switch (utf8(s).length % 4) {
      case 0:
        break;
      case 2:
        s += "==";
        break;
      case 3:
        s += "=";
        break;
      default:
        throw builtinErr("base64url.decode", `illegal base64url string: ${s}`);
    }
  }
  return decodeWith("base64url.decode", s, URL_MAP);
}

// ---- hex ----

function hexDecode([v]: Value[]): Value {
  const src = utf8(strArg("hex.decode", v!, 1));
  const val = (c: number): number =>
    c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
  const invalid = (c: number): never => {
    const shown = isPrint(c) ? ` '${String.fromCharCode(c)}'` : "";
    throw builtinErr(
      "hex.decode",
      `encoding/hex: invalid byte: U+${c.toString(16).toUpperCase().padStart(4, "0")}${shown}`,
    );
  };
  const out = new Uint8Array(src.length >> 1);
  let j = 1;
  for (; j < src.length; j += 2) {
    const a = val(src[j - 1]!);
    const b = val(src[j]!);
    if (a < 0) invalid(src[j - 1]!);
    if (b < 0) invalid(src[j]!);
    out[(j - 1) >> 1] = (a << 4) | b;
  }
  if (src.length % 2 === 1) {
    if (val(src[j - 1]!) < 0) invalid(src[j - 1]!);
    throw builtinErr("hex.decode", "encoding/hex: odd length hex string");
  }
  return fromUtf8(out);
}

// ---- URL query ----

const UNRESERVED = /^[A-Za-z0-9\-_.~]*$/;

/** url.QueryEscape */
function queryEscape(s: string): string {
  if (UNRESERVED.test(s)) return s;
  let out = "";
  for (const b of utf8(s)) {
    if (
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      (b >= 0x30 && b <= 0x39) ||
      b === 0x2d ||
      b === 0x5f ||
      b === 0x2e ||
      b === 0x7e
    ) {
      out += String.fromCharCode(b);
    } else if (b === 0x20) {
      out += "+";
    } else {
      out += "%" + (b < 16 ? "0" : "") + b.toString(16).toUpperCase();
    }
  }
  return out;
}

class EscapeError extends Error {}

const isHex = (c: number): boolean => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

/** url.QueryUnescape */
function queryUnescape(s: string): string {
  if (!s.includes("%") && !s.includes("+")) return s;
  const src = utf8(s);
  const out: number[] = [];
  for (let i = 0; i < src.length;) {
    const c = src[i]!;
    if (c === 0x25) {
      if (i + 2 >= src.length || !isHex(src[i + 1]!) || !isHex(src[i + 2]!)) {
        const bad = fromUtf8(src.subarray(i, Math.min(i + 3, src.length)));
        throw new EscapeError(`invalid URL escape ${quote(bad)}`);
      }
      out.push(parseInt(String.fromCharCode(src[i + 1]!, src[i + 2]!), 16));
      i += 3;
    } else {
      out.push(c === 0x2b ? 0x20 : c);
      i++;
    }
  }
  return fromUtf8(Uint8Array.from(out));
}

function urlDecode([v]: Value[]): Value {
  try {
    return queryUnescape(strArg("urlquery.decode", v!, 1));
  } catch (e) {
    if (e instanceof EscapeError) throw builtinErr("urlquery.decode", e.message);
    throw e;
  }
}

function encodeObject([v]: Value[]): Value {
  const name = "urlquery.encode_object";
  if (!isObject(v!)) throw typeErr(name, 1, v!, "object");
  const valuesErr = (): Error => operandErr(name, 1, "values must be string, array[string], or set[string]");
  const params = new Map<string, string[]>();
  for (const [k, x] of objectEntries(v)) {
    // ast.JSON turns non-string keys into their JSON text.
    const key = typeof k === "string" ? k : goJSON(k);
    if (typeof x === "string") {
      params.set(key, [x]);
    } else if (isArray(x) || isSet(x)) {
      const items = isArray(x) ? x : x.sorted();
      const list = params.get(key) ?? [];
      for (const item of items) {
        if (typeof item !== "string") throw valuesErr();
        list.push(item);
      }
      params.set(key, list);
    } else {
      throw valuesErr();
    }
  }
  const keys = [...params.keys()].sort(compareStrings);
  const parts: string[] = [];
  for (const k of keys) {
    const ek = queryEscape(k);
    for (const x of params.get(k)!) parts.push(ek + "=" + queryEscape(x));
  }
  return parts.join("&");
}

/** url.ParseQuery, failing on the error it would report. */
function decodeObject([v]: Value[]): Value {
  const name = "urlquery.decode_object";
  let query = strArg(name, v!, 1);
  const params = new Map<string, string[]>();
  let err: string | null = null;
  while (query !== "") {
    const amp = query.indexOf("&");
    const part = amp < 0 ? query : query.slice(0, amp);
    query = amp < 0 ? "" : query.slice(amp + 1);
    if (part.includes(";")) {
      err = "invalid semicolon separator in query";
      continue;
    }
    if (part === "") continue;
    const eq = part.indexOf("=");
    let key: string;
    let value: string;
    try {
      key = queryUnescape(eq < 0 ? part : part.slice(0, eq));
      value = queryUnescape(eq < 0 ? "" : part.slice(eq + 1));
    } catch (e) {
      if (!(e instanceof EscapeError)) throw e;
      err ??= e.message;
      continue;
    }
    const list = params.get(key);
    if (list) list.push(value);
    else params.set(key, [value]);
  }
  if (err !== null) throw builtinErr(name, err);
  return makeObject([...params.entries()]);
}

// ---- YAML ----

function yamlUnmarshal([v]: Value[]): Value {
  const text = strArg("yaml.unmarshal", v!, 1);
  try {
    return fromYAML(text);
  } catch (e) {
    if (e instanceof YAMLError)
      throw builtinErr("yaml.unmarshal", `error converting YAML to JSON: yaml: ${e.message}`);
    throw e;
  }
}

export const builtins: BuiltinDef[] = [
  def("base64.encode", 1, ([v]) => utf8(strArg("base64.encode", v!, 1)).toString("base64")),
  def("base64.decode", 1, ([v]) => decodeWith("base64.decode", strArg("base64.decode", v!, 1), STD_MAP)),
  def("base64.is_valid", 1, ([v]) => {
    if (typeof v !== "string") return false;
    if (STD_CANONICAL.test(v)) return true;
    try {
      base64Decode(utf8(v), STD_MAP);
      return true;
    } catch (e) {
      if (e instanceof CorruptInput) return false;
      throw e;
    }
  }),
  def("base64url.encode", 1, ([v]) => {
    const s = utf8(strArg("base64url.encode", v!, 1)).toString("base64url");
    return s + "=".repeat((4 - (s.length % 4)) % 4);
  }),
  def("base64url.encode_no_pad", 1, ([v]) =>
    utf8(strArg("base64url.encode_no_pad", v!, 1)).toString("base64url"),
  ),
  def("base64url.decode", 1, base64UrlDecode),
  def("hex.encode", 1, ([v]) => utf8(strArg("hex.encode", v!, 1)).toString("hex")),
  def("hex.decode", 1, hexDecode),
  def("urlquery.encode", 1, ([v]) => queryEscape(strArg("urlquery.encode", v!, 1))),
  def("urlquery.decode", 1, urlDecode),
  def("urlquery.encode_object", 1, encodeObject),
  def("urlquery.decode_object", 1, decodeObject),
  def("yaml.marshal", 1, ([v]) => toYAML(v!)),
  def("yaml.unmarshal", 1, yamlUnmarshal),
  def("yaml.is_valid", 1, ([v]) => typeof v === "string" && isValidYAML(v)),
];
