// The AR4SI trustworthiness vector: eight named claims, each an int8, decoded into {tier, value}.
import { EarError } from "./errors.js";
import { tierOfValue, worst, type Tier } from "./tiers.js";

export const TRUST_CLAIMS = [
  "instance-identity",
  "configuration",
  "executables",
  "file-system",
  "hardware",
  "runtime-opaque",
  "storage-opaque",
  "sourced-data",
] as const;
export type TrustClaim = (typeof TRUST_CLAIMS)[number];

export interface TrustClaimValue {
  tier: Tier;
  /** The raw int8 the verifier asserted, so a policy can match specific AR4SI codes (e.g. 33). */
  value: number;
}

export type TrustVector = Partial<Record<TrustClaim, TrustClaimValue>>;

const KNOWN = new Set<string>(TRUST_CLAIMS);

/**
 * Decodes a vector from an EAR. Value 0 means "no claim" (AR4SI: treat exactly as absent), so it is
 * dropped. Unknown keys are ignored (AR4SI leaves room for extensions; ignoring them cannot make a
 * result look better). A value that is not an integer in -128..127 makes the whole result invalid.
 */
export function decodeTrustVector(raw: unknown, where: string): TrustVector {
  if (raw === undefined) return {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new EarError("malformed", `${where} must be an object`);
  }
  const out: TrustVector = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!KNOWN.has(key)) continue;
    if (typeof value !== "number" || !Number.isInteger(value) || value < -128 || value > 127) {
      throw new EarError("malformed", `${where}.${key} must be an integer from -128 to 127`);
    }
    if (value === 0) continue;
    out[key as TrustClaim] = { tier: tierOfValue(value), value };
  }
  return out;
}

/** The worst tier in a vector, or undefined for an empty one. */
export function vectorTier(v: TrustVector): Tier | undefined {
  const tiers = Object.values(v).map((c) => c.tier);
  return tiers.length === 0 ? undefined : worst(tiers);
}

/**
 * Claim-wise worst over several vectors (one per submodule): a claim is only as good as the worst
 * component that asserted it. Of two entries in the same tier the first is kept.
 */
export function mergeWorst(vectors: TrustVector[]): TrustVector {
  const out: TrustVector = {};
  for (const v of vectors) {
    for (const claim of TRUST_CLAIMS) {
      const c = v[claim];
      if (!c) continue;
      const prev = out[claim];
      if (!prev || (prev.tier !== c.tier && worst([prev.tier, c.tier]) === c.tier)) out[claim] = c;
    }
  }
  return out;
}
