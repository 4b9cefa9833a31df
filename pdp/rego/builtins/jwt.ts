// io.jwt.* (OPA's topdown/tokens.go): decoding, signature verification,
// io.jwt.decode_verify's constraint checks and signing. Everything is
// synchronous on node:crypto; keys come from PEM certificates, PEM public keys
// or JWK (sets), as in OPA. See lib/jws.ts for JSON, base64url and JWKs.
import {
  constants,
  createPublicKey,
  verify as cryptoVerify,
  X509Certificate,
  type KeyObject,
} from "node:crypto";
import type { BuiltinDef } from "./registry.js";
import { builtinErr, def, objArg, strArg } from "./lib/args.js";
import { goJSON, isValidJSON, JSONSyntaxError, parseJSONStrict } from "./lib/gojson.js";
import {
  base64UrlDecode,
  base64UrlEncode,
  JWSError,
  parseJWKs,
  signJWS,
  TOKEN_ALGORITHMS,
  verifyJWS,
} from "./lib/jws.js";
import { parseCertificateStrict, pemDecode, X509Error } from "./lib/x509.js";
import { isArray, isNumber, isObject, objectEntries, objectGet, type ObjectV, type Value } from "../value.js";
import { compareNum, numFromFloat, toFloat, type Num } from "../number.js";

class Fail extends Error {}

interface Token {
  header: string;
  payload: string;
  signature: string;
}

/** decodeJWT: the three base64url sections of a compact JWS. */
function splitJWT(name: string, v: Value): Token {
  const s = strArg(name, v, 1);
  if (!s.includes(".")) throw new Fail("encoded JWT had no period separators");
  const parts = s.split(".");
  if (parts.length !== 3) throw new Fail(`encoded JWT must have 3 sections, found ${parts.length}`);
  return { header: parts[0]!, payload: parts[1]!, signature: parts[2]! };
}

function jsonObject(text: string): ObjectV {
  let v: Value;
  try {
    v = parseJSONStrict(text);
  } catch (e) {
    if (e instanceof JSONSyntaxError) throw new Fail(`invalid JSON: ${e.message}`);
    throw e;
  }
  if (!isObject(v)) throw new Fail("decoded JSON type was not an Object");
  return v;
}

function decodeHeader(t: Token): ObjectV {
  let text: string;
  try {
    text = base64UrlDecode(t.header).toString("utf8");
  } catch (e) {
    throw new Fail(`JWT header had invalid encoding: ${(e as Error).message}`);
  }
  let h: ObjectV;
  try {
    h = jsonObject(text);
  } catch (e) {
    throw new Fail(`bad JWT header: ${(e as Error).message}`);
  }
  if (objectGet(h, "enc") !== undefined) throw new Fail("JWT is a JWE object, which is not supported");
  return h;
}

function decodePayloadText(t: Token): string {
  try {
    return base64UrlDecode(t.payload).toString("utf8");
  } catch (e) {
    throw new Fail(`JWT payload had invalid encoding: ${(e as Error).message}`);
  }
}

function decodeSignature(t: Token): Buffer {
  try {
    return base64UrlDecode(t.signature);
  } catch (e) {
    throw new Fail((e as Error).message);
  }
}

interface Header {
  alg: string;
  kid: string;
  typ: string;
  cty: string;
  crit: Set<string> | null;
  unknown: string[];
}

function parseHeader(h: ObjectV): Header {
  const out: Header = { alg: "", kid: "", typ: "", cty: "", crit: null, unknown: [] };
  for (const [k, v] of objectEntries(h)) {
    const key = k as string;
    switch (key) {
      case "alg":
      case "kid":
      case "typ":
      case "cty":
        if (typeof v !== "string") throw new Fail(`${key}: must be a string`);
        out[key] = v;
        break;
      case "crit": {
        if (!isArray(v)) throw new Fail("crit: must be a list");
        out.crit = new Set(v.filter((x): x is string => typeof x === "string"));
        if (out.crit.size === 0) throw new Fail("crit: must be a nonempty list");
        break;
      }
      default:
        out.unknown.push(key);
    }
  }
  return out;
}

const headerValid = (h: Header): boolean => h.alg !== "" && !h.unknown.some((u) => h.crit?.has(u));

interface VerificationKey {
  key: KeyObject | Buffer;
  alg: string;
  kid: string;
}

/** getKeysFromCertOrJWK: a PEM certificate, a PEM public key, or a JWK (set). */
function keysFromCertOrJWK(text: string): VerificationKey[] {
  const { block, rest } = pemDecode(Buffer.from(text, "utf8").toString("latin1"));
  if (block) {
    if (rest.length > 0) throw new Fail("extra data after a PEM certificate block");
    if (block.type === "CERTIFICATE") {
      try {
        parseCertificateStrict(block.bytes);
        return [{ key: new X509Certificate(block.bytes).publicKey, alg: "", kid: "" }];
      } catch (e) {
        throw new Fail(`failed to parse a PEM certificate: ${(e as Error).message}`);
      }
    }
    if (block.type === "PUBLIC KEY") {
      try {
        return [
          { key: createPublicKey({ key: block.bytes, format: "der", type: "spki" }), alg: "", kid: "" },
        ];
      } catch (e) {
        throw new Fail(`failed to parse a PEM public key: ${(e as Error).message}`);
      }
    }
    throw new Fail("failed to extract a Key from the PEM certificate");
  }
  let jwks;
  try {
    jwks = parseJWKs(text);
  } catch (e) {
    throw new Fail(`failed to parse a JWK key (set): ${(e as Error).message}`);
  }
  return jwks.filter((k) => k.alg === "" || TOKEN_ALGORITHMS.has(k.alg));
}

type Verifier = (key: KeyObject | Buffer, input: Buffer, sig: Buffer) => boolean;

const HASH = (bits: string): string => `sha${bits}`;

function rsaVerifier(bits: string, pss: boolean): Verifier {
  return (key, input, sig) => {
    if (Buffer.isBuffer(key) || key.asymmetricKeyType !== "rsa") return false;
    try {
      return cryptoVerify(
        HASH(bits),
        input,
        pss
          ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }
          : { key, padding: constants.RSA_PKCS1_PADDING },
        sig,
      );
    } catch {
      return false;
    }
  };
}

/** DER INTEGER of unsigned big-endian bytes. */
function derInt(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  let v = b.subarray(i);
  if (v.length === 0) v = Buffer.from([0]);
  if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02]), derLen(v.length), v]);
}

function derLen(n: number): Buffer {
  if (n < 128) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x >>= 8) bytes.unshift(x & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function ecVerifier(bits: string): Verifier {
  return (key, input, sig) => {
    if (Buffer.isBuffer(key) || key.asymmetricKeyType !== "ec") return false;
    // OPA splits the signature in halves (r, s) whatever its length.
    const half = Math.floor(sig.length / 2);
    const body = Buffer.concat([derInt(sig.subarray(0, half)), derInt(sig.subarray(half))]);
    const der = Buffer.concat([Buffer.from([0x30]), derLen(body.length), body]);
    try {
      return cryptoVerify(HASH(bits), input, { key, dsaEncoding: "der" }, der);
    } catch {
      return false;
    }
  };
}

const edVerifier: Verifier = (key, input, sig) => {
  if (Buffer.isBuffer(key) || key.asymmetricKeyType !== "ed25519") return false;
  try {
    return cryptoVerify(null, input, key, sig);
  } catch {
    return false;
  }
};

/** builtinJWTVerify: the RS/PS/ES/EdDSA verify_* builtins. */
function jwtVerify(name: string, verifier: Verifier) {
  return def(name, 2, (args) =>
    run(name, () => {
      const t = splitJWT(name, args[0]!);
      const keys = keysFromCertOrJWK(strArg(name, args[1]!, 2));
      const sig = decodeSignature(t);
      const header = parseHeader(decodeHeader(t));
      const input = Buffer.from(`${t.header}.${t.payload}`, "utf8");
      if (header.kid !== "") {
        const k = keys.find((x) => x.kid === header.kid);
        if (k) return verifier(k.key, input, sig);
      }
      for (const k of keys) {
        if (k.alg !== "" && k.alg !== header.alg) continue;
        if (verifier(k.key, input, sig)) return true;
      }
      return false;
    }),
  );
}

function jwtVerifyHS(name: string, bits: string) {
  return def(name, 2, (args) =>
    run(name, () => {
      strArg(name, args[0]!, 1);
      const secret = strArg(name, args[1]!, 2);
      const t = splitJWT(name, args[0]!);
      const sig = decodeSignature(t);
      return verifyJWS(
        Buffer.from(secret, "utf8"),
        `HS${bits}`,
        Buffer.from(`${t.header}.${t.payload}`, "utf8"),
        sig,
      );
    }),
  );
}

/** Maps the internal failures to OPA's builtin errors (operand type errors pass through). */
function run<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof Fail || e instanceof JWSError || e instanceof X509Error)
      throw builtinErr(name, e.message);
    throw e;
  }
}

function decode(name: string, v: Value): Value {
  const t = splitJWT(name, v);
  const header = decodeHeader(t);
  let p = decodePayloadText(t);
  const cty = objectGet(header, "cty");
  if (cty === "JWT") {
    // A nested token is the payload, quoted the way jwt.io does it.
    p = p.replace(/^["']+|["']+$/g, "");
    return decode(name, p);
  }
  const payload = jsonObject(p);
  const sig = decodeSignature(t);
  return [header, payload, sig.toString("hex")];
}

// ---- decode_verify ----

interface Constraints {
  secret: string;
  alg: string;
  iss: string;
  aud: string;
  keys: VerificationKey[] | null;
  time: number;
}

function timeFromValue(v: Value): number {
  if (!isNumber(v)) throw new Fail("token time constraint: must be a number");
  const f = toFloat(v);
  if (!Number.isFinite(f)) throw new Fail("token time constraint: unvalid float64");
  if (f < 0) throw new Fail("token time constraint: must not be negative");
  return f;
}

function parseConstraints(o: ObjectV, nowNs: bigint): Constraints {
  const c: Constraints = { secret: "", alg: "", iss: "", aud: "", keys: null, time: -1 };
  for (const [k, v] of objectEntries(o)) {
    const key = typeof k === "string" ? k : String(k);
    switch (key) {
      case "cert":
        if (typeof v !== "string") throw new Fail("cert constraint: must be a string");
        c.keys = keysFromCertOrJWK(v);
        break;
      case "secret":
      case "alg":
      case "iss":
      case "aud":
        if (typeof v !== "string") throw new Fail(`${key} constraint: must be a string`);
        c[key] = v;
        break;
      case "time":
        c.time = timeFromValue(v);
        break;
      default:
        throw new Fail(`unknown token validation constraint: ${key}`);
    }
  }
  if (c.time === -1) c.time = Number(nowNs);
  const n = (c.keys !== null ? 1 : 0) + (c.secret !== "" ? 1 : 0);
  if (n > 1) throw new Fail("duplicate key constraints");
  if (n < 1) throw new Fail("no key constraint");
  return c;
}

function verifyWithConstraints(c: Constraints, header: Header, t: Token, sig: Buffer): boolean {
  const input = Buffer.from(`${t.header}.${t.payload}`, "utf8");
  if (c.keys !== null) {
    if (header.kid !== "") {
      const k = c.keys.find((x) => x.kid === header.kid);
      if (k) return verifyJWS(k.key, header.alg, input, sig);
    }
    return c.keys.some(
      (k) => (k.alg === "" || k.alg === header.alg) && verifyJWS(k.key, header.alg, input, sig),
    );
  }
  return verifyJWS(Buffer.from(c.secret, "utf8"), header.alg, input, sig);
}

function validAudience(aud: Value, want: string): boolean {
  if (typeof aud === "string") return aud === want;
  if (!isArray(aud)) return false;
  return aud.some((x) => typeof x === "string" && x === want);
}

function decodeVerify(name: string, tokenV: Value, constraintsV: Value, nowNs: bigint): Value {
  const unverified: Value = [false, {}, {}];
  const c = parseConstraints(objArg(name, constraintsV, 2), nowNs);
  let a = tokenV;
  let t: Token;
  let header: ObjectV;
  let payloadText: string;
  for (;;) {
    t = splitJWT(name, a);
    header = decodeHeader(t);
    const h = parseHeader(header);
    if (!headerValid(h)) return unverified;
    if (c.alg !== "" && c.alg !== h.alg) return unverified;
    const sig = decodeSignature(t);
    if (!verifyWithConstraints(c, h, t, sig)) return unverified;
    payloadText = decodePayloadText(t);
    if (h.cty.toUpperCase() === "JWT") {
      a = payloadText;
      continue;
    }
    break;
  }
  const payload = jsonObject(payloadText);
  if (c.iss !== "") {
    const iss = objectGet(payload, "iss");
    if (typeof iss !== "string" || iss !== c.iss) return unverified;
  }
  const aud = objectGet(payload, "aud");
  if (aud !== undefined) {
    if (!validAudience(aud, c.aud)) return unverified;
  } else if (c.aud !== "") {
    return unverified;
  }
  const nowSec = numFromFloat(c.time / 1e9) ?? 0;
  const exp = objectGet(payload, "exp");
  if (exp !== undefined) {
    if (!isNumber(exp)) throw new Fail("exp value must be a number");
    if (compareNum(nowSec, exp as Num) !== -1) return unverified;
  }
  const nbf = objectGet(payload, "nbf");
  if (nbf !== undefined) {
    if (!isNumber(nbf)) throw new Fail("nbf value must be a number");
    if (compareNum(nowSec, nbf as Num) === -1) return unverified;
  }
  return [true, header, payload];
}

// ---- signing ----

function headerString(h: Value, key: string): string | Error {
  if (!isObject(h)) return new Error("value doesn't contain object");
  const v = objectGet(h, key);
  if (v === undefined) return new Error(`key "${key}" not found`);
  if (typeof v !== "string") return new Error(`value doesn't contain string; it contains ${typeof v}`);
  return v;
}

function encodeSign(headerText: string, payloadText: string, jwkText: string): string {
  const keys = parseJWKs(jwkText);
  if (keys.length === 0) throw new Fail("no keys found in JWK set");
  let headers: Value | Error;
  try {
    headers = parseJSONStrict(headerText);
  } catch (e) {
    headers = new Error(`cannot parse JSON: ${(e as Error).message}`);
  }
  const alg = headers instanceof Error ? headers : headerString(headers, "alg");
  if (alg instanceof Error) throw new Fail(`missing or invalid 'alg' header: ${alg.message}`);
  if (!TOKEN_ALGORITHMS.has(alg)) throw new Fail(`unknown JWS algorithm: ${alg}`);
  const typ = headers instanceof Error ? headers : headerString(headers, "typ");
  if ((typ instanceof Error || typ === "JWT") && !isValidJSON(payloadText)) {
    throw new Fail("type is JWT but payload is not JSON");
  }
  const signingInput = `${base64UrlEncode(Buffer.from(headerText, "utf8"))}.${base64UrlEncode(Buffer.from(payloadText, "utf8"))}`;
  const sig = signJWS(keys[0]!, alg, Buffer.from(signingInput, "utf8"));
  return `${signingInput}.${base64UrlEncode(sig)}`;
}

export const builtins: BuiltinDef[] = [
  def("io.jwt.decode", 1, (args) => run("io.jwt.decode", () => decode("io.jwt.decode", args[0]!))),
  jwtVerify("io.jwt.verify_rs256", rsaVerifier("256", false)),
  jwtVerify("io.jwt.verify_rs384", rsaVerifier("384", false)),
  jwtVerify("io.jwt.verify_rs512", rsaVerifier("512", false)),
  jwtVerify("io.jwt.verify_ps256", rsaVerifier("256", true)),
  jwtVerify("io.jwt.verify_ps384", rsaVerifier("384", true)),
  jwtVerify("io.jwt.verify_ps512", rsaVerifier("512", true)),
  jwtVerify("io.jwt.verify_es256", ecVerifier("256")),
  jwtVerify("io.jwt.verify_es384", ecVerifier("384")),
  jwtVerify("io.jwt.verify_es512", ecVerifier("512")),
  jwtVerify("io.jwt.verify_eddsa", edVerifier),
  jwtVerifyHS("io.jwt.verify_hs256", "256"),
  jwtVerifyHS("io.jwt.verify_hs384", "384"),
  jwtVerifyHS("io.jwt.verify_hs512", "512"),
  def(
    "io.jwt.decode_verify",
    2,
    (args, ctx) =>
      run("io.jwt.decode_verify", () => decodeVerify("io.jwt.decode_verify", args[0]!, args[1]!, ctx.nowNs)),
    { nondeterministic: true },
  ),
  def("io.jwt.encode_sign", 3, (args) =>
    run("io.jwt.encode_sign", () => encodeSign(goJSON(args[0]!), goJSON(args[1]!), goJSON(args[2]!))),
  ),
  def("io.jwt.encode_sign_raw", 3, (args) => {
    const name = "io.jwt.encode_sign_raw";
    const jwk = strArg(name, args[2]!, 3);
    const header = strArg(name, args[0]!, 1);
    const payload = strArg(name, args[1]!, 2);
    return run(name, () => encodeSign(header, payload, jwk));
  }),
];
