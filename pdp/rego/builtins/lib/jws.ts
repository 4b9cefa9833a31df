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

export class JWSError extends Error {}

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
