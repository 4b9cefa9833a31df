// `input.attestation` of the policy input (design brief, "Policy input document"): what the policy
// sees of a verified, bound attestation result — or `status: none` with the reason there is none.
import type { Binding, BindingMethod } from "./binding.js";
import type { Tier } from "./ear/tiers.js";
import type { TrustVector } from "./ear/trust_vector.js";
import type { Appraisal, VerifiedEar, VerifierId } from "./ear/types.js";

export type AttestationModel = "passport" | "background-check";

export interface AttestationInput {
  /** Worst status of all submodules; `none` whenever there is no usable result. */
  status: Tier;
  /** Why the status is `none` (missing, invalid, unbound, verifier unavailable …). */
  reason?: string;
  model?: AttestationModel;
  /** The configured name of the trusted verifier that signed the result. */
  verifier?: string;
  verifier_id?: VerifierId;
  profile?: string;
  /** Seconds since the result's `iat`. */
  age_seconds?: number;
  /** Epoch seconds. */
  issued_at?: number;
  /** Epoch seconds after which the result must not be used: min(`exp`, `iat` + max age). */
  expires_at?: number;
  /** Claim-wise worst over the submodules: `{executables: {tier: "affirming", value: 2}, …}`. */
  trust_vector?: TrustVector;
  submods?: Record<string, Appraisal>;
  /** The caller identity the result was bound to, and how. */
  bound_to?: { method: BindingMethod; identity: string };
}

/** `status: none` with a reason: the only shape any failure produces. */
export function noAttestation(
  reason: string,
  extra: { model?: AttestationModel; verifier?: string } = {},
): AttestationInput {
  return { status: "none", reason, ...extra };
}

/** The policy input for a verified result, given its binding to this caller. */
export function attestationInput(
  ear: VerifiedEar,
  binding: Binding,
  model: AttestationModel,
  nowMs: number,
): AttestationInput {
  if (!binding.bound) return noAttestation(binding.reason, { model, verifier: ear.verifier });
  return {
    status: ear.status,
    model,
    verifier: ear.verifier,
    verifier_id: ear.verifierId,
    profile: ear.profile,
    age_seconds: Math.max(0, Math.floor(nowMs / 1000) - ear.issuedAt),
    issued_at: ear.issuedAt,
    expires_at: ear.validUntil,
    trust_vector: ear.trustVector,
    submods: ear.submods,
    bound_to: { method: binding.method, identity: binding.identity },
  };
}
