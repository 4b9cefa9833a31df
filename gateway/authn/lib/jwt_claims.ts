// The registered-claim checks of jose's jwtVerify (lib/jwt_claims_set.js: presence, iss, aud, nbf, exp,
// numeric dates), rule for rule, for the synchronous path that verifies the signature itself. The
// differential test (test/gateway/authn/jwt_common.test.ts) holds both paths to the same verdicts.
import { AuthnError } from "../types.js";

export interface ClaimRules {
  issuer: string;
  /** The `aud` claim must contain at least one of these; undefined: not checked. */
  audience?: string | string[];
  clockSkewS: number;
  requiredClaims: readonly string[];
  nowMs: number;
}

function numericDate(claims: Record<string, unknown>, name: string): number | undefined {
  const v = claims[name];
  if (v === undefined) return undefined;
  if (typeof v !== "number") throw new AuthnError("invalid_token", `invalid ${name} claim`);
  return v;
}

function audienceMatches(aud: unknown, wanted: string | string[]): boolean {
  const list = typeof wanted === "string" ? [wanted] : wanted;
  if (typeof aud === "string") return list.includes(aud);
  return Array.isArray(aud) && list.some((a) => aud.includes(a));
}

/** Throws the AuthnError jose's own check would map to (jwt_common.ts classifyJoseError). */
export function validateClaims(claims: Record<string, unknown>, r: ClaimRules): void {
  const required = [...r.requiredClaims];
  if (r.audience !== undefined) required.push("aud");
  required.push("iss");
  for (const name of required) {
    if (!Object.hasOwn(claims, name)) throw new AuthnError("invalid_token", `invalid ${name} claim`);
  }
  if (claims.iss !== r.issuer) throw new AuthnError("invalid_token", "invalid iss claim");
  if (r.audience !== undefined && !audienceMatches(claims.aud, r.audience)) {
    throw new AuthnError("invalid_token", "invalid aud claim");
  }
  const now = Math.floor(r.nowMs / 1000);
  numericDate(claims, "iat");
  const nbf = numericDate(claims, "nbf");
  if (nbf !== undefined && nbf > now + r.clockSkewS) {
    throw new AuthnError("invalid_token", "token not yet valid");
  }
  const exp = numericDate(claims, "exp");
  if (exp !== undefined && exp <= now - r.clockSkewS) throw new AuthnError("invalid_token", "token expired");
}
