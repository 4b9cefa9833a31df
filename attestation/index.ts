// Attestation results as policy input: EAR verification, binding to the caller, nonces, the
// background-check verifier client and the provider the gateway calls once per request.
// The reference verifier lives in ./verifier/ (its own entry point).
export * from "./binding.js";
export * from "./config.js";
export * from "./ear/errors.js";
export * from "./ear/keys.js";
export * from "./ear/profiles.js";
export * from "./ear/tiers.js";
export * from "./ear/trust_vector.js";
export * from "./ear/types.js";
export * from "./ear/verify.js";
export * from "./input.js";
export * from "./keys.js";
export * from "./nonce.js";
export * from "./provider.js";
export * from "./verifier_client.js";
export { EVIDENCE_MEDIA_TYPE, peekEvidenceNonce } from "./verifier/evidence.js";
