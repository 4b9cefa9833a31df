// L2: the decision cache in Redis, shared by every replica. An entry is the decision's JSON under the
// decision key with `PX` = the TTL the decider computed (never longer), plus a set per subject naming its
// keys, so a revocation finds them. Every call is bounded by a short timeout: a Redis that is down or slow
// costs an evaluation (the caller's miss path), never a decision and never a wait on the request path.
import { bounded } from "../../lib/bounded.js";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { CachedDecision, DecisionCache } from "./types.js";

/** Where Redis is: a URL, a Sentinel group, or Cluster seed nodes (`host:port`). */
export type RedisEndpoint = string | { sentinels: string[]; name: string } | { cluster: string[] };

export interface RedisConnectOptions {
  endpoint: RedisEndpoint;
  /** Per-command bound in ms (default 50): after it a call counts as failed and the request goes on. */
  timeoutMs?: number;
}

/** Either client kind; the cache uses only commands both have. */
export type RedisClient = Redis | Cluster;

export const DEFAULT_TIMEOUT_MS = 50;

function hostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  return m ? { host: m[1]!, port: Number(m[2]) } : { host: s, port: 6379 };
}

/**
 * A client for the request path: no offline queue (a command while disconnected fails at once instead of
 * waiting for a reconnect), a command timeout, and reconnects in the background at most a second apart.
 */
export function connectRedis(o: RedisConnectOptions): RedisClient {
  const commandTimeout = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const retryStrategy = (times: number) => Math.min(times * 100, 1000);
  const common: RedisOptions = {
    enableOfflineQueue: false,
    commandTimeout,
    maxRetriesPerRequest: 0,
    retryStrategy,
    connectTimeout: 1000,
    lazyConnect: false,
  };
  const ep = o.endpoint;
  if (typeof ep === "string") return new Redis(ep, common);
  if ("sentinels" in ep) {
    // failoverDetector: on the sentinels' +switch-master the client reconnects to the new master at once.
    // Without it, it stays on the old master until the sentinel demotes that one (its next INFO poll, up
    // to 10 s later): writes meant for the shared cache land on a node about to be wiped, and a revocation
    // published on the new master never reaches this replica's subscriber.
    return new Redis({
      ...common,
      sentinels: ep.sentinels.map(hostPort),
      name: ep.name,
      failoverDetector: true,
    });
  }
  return new Cluster(ep.cluster.map(hostPort), {
    enableOfflineQueue: false,
    clusterRetryStrategy: retryStrategy,
    redisOptions: { commandTimeout, maxRetriesPerRequest: 0, connectTimeout: 1000 },
  });
}

/**
 * A second client for the invalidation subscriber (pub/sub needs its own connection), with an offline
 * queue: not on the request path. For a Cluster it only tracks the nodes; the subscriber opens its own
 * connection to one of them (invalidation.ts).
 */
export function duplicateForSubscribe(client: RedisClient): RedisClient {
  return client instanceof Cluster
    ? client.duplicate(undefined, { enableOfflineQueue: true })
    : client.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null });
}

export interface RedisCacheOptions {
  client: RedisClient;
  /** Prepended to every key and the channel (`portcullis:` by default); tests use a random one. */
  keyPrefix?: string;
  /** Bound of each request-path call in ms (default 50). */
  timeoutMs?: number;
  /** Bound of a revocation or clear in ms (default 2000): admin calls, not on the request path. */
  adminTimeoutMs?: number;
  now?: () => number;
}

export interface RedisCacheStats {
  hits: number;
  misses: number;
  stored: number;
  /** Calls that failed: Redis down, a refused command, or an unreadable entry. */
  errors: number;
  /** Calls that took longer than the timeout (also counted in `errors`). */
  timeouts: number;
  /** Entries deleted by revocations. */
  revoked: number;
}

export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`redis call took longer than ${ms} ms`);
    this.name = "RedisTimeoutError";
  }
}

/** What the L2 stores under a decision key. */
interface Stored {
  v: unknown;
  e: number;
  s: string[];
}

function deepFreeze(v: unknown): unknown {
  if (typeof v === "object" && v !== null) {
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
    Object.freeze(v);
  }
  return v;
}

// Adds the key to the subject's set and lengthens the set's expiry to the entry's if it is shorter, in one
// step on one key (Cluster-safe): the index never expires before an entry it names.
const INDEX_SCRIPT = `
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if left < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

export class RedisDecisionCache implements DecisionCache {
  readonly client: RedisClient;
  readonly prefix: string;
  /** Invalidations are published here; replicas drop those subjects from their L1 (invalidation.ts). */
  readonly channel: string;
  private readonly timeoutMs: number;
  private readonly adminTimeoutMs: number;
  private readonly now: () => number;
  private readonly counters: RedisCacheStats = {
    hits: 0,
    misses: 0,
    stored: 0,
    errors: 0,
    timeouts: 0,
    revoked: 0,
  };

  constructor(o: RedisCacheOptions) {
    this.client = o.client;
    this.prefix = o.keyPrefix ?? "portcullis:";
    this.channel = `${this.prefix}invalidate`;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.adminTimeoutMs = o.adminTimeoutMs ?? 2000;
    this.now = o.now ?? Date.now;
  }

  /** A copy of the counters (the metric: `errors`/`timeouts` count calls decided without the L2). */
  stats(): RedisCacheStats {
    return { ...this.counters };
  }

  private entryKey(key: string): string {
    return `${this.prefix}d:${key}`;
  }

  private subjectKey(subject: string): string {
    return `${this.prefix}s:${subject}`;
  }

  /** `p`, rejected after `ms`; every failure is counted once, here. */
  private bounded<T>(p: Promise<T>, ms: number): Promise<T> {
    return bounded(p, ms, () => new RedisTimeoutError(ms)).catch((e: unknown) => {
      this.counters.errors++;
      if (e instanceof RedisTimeoutError || (e instanceof Error && /timed out/i.test(e.message))) {
        this.counters.timeouts++;
      }
      throw e;
    });
  }

  async get(key: string, nowMs: number): Promise<CachedDecision | undefined> {
    return (await this.getWithSubjects(key, nowMs))?.entry;
  }

  /** The live entry with its subjects (the tiered cache puts them into its L1's index). */
  async getWithSubjects(
    key: string,
    nowMs: number,
  ): Promise<{ entry: CachedDecision; subjects: string[] } | undefined> {
    const text = await this.bounded(this.client.get(this.entryKey(key)), this.timeoutMs);
    let stored: Partial<Stored> | null = null;
    if (text !== null) {
      try {
        stored = JSON.parse(text) as Partial<Stored>;
      } catch (e) {
        this.counters.errors++;
        throw e;
      }
    }
    // Expiry checked against the caller's clock too: Redis's own PX is the second line, not the only one.
    if (
      typeof stored !== "object" ||
      stored === null ||
      typeof stored.e !== "number" ||
      !(nowMs < stored.e) ||
      !Array.isArray(stored.s)
    ) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.hits++;
    return { entry: { value: deepFreeze(stored.v), expiresAtMs: stored.e }, subjects: stored.s };
  }

  async set(key: string, entry: CachedDecision, subjects: readonly string[]): Promise<void> {
    // PX from the entry's own end: Redis drops it no later than the decider would stop using it.
    const ttlMs = Math.floor(entry.expiresAtMs - this.now());
    if (!(ttlMs > 0)) return;
    const k = this.entryKey(key);
    const body: Stored = { v: entry.value, e: entry.expiresAtMs, s: [...subjects] };
    // The index first: an entry is never in Redis without its subjects naming it.
    const writes: Promise<unknown>[] = subjects.map((s) =>
      this.client.eval(INDEX_SCRIPT, 1, this.subjectKey(s), k, String(ttlMs)),
    );
    writes.push(this.client.set(k, JSON.stringify(body), "PX", ttlMs));
    await this.bounded(Promise.all(writes), this.timeoutMs);
    this.counters.stored++;
  }

  /**
   * Deletes every entry of `subject` in Redis and tells every replica to drop it from its L1. Rejects when
   * Redis could not be reached: a revocation must be retried, not assumed.
   */
  async deleteSubject(subject: string): Promise<number> {
    const n = await this.bounded(this.deleteSubjectEntries(subject), this.adminTimeoutMs);
    await this.publish({ subject });
    this.counters.revoked += n;
    return n;
  }

  private async deleteSubjectEntries(subject: string): Promise<number> {
    const idx = this.subjectKey(subject);
    const keys = await this.client.smembers(idx);
    // One DEL per key: in a Cluster the keys live in different slots.
    const deleted = await Promise.all(keys.map((k) => this.client.del(k)));
    await this.client.del(idx);
    return deleted.reduce((a, b) => a + b, 0);
  }

  /** Deletes every entry under the prefix (on every master of a Cluster) and tells replicas to clear L1. */
  async clear(): Promise<void> {
    await this.bounded(this.deleteAll(), this.adminTimeoutMs);
    await this.publish({ all: true });
  }

  private async deleteAll(): Promise<void> {
    const nodes = this.client instanceof Cluster ? this.client.nodes("master") : [this.client];
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", `${this.prefix}*`, "COUNT", 500);
        cursor = next;
        await Promise.all(keys.map((k) => node.del(k)));
      } while (cursor !== "0");
    }
  }

  /** Publishes an invalidation message (format: invalidation.ts). */
  async publish(message: { subject?: string; all?: true }): Promise<void> {
    await this.bounded(this.client.publish(this.channel, JSON.stringify(message)), this.adminTimeoutMs);
  }

  /** Closes the connection (pending calls fail, and count as misses for their requests). */
  async close(): Promise<void> {
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}
