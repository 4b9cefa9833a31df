// Signing an EAR in either profile's spelling.
import { SignJWT } from "jose";
import type { LoadedPrivateKey } from "../keys.js";
import { claimNames } from "../ear/profiles.js";
import type { Tier } from "../ear/tiers.js";
import type { TrustClaim } from "../ear/trust_vector.js";
import type { VerifierId } from "../ear/types.js";

export interface EarSubmod {
  status: Tier;
  vector: Partial<Record<TrustClaim, number>>;
  policyId: string;
  /** The evidence nonce. */
  nonce?: string;
}

export interface EarContent {
  profile: string;
  verifierId: VerifierId;
  submods: Record<string, EarSubmod>;
  /** Overall tier (the draft profile only; Veraison results carry per-submodule tiers). */
  status?: Tier;
  /** Result freshness: the nonce of the session. */
  nonce?: string;
  /** The workload the result is about. */
  sub?: string;
  /** RFC 7800 confirmation of the attester's key. */
  cnf?: Record<string, unknown>;
  iat: number;
  ttl_s: number;
}

/** The EAR claims set (unsigned), in `content.profile`'s claim names. */
export function earClaims(c: EarContent): Record<string, unknown> {
  const n = claimNames(c.profile);
  if (!n) throw new Error(`cannot issue EAR profile ${c.profile}`);
  const submods: Record<string, unknown> = {};
  for (const [label, s] of Object.entries(c.submods)) {
    submods[label] = {
      [n.status]: s.status,
      [n.trustVector]: s.vector,
      [n.policyIds]: n.policyIdsIsArray ? [s.policyId] : s.policyId,
      ...(s.nonce !== undefined ? { eat_nonce: s.nonce } : {}),
    };
  }
  return {
    eat_profile: c.profile,
    iat: c.iat,
    exp: c.iat + c.ttl_s,
    [n.verifierId]: c.verifierId,
    ...(c.status !== undefined && n.topLevelStatus ? { [n.status]: c.status } : {}),
    ...(c.nonce !== undefined ? { eat_nonce: c.nonce } : {}),
    ...(c.sub !== undefined ? { sub: c.sub } : {}),
    ...(c.cnf !== undefined ? { cnf: c.cnf } : {}),
    submods,
  };
}

/** Signs an EAR with the verifier key (`typ: JWT`, `kid` = key thumbprint). */
export function signEar(key: LoadedPrivateKey, c: EarContent): Promise<string> {
  return new SignJWT(earClaims(c))
    .setProtectedHeader({ alg: key.alg, typ: "JWT", kid: key.kid })
    .sign(key.key);
}
