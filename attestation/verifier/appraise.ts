// The reference verifier's appraisal policy: measurements against reference values, each AR4SI
// claim filled only with what the evidence actually shows. A claim the evidence cannot support is
// left out (no claim), never guessed as affirming.
import { tierOfValue, worst, type Tier } from "../ear/tiers.js";
import type { TrustClaim } from "../ear/trust_vector.js";
import type { Measurements, RuntimeValue } from "./evidence.js";

export interface ReferenceValues {
  /** Approved image digests: `executables` affirming (2). */
  image_digests: string[];
  /** Known-bad image digests: `executables` contraindicated (96). */
  denied_image_digests: string[];
  /** Approved configuration hashes: `configuration` affirming (2). */
  config_hashes: string[];
  /** Known-bad configuration hashes: `configuration` contraindicated (96). */
  denied_config_hashes: string[];
  /** Runtime facts that must hold exactly (e.g. `debug: false`). */
  runtime: Record<string, RuntimeValue>;
  /**
   * TEE types that make memory opaque to the host. When set, `runtime-opaque` is claimed: affirming
   * (2) if `runtime.tee` is one of them, contraindicated (96) otherwise.
   */
  tee?: string[];
}

/** Implementation-specific (negative) AR4SI codes of this verifier, documented in docs/attestation.md. */
export const CODES = {
  /** configuration: the hash is neither approved nor denied (warning tier, -33). */
  unrecognizedConfig: -33,
  /** configuration: approved hash, but a runtime fact differs from the reference (warning tier, -34). */
  runtimeMismatch: -34,
} as const;

export interface Appraised {
  vector: Partial<Record<TrustClaim, number>>;
  status: Tier;
  /** One line per claim explaining the value, for the verifier's log. */
  notes: string[];
}

/** Appraises verified measurements of a registered attester. */
export function appraise(m: Measurements, ref: ReferenceValues): Appraised {
  const notes: string[] = [];
  // The evidence verified with a registered attester key, bound to the session nonce.
  const vector: Partial<Record<TrustClaim, number>> = { "instance-identity": 2 };

  if (ref.denied_image_digests.includes(m.image_digest)) {
    vector.executables = 96;
    notes.push(`executables 96: image ${m.image_digest} is denied`);
  } else if (ref.image_digests.includes(m.image_digest)) {
    vector.executables = 2;
  } else {
    vector.executables = 33;
    notes.push(`executables 33: image ${m.image_digest} is not a reference value`);
  }

  const runtime = m.runtime ?? {};
  const mismatched = Object.entries(ref.runtime)
    .filter(([k, v]) => runtime[k] !== v)
    .map(([k]) => k);
  if (ref.denied_config_hashes.includes(m.config_hash)) {
    vector.configuration = 96;
    notes.push(`configuration 96: config ${m.config_hash} is denied`);
  } else if (!ref.config_hashes.includes(m.config_hash)) {
    vector.configuration = CODES.unrecognizedConfig;
    notes.push(`configuration ${CODES.unrecognizedConfig}: config ${m.config_hash} is not a reference value`);
  } else if (mismatched.length > 0) {
    vector.configuration = CODES.runtimeMismatch;
    notes.push(
      `configuration ${CODES.runtimeMismatch}: runtime ${mismatched.join(", ")} differ from the reference`,
    );
  } else {
    vector.configuration = 2;
  }

  if (ref.tee !== undefined) {
    const tee = runtime.tee;
    if (typeof tee === "string" && ref.tee.includes(tee)) {
      vector["runtime-opaque"] = 2;
    } else {
      vector["runtime-opaque"] = 96;
      notes.push(`runtime-opaque 96: tee ${JSON.stringify(tee ?? null)} is not one of ${ref.tee.join(", ")}`);
    }
  }

  const status = worst(Object.values(vector).map((v) => tierOfValue(v)));
  return { vector, status, notes };
}
