import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
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
}

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseStrictJson(Buffer.from(segment, "base64url").toString("utf8"));
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
  if (parts.length !== 3 || !parts.every((p) => B64URL_SEGMENT.test(p))) {
    throw new AuthnError("invalid_token", "malformed token");
  }
  return { header: decodeSegment(parts[0], "header"), payload: decodeSegment(parts[1], "payload") };
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

/** Signature and registered claims via jose; every failure becomes a client-safe AuthnError. */
export async function verifyJwt(
  token: string,
  getKey: JWTVerifyGetKey,
  o: VerifyOptions,
): Promise<JWTPayload> {
  try {
    const { payload } = await jwtVerify(token, getKey, {
      issuer: o.issuer,
      audience: o.audience,
      algorithms: o.algorithms,
      clockTolerance: o.clockSkewS,
      requiredClaims: o.requiredClaims,
      currentDate: new Date(o.nowMs),
    });
    // jose accepts an `iat` in the future; a token minted "later" is a clock or forgery problem.
    if (typeof payload.iat === "number" && payload.iat > o.nowMs / 1000 + o.clockSkewS) {
      throw new AuthnError("invalid_token", "token issued in the future");
    }
    return payload;
  } catch (e) {
    throw classifyJoseError(e);
  }
}

export function classifyJoseError(e: unknown): AuthnError {
  if (e instanceof AuthnError) return e;
  if (e instanceof errors.JWTExpired) return new AuthnError("invalid_token", "token expired", { cause: e });
  if (e instanceof errors.JWTClaimValidationFailed) {
    const what = e.claim === "nbf" ? "token not yet valid" : `invalid ${e.claim} claim`;
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
