// A verified EAR, normalised across profiles.
import type { Tier } from "./tiers.js";
import type { TrustVector } from "./trust_vector.js";

/** AR4SI verifier identity (`ear_verifier_id` / `ear.verifier-id`). */
export interface VerifierId {
  developer: string;
  build: string;
}

/** One `submods` entry. */
export interface Appraisal {
  /** The verifier's tier made no better than the worst claim of its vector. */
  status: Tier;
  /** The tier exactly as the verifier asserted it. */
  verifier_status: Tier;
  trust_vector: TrustVector;
  /** Appraisal policy ids in application order (Veraison's single id becomes a one-element list). */
  policy_ids: string[];
  /** The submodule's `eat_nonce`: the nonce of the evidence (evidence freshness). */
  nonce?: string;
}

export interface VerifiedEar {
  /** The configured name of the trusted verifier whose key signed it. */
  verifier: string;
  profile: string;
  verifierId: VerifierId;
  /** Epoch seconds. */
  issuedAt: number;
  expiresAt?: number;
  /** Epoch seconds after which the result must not be used: min(`exp`, `iat` + max age). */
  validUntil: number;
  /** Top-level `eat_nonce` value(s): result freshness. */
  nonces: string[];
  /** Worst of the top-level tier (if any) and every submodule's status. */
  status: Tier;
  submods: Record<string, Appraisal>;
  /** Claim-wise worst over the submodules. */
  trustVector: TrustVector;
  /** The whole verified payload, for binding (`sub`, `cnf`). */
  claims: Record<string, unknown>;
}
