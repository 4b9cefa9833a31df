// The verified-result cache: a verified EAR remembered under the workload that presented it and the hash
// of what it presented (the passport JWT, or the evidence the verifier appraised), so the same passport
// re-sent on every request, or the same evidence, is neither verified nor appraised again. An entry is
// kept until the result stops being valid (`validUntil`: min(`exp`, `iat` + max age)), never longer.
// In-process (an LRU), in Redis (shared by every gateway replica, so the verifier is asked once for the
// whole fleet), or both (an LRU in front of Redis). A cached result is still bound to the caller on every
// request by the provider; the key's workload only keeps one workload's entry from being another's hit.
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import { isTier } from "./ear/tiers.js";
import type { VerifiedEar } from "./ear/types.js";
import type { AttestationModel } from "./input.js";
import {
  ATTESTATION_REDIS_TIMEOUT_MS,
  countedRedisCall,
  type AttestationRedisClient,
} from "./nonce_redis.js";

export interface ResultCacheKey {
  /** The identity the caller proved on this request (SPIFFE ID, WIMSE ID, or a key thumbprint). */
  workload: string;
  model: AttestationModel;
  /** SHA-256 (base64url) of the passport or evidence as presented. */
  digest: string;
}

export interface ResultCacheStats {
  hits: number;
  misses: number;
  stored: number;
  /** Calls the store could not answer (Redis down, slow or unreadable): verified without the cache. */
  errors: number;
  timeouts: number;
  /** Entries read but refused: another workload's, malformed, or past their validity. */
  rejected: number;
}

export interface VerifiedResultCache {
  /** The live entry, or undefined. Rejects when the store cannot answer: the caller verifies without it. */
  get(key: ResultCacheKey): Promise<VerifiedEar | undefined>;
  /** Remembers `ear` until its `validUntil` (no later). Rejects when the store cannot take it. */
  set(key: ResultCacheKey, ear: VerifiedEar): Promise<void>;
  stats(): ResultCacheStats;
}

function emptyStats(): ResultCacheStats {
  return { hits: 0, misses: 0, stored: 0, errors: 0, timeouts: 0, rejected: 0 };
}

/** SHA-256, base64url: the digest of a presented passport or evidence. */
export function presentedDigest(s: string): string {
  return createHash("sha256").update(s).digest("base64url");
}

/** Milliseconds `ear` may still be cached at `nowMs`, at most `maxMs`; 0 when it must not be. */
function ttlMs(ear: VerifiedEar, nowMs: number, maxMs: number): number {
  const left = Math.floor(ear.validUntil * 1000 - nowMs);
  return Math.max(0, Math.min(left, maxMs));
}

interface LruEntry {
  key: ResultCacheKey;
  ear: VerifiedEar;
}

export interface MemoryResultCacheOptions {
  /** Entries at most (default 10 000). */
  max_entries?: number;
  /** Longest an entry is kept, whatever its `exp` says (default: no bound beyond `validUntil`). */
  max_ttl_s?: number;
  now?: () => number;
}

/** In-process: an LRU with a TTL per entry. Never fails. */
export class MemoryResultCache implements VerifiedResultCache {
  private readonly lru: LRUCache<string, LruEntry>;
  private readonly maxMs: number;
  private readonly now: () => number;
  private readonly counters = emptyStats();

  constructor(o: MemoryResultCacheOptions = {}) {
    this.lru = new LRUCache({ max: o.max_entries ?? 10_000 });
    this.maxMs = o.max_ttl_s !== undefined ? o.max_ttl_s * 1000 : Number.MAX_SAFE_INTEGER;
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.lru.size;
  }

  stats(): ResultCacheStats {
    return { ...this.counters };
  }

  private id(k: ResultCacheKey): string {
    return `${k.model}\n${k.digest}\n${k.workload}`;
  }

  /** Synchronous, for the tiered cache's first look. */
  peek(key: ResultCacheKey): VerifiedEar | undefined {
    const id = this.id(key);
    const hit = this.lru.get(id);
    if (hit === undefined) {
      this.counters.misses++;
      return undefined;
    }
    if (!(Math.floor(this.now() / 1000) < hit.ear.validUntil) || hit.key.workload !== key.workload) {
      this.lru.delete(id);
      this.counters.rejected++;
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return hit.ear;
  }

  put(key: ResultCacheKey, ear: VerifiedEar): void {
    const ttl = ttlMs(ear, this.now(), this.maxMs);
    if (ttl <= 0) return;
    this.lru.set(this.id(key), { key: { ...key }, ear }, { ttl, noDisposeOnSet: true });
    this.counters.stored++;
  }

  async get(key: ResultCacheKey): Promise<VerifiedEar | undefined> {
    return this.peek(key);
  }

  async set(key: ResultCacheKey, ear: VerifiedEar): Promise<void> {
    this.put(key, ear);
  }
}

export interface RedisResultCacheOptions {
  client: AttestationRedisClient;
  /** Prepended to every key (the gateway uses `<cache.key_prefix>att:<segment>:r:<config hash>:`). */
  key_prefix: string;
  /** Longest an entry is kept, whatever its `exp` says: the largest configured max age (default 300). */
  max_ttl_s?: number;
  /** Bound of each Redis call in ms (default 50). */
  timeout_ms?: number;
  now?: () => number;
}

/** What Redis holds under a result key: the key's parts again (checked on read) and the verified result. */
interface Stored {
  w: string;
  m: AttestationModel;
  d: string;
  r: VerifiedEar;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const isStr = (v: unknown): v is string => typeof v === "string";
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/**
 * Whether `v` has every field of a VerifiedEar with the right types: what Redis returns is data from
 * outside the process, and the policy must never see a half-formed result.
 */
export function isVerifiedEar(v: unknown): v is VerifiedEar {
  if (!isObj(v)) return false;
  const id = v.verifierId;
  if (!isStr(v.verifier) || !isStr(v.profile) || !isObj(id) || !isStr(id.developer) || !isStr(id.build)) {
    return false;
  }
  if (!isNum(v.issuedAt) || !isNum(v.validUntil) || (v.expiresAt !== undefined && !isNum(v.expiresAt))) {
    return false;
  }
  if (!Array.isArray(v.nonces) || !v.nonces.every(isStr) || !isTier(v.status)) return false;
  if (!isObj(v.trustVector) || !isObj(v.claims) || !isObj(v.submods)) return false;
  const vectorOk = (tv: unknown) =>
    isObj(tv) && Object.values(tv).every((c) => isObj(c) && isTier(c.tier) && isNum(c.value));
  if (!vectorOk(v.trustVector)) return false;
  return Object.values(v.submods).every(
    (a) =>
      isObj(a) &&
      isTier(a.status) &&
      isTier(a.verifier_status) &&
      vectorOk(a.trust_vector) &&
      Array.isArray(a.policy_ids) &&
      a.policy_ids.every(isStr) &&
      (a.nonce === undefined || isStr(a.nonce)),
  );
}

/**
 * In Redis: one string key per entry, `PX` = until the result's `validUntil`, bounded by `max_ttl_s`.
 * The key names the workload by its hash and the value names it in full, and a read is used only when
 * the value's workload, model and digest are the ones asked for and the result is still valid by this
 * replica's clock. Any failure rejects (counted): the provider then verifies as if nothing were cached.
 */
export class RedisResultCache implements VerifiedResultCache {
  private readonly client: AttestationRedisClient;
  private readonly prefix: string;
  private readonly maxMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly counters = emptyStats();

  constructor(o: RedisResultCacheOptions) {
    this.client = o.client;
    this.prefix = o.key_prefix;
    this.maxMs = (o.max_ttl_s ?? 300) * 1000;
    this.timeoutMs = o.timeout_ms ?? ATTESTATION_REDIS_TIMEOUT_MS;
    this.now = o.now ?? Date.now;
  }

  stats(): ResultCacheStats {
    return { ...this.counters };
  }

  /** The Redis key of an entry (exported for tests and operators). */
  keyOf(k: ResultCacheKey): string {
    const model = k.model === "passport" ? "p" : "e";
    return `${this.prefix}${presentedDigest(k.workload)}:${model}:${k.digest}`;
  }

  private call<T>(p: Promise<T>, what: string): Promise<T> {
    return countedRedisCall(p, this.timeoutMs, what, this.counters);
  }

  async get(key: ResultCacheKey): Promise<VerifiedEar | undefined> {
    const text = await this.call(this.client.get(this.keyOf(key)), "reading a verified result");
    if (text === null) {
      this.counters.misses++;
      return undefined;
    }
    let stored: unknown;
    try {
      stored = JSON.parse(text);
    } catch {
      stored = undefined;
    }
    const s = stored as Partial<Stored> | undefined;
    if (
      !isObj(s) ||
      s.w !== key.workload ||
      s.m !== key.model ||
      s.d !== key.digest ||
      !isVerifiedEar(s.r) ||
      !(Math.floor(this.now() / 1000) < s.r.validUntil)
    ) {
      this.counters.rejected++;
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return s.r;
  }

  async set(key: ResultCacheKey, ear: VerifiedEar): Promise<void> {
    const ttl = ttlMs(ear, this.now(), this.maxMs);
    if (ttl <= 0) return;
    const body: Stored = { w: key.workload, m: key.model, d: key.digest, r: ear };
    await this.call(
      this.client.set(this.keyOf(key), JSON.stringify(body), "PX", ttl),
      "storing a verified result",
    );
    this.counters.stored++;
  }
}

/**
 * An LRU in front of Redis: a passport re-sent on every request costs a map lookup, not a Redis round
 * trip, and a result verified on another replica is found in Redis once. Entries are immutable facts
 * (this workload presented this, and it verified to that), valid until they expire, so the L1 needs no
 * invalidation. Redis failures are counted by the L2 and cost only the L2.
 */
export class TieredResultCache implements VerifiedResultCache {
  private l2Hits = 0;

  constructor(
    readonly l1: MemoryResultCache,
    readonly l2: RedisResultCache,
  ) {}

  stats(): ResultCacheStats & { l2Hits: number; l1: ResultCacheStats; l2: ResultCacheStats } {
    const l1 = this.l1.stats();
    const l2 = this.l2.stats();
    return {
      hits: l1.hits + this.l2Hits,
      misses: l2.misses + l2.errors,
      stored: l2.stored,
      errors: l2.errors,
      timeouts: l2.timeouts,
      rejected: l1.rejected + l2.rejected,
      l2Hits: this.l2Hits,
      l1,
      l2,
    };
  }

  async get(key: ResultCacheKey): Promise<VerifiedEar | undefined> {
    const hit = this.l1.peek(key);
    if (hit !== undefined) return hit;
    const shared = await this.l2.get(key);
    if (shared === undefined) return undefined;
    this.l2Hits++;
    this.l1.put(key, shared);
    return shared;
  }

  async set(key: ResultCacheKey, ear: VerifiedEar): Promise<void> {
    this.l1.put(key, ear);
    await this.l2.set(key, ear);
  }
}
