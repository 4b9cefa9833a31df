// JWS plumbing for the io.jwt builtins: Go-compatible JSON (OPA decodes with
// encoding/json into exact numbers, encodes with json.Marshal's HTML-safe
// escaping), OPA's lenient base64url decoding, JWK (set) parsing and
// synchronous signing/verification with node:crypto.
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  constants,
  sign as cryptoSign,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
} from "node:crypto";
import { goBase64Decode, Base64Error } from "./x509.js";
import {
  isArray,
  isBigNum,
  isObject,
  isSet,
  ObjectBuilder,
  objectEntries,
  compareStrings,
  toJSONText,
  type Value,
} from "../../value.js";
import { numFromText, numToString, type Num } from "../../number.js";

export class JWSError extends Error {}

// ---- JSON ----

export class JSONSyntaxError extends Error {}

/** encoding/json (UseNumber) → Value: exact numbers, last duplicate key wins, no trailing data. */
export function parseGoJSON(text: string): Value {
  let i = 0;
  const n = text.length;
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
  };
  const fail = (context: string): never => {
    if (i >= n) throw new JSONSyntaxError("unexpected end of JSON input");
    const ch = text[i]!;
    throw new JSONSyntaxError(`invalid character ${quoteChar(ch)} ${context}`);
  };
  const value = (): Value => {
    ws();
    if (i >= n) fail("looking for beginning of value");
    const c = text[i]!;
    if (c === "{") {
      i++;
      const b = new ObjectBuilder();
      ws();
      if (text[i] === "}") {
        i++;
        return b.build();
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail("looking for beginning of object key string");
        const k = str();
        ws();
        if (text[i] !== ":") fail("after object key");
        i++;
        b.put(k, value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "}") {
          i++;
          return b.build();
        }
        fail("after object key:value pair");
      }
    }
    if (c === "[") {
      i++;
      const out: Value[] = [];
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      for (;;) {
        out.push(value());
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === "]") {
          i++;
          return out;
        }
        fail("after array element");
      }
    }
    if (c === '"') return str();
    if (text.startsWith("true", i)) {
      i += 4;
      return true;
    }
    if (text.startsWith("false", i)) {
      i += 5;
      return false;
    }
    if (text.startsWith("null", i)) {
      i += 4;
      return null;
    }
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 4096));
    if (!m || m[0] === "" || m[0] === "-") fail("looking for beginning of value");
    i += m![0].length;
    return numFromText(m![0]) as Num;
  };
  const str = (): string => {
    i++; // opening quote
    let out = "";
    for (;;) {
      if (i >= n) fail("in string literal");
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        break;
      }
      if (c < 0x20) fail("in string literal");
      if (c !== 0x5c) {
        out += text[i++];
        continue;
      }
      const e = text[i + 1];
      i += 2;
      switch (e) {
        case '"':
        case "\\":
        case "/":
          out += e;
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const h = text.slice(i, i + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(h)) {
            i--;
            fail("in \\u hexadecimal character escape");
          }
          out += String.fromCharCode(parseInt(h, 16));
          i += 4;
          break;
        }
        default:
          i--;
          fail("in string escape code");
      }
    }
    return out.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd");
  };
  const v = value();
  ws();
  if (i < n) throw new JSONSyntaxError("unexpected token");
  return v;
}

function quoteChar(ch: string): string {
  if (ch === "'") return "'\\''";
  if (ch === '"') return "'\"'";
  const cp = ch.codePointAt(0)!;
  if (cp < 0x20) return `'\\x${cp.toString(16).padStart(2, "0")}'`;
  return `'${ch}'`;
}

export function validJSON(text: string): boolean {
  try {
    parseGoJSON(text);
    return true;
  } catch {
    return false;
  }
}

function goJSONString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    switch (ch) {
      case '"':
        out += '\\"';
        continue;
      case "\\":
        out += "\\\\";
        continue;
      case "\n":
        out += "\\n";
        continue;
      case "\r":
        out += "\\r";
        continue;
      case "\t":
        out += "\\t";
        continue;
      case "\b":
        out += "\\b";
        continue;
      case "\f":
        out += "\\f";
        continue;
    }
    if (cp < 0x20 || ch === "<" || ch === ">" || ch === "&") {
      out += "\\u00" + cp.toString(16).padStart(2, "0");
    } else if (cp === 0x2028 || cp === 0x2029) {
      out += "\\u" + cp.toString(16);
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      out += "\\ufffd";
    } else {
      out += ch;
    }
  }
  return out + '"';
}

/** json.Marshal(ast.JSON(v)): sorted keys, sets as arrays, HTML-safe escaping. */
export function goJSONMarshal(v: Value): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number" || isBigNum(v)) return numToString(v as Num);
  if (typeof v === "string") return goJSONString(v);
  if (isArray(v)) return "[" + v.map(goJSONMarshal).join(",") + "]";
  if (isSet(v)) return "[" + v.sorted().map(goJSONMarshal).join(",") + "]";
  if (isObject(v)) {
    const entries = objectEntries(v).map(([k, x]) => [typeof k === "string" ? k : toJSONText(k), x] as const);
    entries.sort((a, b) => compareStrings(a[0], b[0]));
    return "{" + entries.map(([k, x]) => goJSONString(k) + ":" + goJSONMarshal(x)).join(",") + "}";
  }
  return "null";
}

// ---- base64url ----

/** OPA's base64url.decode: restores missing padding, then Go's URLEncoding. */
export function base64UrlDecode(s: string): Buffer {
  if (!s.endsWith("=")) {
    switch (s.length % 4) {
      case 0:
        break;
      case 2:
        s += "==";
        break;
      case 3:
        s += "=";
        break;
      default:
        throw new JWSError(`illegal base64url string: ${s}`);
    }
  }
  try {
    return goBase64Decode(s, true);
  } catch (e) {
    if (e instanceof Base64Error) throw new JWSError(e.message);
    throw e;
  }
}

export const base64UrlEncode = (b: Uint8Array): string => Buffer.from(b).toString("base64url");

// ---- JWK ----

export const TOKEN_ALGORITHMS = new Set([
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "HS256",
  "HS384",
  "HS512",
  "EdDSA",
]);

export interface Jwk {
  /** asymmetric key, or the secret of an "oct" key */
  key: KeyObject | Buffer;
  alg: string;
  kid: string;
}

function jwkOne(o: Record<string, unknown>): Jwk {
  const kty = o.kty;
  if (typeof kty !== "string") throw new JWSError(`invalid key type from JSON (${String(kty)})`);
  const str = (k: string): string => (typeof o[k] === "string" ? (o[k] as string) : "");
  let key: KeyObject | Buffer;
  switch (kty) {
    case "oct":
      if (typeof o.k !== "string") throw new JWSError(`required field k is missing`);
      key = Buffer.from(o.k, "base64url");
      break;
    case "RSA":
    case "EC":
    case "OKP":
      try {
        const jwk = { ...o } as Record<string, unknown>;
        key =
          jwk.d !== undefined
            ? createPrivateKey({ key: jwk as never, format: "jwk" })
            : createPublicKey({ key: jwk as never, format: "jwk" });
      } catch (e) {
        throw new JWSError(`failed to parse ${kty} key: ${(e as Error).message}`);
      }
      break;
    default:
      throw new JWSError(`invalid key type from JSON (${kty})`);
  }
  return { key, alg: str("alg"), kid: str("kid") };
}

/** jwk.Parse: a single JWK or a JWK set ({"keys": [...]}). */
export function parseJWKs(text: string): Jwk[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new JWSError(`failed to unmarshal JSON into key hint: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new JWSError("failed to unmarshal JSON into key hint: not an object");
  }
  const o = v as Record<string, unknown>;
  if ("keys" in o) {
    if (!Array.isArray(o.keys)) throw new JWSError("failed to parse JWK set: keys must be an array");
    return o.keys.map((k) => {
      if (typeof k !== "object" || k === null) throw new JWSError("failed to parse key: not an object");
      return jwkOne(k as Record<string, unknown>);
    });
  }
  return [jwkOne(o)];
}

// ---- algorithms ----

const HASH: Record<string, string> = { "256": "sha256", "384": "sha384", "512": "sha512" };

/** jwsbb.Verify: the signature of data under alg with key; false for unusable key/alg pairs. */
export function verifyJWS(key: KeyObject | Buffer, alg: string, data: Buffer, sig: Buffer): boolean {
  const family = alg.slice(0, 2);
  const hash = HASH[alg.slice(2)];
  try {
    if (family === "HS" && hash) {
      if (!Buffer.isBuffer(key)) return false;
      const mac = createHmac(hash, key).update(data).digest();
      return mac.length === sig.length && timingSafeEqual(mac, sig);
    }
    if (Buffer.isBuffer(key)) return false;
    if (alg === "EdDSA") return key.asymmetricKeyType === "ed25519" && cryptoVerify(null, data, key, sig);
    if (!hash) return false;
    if (family === "RS" && key.asymmetricKeyType === "rsa") {
      return cryptoVerify(hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, sig);
    }
    if (family === "PS" && key.asymmetricKeyType === "rsa") {
      return cryptoVerify(
        hash,
        data,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
        sig,
      );
    }
    if (family === "ES" && key.asymmetricKeyType === "ec") {
      return cryptoVerify(hash, data, { key, dsaEncoding: "ieee-p1363" }, sig);
    }
  } catch {
    return false;
  }
  return false;
}

/** jwsbb.Sign with a JWK. */
export function signJWS(jwk: Jwk, alg: string, data: Buffer): Buffer {
  const family = alg.slice(0, 2);
  const hash = HASH[alg.slice(2)];
  const key = jwk.key;
  const badKey = (): never => {
    throw new JWSError(`failed to sign payload: invalid key type for algorithm ${alg}`);
  };
  if (family === "HS" && hash) {
    if (!Buffer.isBuffer(key)) return badKey();
    return createHmac(hash, key).update(data).digest();
  }
  if (Buffer.isBuffer(key) || key.type !== "private") return badKey();
  try {
    if (alg === "EdDSA") {
      if (key.asymmetricKeyType !== "ed25519") return badKey();
      return cryptoSign(null, data, key);
    }
    if (family === "RS" && hash && key.asymmetricKeyType === "rsa") {
      return cryptoSign(hash, data, { key, padding: constants.RSA_PKCS1_PADDING });
    }
    if (family === "PS" && hash && key.asymmetricKeyType === "rsa") {
      return cryptoSign(hash, data, {
        key,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
      });
    }
    if (family === "ES" && hash && key.asymmetricKeyType === "ec") {
      return cryptoSign(hash, data, { key, dsaEncoding: "ieee-p1363" });
    }
  } catch (e) {
    throw new JWSError(`failed to sign payload: ${(e as Error).message}`);
  }
  return badKey();
}
