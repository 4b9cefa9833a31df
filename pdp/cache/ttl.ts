// How long a decision may be reused: the smallest of every bound that applies. Anything unclear about a
// bound (a malformed `cache_ttl_s`, a non-finite expiry) means "do not cache", never "cache longer".

export interface TtlInputs {
  nowMs: number;
  /** `cache.ttl_s` from the config; 0 turns the cache off. */
  configTtlS: number;
  /** The decision document as the policy returned it. */
  decision: unknown;
  /** Earliest credential expiry (epoch s): token `exp`, certificate `notAfter`. */
  expiresAt?: number;
  /** Attestation result expiry (epoch s). */
  attestationExpiresAt?: number;
}

/**
 * A decision document the gateway can act on: a boolean, or an object with a boolean `allow`. Anything
 * else (undefined, a policy error) is never cached, so every request reports the error again.
 */
export function isDecisionDocument(v: unknown): boolean {
  if (typeof v === "boolean") return true;
  return (
    typeof v === "object" &&
    v !== null &&
    !Array.isArray(v) &&
    typeof (v as Record<string, unknown>).allow === "boolean"
  );
}

/** Milliseconds the decision may be served from the cache; 0 or less means do not store it. */
export function decisionTtlMs(t: TtlInputs): number {
  if (!isDecisionDocument(t.decision)) return 0;
  let ttlMs = t.configTtlS * 1000;
  if (typeof t.decision === "object") {
    const own = (t.decision as Record<string, unknown>).cache_ttl_s;
    if (own !== undefined) {
      if (typeof own !== "number" || !(own >= 0)) return 0;
      ttlMs = Math.min(ttlMs, own * 1000);
    }
  }
  for (const until of [t.expiresAt, t.attestationExpiresAt]) {
    if (until === undefined) continue;
    if (!Number.isFinite(until)) return 0;
    ttlMs = Math.min(ttlMs, until * 1000 - t.nowMs);
  }
  return Number.isFinite(ttlMs) ? Math.floor(ttlMs) : 0;
}
