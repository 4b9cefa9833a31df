import { errors, jwtVerify, type JWTHeaderParameters, type JWTPayload } from "jose";
import type { KeyObject } from "node:crypto";
import type { JwksSource } from "./jwks.js";
import { validateClaims } from "./lib/jwt_claims.js";
import { isFastAlgorithm, keyFits, verifySignature } from "./lib/jws_signature.js";
import { parseStrictJson } from "./strict_json.js";
import { AuthnError } from "./types.js";

/** Asymmetric only: a JWKS never holds an HMAC secret we would accept, and `none` is never allowed. */
export const DEFAULT_ALGORITHMS = ["ES256", "RS256", "PS256", "EdDSA"];
const FORBIDDEN_ALGS = /^(none|HS\d+)$/i;

export function checkAlgorithms(algs: readonly string[]): string[] {
  const bad = algs.filter((a) => FORBIDDEN_ALGS.test(a));
  if (bad.length) throw new Error(`algorithms not allowed with public keys: ${bad.join(", ")}`);
  if (algs.length === 0) throw new Error("algorithms must not be empty");
  return [...algs];
}

const B64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

export interface ParsedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** The compact form as presented. */
  token: string;
  /** The three segments, still base64url. */
  parts: [string, string, string];
}

// Invalid UTF-8 is an error, as in jose: replacement characters would let two readers see two claims.
const utf8 = new TextDecoder("utf-8", { fatal: true });

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseStrictJson(utf8.decode(Buffer.from(segment, "base64url")));
  } catch (e) {
    throw new AuthnError("invalid_token", `malformed token ${what}`, { cause: e });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new AuthnError("invalid_token", `malformed token ${what}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Structural checks jose does not do: size bound, strict base64url (Buffer silently skips junk), and
 * duplicate JSON member names. JWE (5 segments) is not accepted.
 */
export function parseCompactJwt(token: string, maxBytes: number): ParsedJwt {
  if (token.length > maxBytes) throw new AuthnError("invalid_token", "token too large");
  const parts = token.split(".");
  // A length of 1 mod 4 is no base64 at all (jose's decoder refuses it; Buffer would drop the char).
  if (parts.length !== 3 || !parts.every((p) => B64URL_SEGMENT.test(p) && p.length % 4 !== 1)) {
    throw new AuthnError("invalid_token", "malformed token");
  }
  return {
    header: decodeSegment(parts[0], "header"),
    payload: decodeSegment(parts[1], "payload"),
    token,
    parts: parts as [string, string, string],
  };
}

export function looksLikeJwt(token: string): boolean {
  const parts = token.split(".");
  return parts.length === 3 && parts.every((p) => B64URL_SEGMENT.test(p));
}

/** `application/at+jwt` and `AT+JWT` both mean `at+jwt` (RFC 7515 §4.1.9). */
export function normaliseTyp(typ: unknown): string | undefined {
  if (typeof typ !== "string") return undefined;
  const t = typ.toLowerCase();
  return t.startsWith("application/") ? t.slice("application/".length) : t;
}

export interface VerifyOptions {
  issuer: string;
  /** The `aud` claim must contain at least one of these. */
  audience?: string | string[];
  algorithms: string[];
  clockSkewS: number;
  requiredClaims: string[];
  nowMs: number;
}

/**
 * The header checks jose makes before it looks for a key: `alg` present and allowed, no `crit` (we
 * implement no JWS extension, so every critical one is unknown). Returns the algorithm.
 */
function checkHeader(header: Record<string, unknown>, algorithms: readonly string[]): string {
  const alg = header.alg;
  if (typeof alg !== "string" || alg === "") throw new AuthnError("invalid_token", "invalid token");
  if (header.crit !== undefined) throw new AuthnError("invalid_token", "invalid token");
  if (!algorithms.includes(alg)) throw new AuthnError("invalid_token", "algorithm not allowed");
  return alg;
}

/** Signature with a key jose selected, then the claims as jose checks them, then ours. */
async function verifyWithKey(
  jwt: ParsedJwt,
  alg: string,
  key: KeyObject,
  o: VerifyOptions,
): Promise<JWTPayload> {
  if (!keyFits(alg, key)) throw new AuthnError("invalid_token", "invalid token");
  const signature = Buffer.from(jwt.parts[2], "base64url");
  if (!(await verifySignature(alg, key, `${jwt.parts[0]}.${jwt.parts[1]}`, signature))) {
    throw new AuthnError("invalid_token", "invalid signature");
  }
  validateClaims(jwt.payload, o);
  return checkIssuedAt(jwt.payload as JWTPayload, o);
}

// jose accepts an `iat` in the future; a token minted "later" is a clock or forgery problem.
function checkIssuedAt(payload: JWTPayload, o: VerifyOptions): JWTPayload {
  if (typeof payload.iat === "number" && payload.iat > o.nowMs / 1000 + o.clockSkewS) {
    throw new AuthnError("invalid_token", "token issued in the future");
  }
  return payload;
}

/**
 * Signature and registered claims; every failure becomes a client-safe AuthnError. jose selects and
 * imports the key (once per kid and alg, jwks.ts keyFor); the signature is checked by node:crypto on
 * the threadpool (lib/jws_signature.ts) for the usual algorithms, and by jose's own jwtVerify for
 * anything else.
 */
export async function verifyJwt(jwt: ParsedJwt, keys: JwksSource, o: VerifyOptions): Promise<JWTPayload> {
  const alg = checkHeader(jwt.header, o.algorithms);
  if (isFastAlgorithm(alg)) {
    let key = keys.keyFor(jwt.header);
    if (key === undefined) {
      try {
        key = await keys.resolve(jwt.header as unknown as JWTHeaderParameters, {
          protected: jwt.parts[0],
          payload: jwt.parts[1],
          signature: jwt.parts[2],
        });
      } catch (e) {
        throw classifyJoseError(e);
      }
    }
    if (key !== undefined) return verifyWithKey(jwt, alg, key, o);
  }
  return verifyWithJose(jwt.token, keys, o);
}

/** jose's jwtVerify end to end: the reference the inline path is tested against. */
export async function verifyWithJose(token: string, keys: JwksSource, o: VerifyOptions): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, keys.getKey, {
      issuer: o.issuer,
      audience: o.audience,
      algorithms: o.algorithms,
      clockTolerance: o.clockSkewS,
      requiredClaims: o.requiredClaims,
      currentDate: new Date(o.nowMs),
    });
    return checkIssuedAt(payload, o);
  } catch (e) {
    throw classifyJoseError(e);
  }
}

export function classifyJoseError(e: unknown): AuthnError {
  if (e instanceof AuthnError) return e;
  if (e instanceof errors.JWTExpired) return new AuthnError("invalid_token", "token expired", { cause: e });
  if (e instanceof errors.JWTClaimValidationFailed) {
    // A malformed nbf is an invalid claim; only a well-formed one in the future is "not yet valid".
    const what =
      e.claim === "nbf" && e.reason === "check_failed" ? "token not yet valid" : `invalid ${e.claim} claim`;
    return new AuthnError("invalid_token", what, { cause: e });
  }
  if (e instanceof errors.JWKSNoMatchingKey)
    return new AuthnError("invalid_token", "unknown signing key", { cause: e });
  if (e instanceof errors.JOSEAlgNotAllowed)
    return new AuthnError("invalid_token", "algorithm not allowed", { cause: e });
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return new AuthnError("invalid_token", "invalid signature", { cause: e });
  }
  return new AuthnError("invalid_token", "invalid token", { cause: e });
}
