// Freshness nonces in Redis, shared by every gateway replica: a nonce one replica issued is consumed at
// whichever replica the agent's next request reaches, exactly once. Each nonce is one hash (expiry, used
// flag, subject) written and consumed by a Lua script, so the check-and-mark is one atomic step on the
// Redis server however many replicas race. Every call is bounded by a timeout: a Redis that is down or
// stalled makes issuing fail (the nonce endpoint answers 503) and consuming fail closed (the caller
// treats the nonce as not accepted), never a hang.
import { bounded } from "../lib/bounded.js";
import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import { canonicalNonce, type IssuedNonce, type NonceCheck, type NonceStore } from "./nonce.js";

/** A standalone/Sentinel or Cluster ioredis client; only commands both have are used. */
export type AttestationRedisClient = Redis | Cluster;

/** Default bound of one Redis call (ms): the gateway's request path must not wait on Redis. */
export const ATTESTATION_REDIS_TIMEOUT_MS = 50;

/** Redis did not answer (down, refused, too slow) or answered with something unreadable. */
export class AttestationStoreUnavailable extends Error {
  override name = "AttestationStoreUnavailable";
  /** True when the call ran out of time rather than failing outright. */
  readonly timeout: boolean;
  constructor(message: string, timeout = false) {
    super(message);
    this.timeout = timeout;
  }
}

/**
 * `p` bounded by `ms`; any failure becomes an AttestationStoreUnavailable. ioredis has its own command
 * timeout when the client was built for the request path; this bound holds for any client.
 */
export function boundedRedisCall<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return bounded(
    p,
    ms,
    () => new AttestationStoreUnavailable(`${what}: redis took longer than ${ms} ms`, true),
  ).catch((e: unknown) => {
    if (e instanceof AttestationStoreUnavailable) throw e;
    const msg = e instanceof Error ? e.message : String(e);
    throw new AttestationStoreUnavailable(`${what}: ${msg}`, /timed? ?out/i.test(msg));
  });
}

/** One store call: bounded, and its failure counted (errors, of them timeouts) before it is thrown. */
export async function countedRedisCall<T>(
  p: Promise<T>,
  ms: number,
  what: string,
  counters: { errors: number; timeouts: number },
): Promise<T> {
  try {
    return await boundedRedisCall(p, ms, what);
  } catch (e) {
    counters.errors++;
    if (e instanceof AttestationStoreUnavailable && e.timeout) counters.timeouts++;
    throw e;
  }
}

export interface RedisNonceStoreOptions {
  client: AttestationRedisClient;
  /** Prepended to every key (the gateway uses `<cache.key_prefix>att:<segment>:n:`). */
  key_prefix: string;
  /** Lifetime of an issued nonce (default 120 s). */
  ttl_s?: number;
  /** Random bytes per nonce: 8..64 as EAT requires (default 32). */
  bytes?: number;
  /** Bound of each Redis call in ms (default 50). */
  timeout_ms?: number;
  /** Clock in ms (tests). Expiry is judged by the consuming replica's clock against the issuer's. */
  now?: () => number;
}

export interface RedisNonceStoreStats {
  issued: number;
  consumed: number;
  /** Refusals by reason. */
  refused: Record<"unknown" | "expired" | "replayed" | "wrong_subject", number>;
  /** Calls Redis did not answer in time or at all (issue: 503; consume: not accepted). */
  errors: number;
  timeouts: number;
}

// KEYS[1] nonce key; ARGV: expiry (epoch ms), has subject ("1"/"0"), subject, key lifetime (ms).
// EXISTS first: a colliding random nonce (2^-64 at worst) must never reset someone's used flag.
const ISSUE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'u', '0', 's', ARGV[3])
else
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'u', '0')
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

// KEYS[1] nonce key; ARGV: now (epoch ms), has subject ("1"/"0"), subject. The same order of checks as
// MemoryNonceStore: expired, then used, then subject; a wrong subject does not spend the nonce.
const CONSUME = `
local f = redis.call('HMGET', KEYS[1], 'e', 'u', 's')
if not f[1] then return 'unknown' end
if tonumber(ARGV[1]) > tonumber(f[1]) then return 'expired' end
if f[2] == '1' then return 'replayed' end
if f[3] and (ARGV[2] ~= '1' or f[3] ~= ARGV[3]) then return 'wrong_subject' end
redis.call('HSET', KEYS[1], 'u', '1')
return 'ok'`;

const REASONS = new Set(["unknown", "expired", "replayed", "wrong_subject"]);

/**
 * NonceStore over Redis. A key lives twice the nonce lifetime: the nonce is refused past its own expiry
 * (checked in the script), and the extra lifetime keeps a used or expired nonce recognisable, so a late
 * replay is logged as `replayed`/`expired` rather than as a forgery (`unknown`). There is no entry bound
 * here: Redis's memory is the bound, and the gateway rate-limits the nonce endpoint per caller.
 */
export class RedisNonceStore implements NonceStore {
  private readonly client: AttestationRedisClient;
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly bytes: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private readonly counters: RedisNonceStoreStats = {
    issued: 0,
    consumed: 0,
    refused: { unknown: 0, expired: 0, replayed: 0, wrong_subject: 0 },
    errors: 0,
    timeouts: 0,
  };

  constructor(o: RedisNonceStoreOptions) {
    this.client = o.client;
    this.prefix = o.key_prefix;
    this.ttlMs = (o.ttl_s ?? 120) * 1000;
    if (!(this.ttlMs >= 1000)) throw new Error("nonce ttl_s must be at least 1");
    this.bytes = o.bytes ?? 32;
    if (this.bytes < 8 || this.bytes > 64) throw new Error("nonce bytes must be from 8 to 64");
    this.timeoutMs = o.timeout_ms ?? ATTESTATION_REDIS_TIMEOUT_MS;
    this.now = o.now ?? Date.now;
  }

  stats(): RedisNonceStoreStats {
    return { ...this.counters, refused: { ...this.counters.refused } };
  }

  private key(nonce: string): string {
    return `${this.prefix}${nonce}`;
  }

  private call<T>(p: Promise<T>, what: string): Promise<T> {
    return countedRedisCall(p, this.timeoutMs, what, this.counters);
  }

  /** Throws AttestationStoreUnavailable when Redis cannot take the nonce (the endpoint answers 503). */
  async issue(subject?: string): Promise<IssuedNonce> {
    const nonce = randomBytes(this.bytes).toString("base64url");
    const expiresMs = this.now() + this.ttlMs;
    const created = await this.call(
      this.client.eval(
        ISSUE,
        1,
        this.key(nonce),
        String(expiresMs),
        subject !== undefined ? "1" : "0",
        subject ?? "",
        String(this.ttlMs * 2),
      ),
      "issuing a nonce",
    );
    if (created !== 1) throw new AttestationStoreUnavailable("issuing a nonce: it already exists");
    this.counters.issued++;
    return { nonce, expires_at: Math.floor(expiresMs / 1000) };
  }

  /**
   * Marks the nonce used; only the first call across all replicas succeeds. Throws
   * AttestationStoreUnavailable when Redis cannot answer: the caller must not accept the nonce then.
   */
  async consume(nonce: string, subject?: string): Promise<NonceCheck> {
    const key = canonicalNonce(nonce);
    if (key === undefined) {
      this.counters.refused.unknown++;
      return { ok: false, reason: "unknown" };
    }
    const r = await this.call(
      this.client.eval(
        CONSUME,
        1,
        this.key(key),
        String(this.now()),
        subject !== undefined ? "1" : "0",
        subject ?? "",
      ),
      "consuming a nonce",
    );
    if (r === "ok") {
      this.counters.consumed++;
      return { ok: true };
    }
    if (typeof r === "string" && REASONS.has(r)) {
      const reason = r as keyof RedisNonceStoreStats["refused"];
      this.counters.refused[reason]++;
      return { ok: false, reason };
    }
    this.counters.errors++;
    throw new AttestationStoreUnavailable(`consuming a nonce: unexpected answer ${JSON.stringify(r)}`);
  }
}
