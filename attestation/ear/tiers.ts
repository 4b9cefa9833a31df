// AR4SI trustworthiness tiers: the four names, their order for "worst of", and which tier an int8
// trustworthiness-claim value falls in (draft-ietf-rats-ar4si §2.3.3, "Enumeration Encoding").

export const TIERS = ["affirming", "warning", "none", "contraindicated"] as const;
export type Tier = (typeof TIERS)[number];

/**
 * Worse is higher. `none` ranks below `warning` on purpose: a component the verifier could not
 * appraise (or appraised while malfunctioning) tells the relying party less than one it appraised
 * with concerns, so it must never look better. `contraindicated` dominates everything, so a single
 * contraindicated component denies everywhere.
 */
const RANK: Record<Tier, number> = { affirming: 0, warning: 1, none: 2, contraindicated: 3 };

export function isTier(v: unknown): v is Tier {
  return typeof v === "string" && Object.prototype.hasOwnProperty.call(RANK, v);
}

/** The worse of two tiers. */
export function worse(a: Tier, b: Tier): Tier {
  return RANK[a] >= RANK[b] ? a : b;
}

/** The worst of a list; `none` for an empty list (no appraisal is no assurance). */
export function worst(tiers: Iterable<Tier>): Tier {
  let out: Tier | undefined;
  for (const t of tiers) out = out === undefined ? t : worse(out, t);
  return out ?? "none";
}

/**
 * The tier of one trustworthiness-claim value (an int8). Standard values are non-negative,
 * implementation-specific ones negative; both fall into the same four tiers:
 * none 0, 1, -1 · affirming 2..31, -2..-32 · warning 32..95, -33..-96 · contraindicated 96..127, -97..-128.
 */
export function tierOfValue(v: number): Tier {
  if (v >= 96 || v <= -97) return "contraindicated";
  if (v >= 32 || v <= -33) return "warning";
  if (v >= 2 || v <= -2) return "affirming";
  return "none";
}
