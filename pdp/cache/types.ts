// The decision cache's contract. L1 (in-process, lru.ts) answers synchronously; an L2 (Redis, issue 5)
// answers with a promise. Callers handle both, so an L1 hit never waits for a microtask.

/** One cached decision document. */
export interface CachedDecision {
  /** The decision as the policy returned it (a deep-frozen copy of the JSON data: every hit shares it). */
  readonly value: unknown;
  /** Epoch ms from which the entry must not be used any more. */
  readonly expiresAtMs: number;
}

export interface DecisionCache {
  /** The live entry for `key`, or undefined. An entry at or past its expiry is never returned. */
  get(key: string, nowMs: number): CachedDecision | undefined | Promise<CachedDecision | undefined>;
  /**
   * Stores an entry until `entry.expiresAtMs`, indexed under each subject so a revocation can find it.
   * A failure to store is not an error for the request: the decision was made either way.
   */
  set(key: string, entry: CachedDecision, subjects: readonly string[]): void | Promise<void>;
  /** Drops every entry stored under `subject` (a revoked credential or workload); returns how many. */
  deleteSubject(subject: string): number | Promise<number>;
  /** Drops everything (e.g. after a revocation that cannot be scoped to subjects). */
  clear(): void | Promise<void>;
}

/**
 * What bounds a decision's lifetime besides the config and the decision's own `cache_ttl_s`, and whom it
 * belongs to. Times are epoch seconds, as in JWT `exp`.
 */
export interface DecisionBounds {
  /** Every subject the decision was made for (token `sub`, SPIFFE ID, …): the revocation index. */
  subjects: readonly string[];
  /** The earliest expiry of the credentials behind the input (token `exp`, certificate `notAfter`). */
  expiresAt?: number;
  /**
   * The attestation result behind `input.attestation`. `issuedAt` replaces the ever-changing
   * `age_seconds` in the key; without it an input with `age_seconds` is not cached at all.
   */
  attestation?: { issuedAt: number; expiresAt?: number };
}

/**
 * Where a caller lets the decider keep a request's cache key between requests. Passing the same memo
 * promises that the inputs and bounds are the same at every value the key reads: the same policy-read
 * paths (request time and trace noise aside) and the same subjects. The gateway keeps one per keep-alive
 * connection's repeated request head (gateway/server/repeat.ts); the key is recomputed whenever the
 * policy revision changed since it was stored.
 */
export interface DecisionKeyMemo {
  key?: string;
  revision?: string;
}

export interface DeciderStats {
  /** Lookups answered from the cache. */
  hits: number;
  /** Lookups that had to evaluate. */
  misses: number;
  /** Decisions evaluated without a lookup: cache off, no revision, no bounds, or an uncacheable input. */
  bypassed: number;
  /** Entries written. */
  stored: number;
  /** Cache failures (an L2 read or write that failed); the request was decided without the cache. */
  errors: number;
}
