// L1 in front of L2: the in-process LRU answers synchronously; on an L1 miss Redis is asked (a promise),
// and an L2 hit is copied into the L1 with its subjects, so a later revocation finds it there too. A
// revocation, here or on another replica (invalidation.ts), bumps a generation: an L2 read that started
// before it is not copied into the L1 and counts as a miss.
import { InvalidationSubscriber, type InvalidationStats } from "./invalidation.js";
import { LruDecisionCache } from "./lru.js";
import {
  connectRedis,
  duplicateForSubscribe,
  RedisDecisionCache,
  type RedisCacheStats,
  type RedisEndpoint,
} from "./redis.js";
import type { CachedDecision, DecisionCache } from "./types.js";

export interface TieredStats {
  l1Entries: number;
  /** L1 misses answered by Redis. */
  l2Hits: number;
  l2: RedisCacheStats;
  invalidations: InvalidationStats;
}

export class TieredDecisionCache implements DecisionCache {
  private generation = 0;
  private l2Hits = 0;
  readonly subscriber: InvalidationSubscriber | undefined;

  constructor(
    readonly l1: LruDecisionCache,
    readonly l2: RedisDecisionCache,
    /** A dedicated connection for the invalidation channel; without one, only this replica's L1 is kept. */
    subscriberClient?: ConstructorParameters<typeof InvalidationSubscriber>[0],
  ) {
    this.subscriber =
      subscriberClient === undefined
        ? undefined
        : new InvalidationSubscriber(subscriberClient, l2.channel, {
            dropSubject: (s) => {
              this.generation++;
              this.l1.deleteSubject(s);
            },
            dropAll: () => {
              this.generation++;
              this.l1.clear();
            },
          });
  }

  get(key: string, nowMs: number): CachedDecision | undefined | Promise<CachedDecision | undefined> {
    const hit = this.l1.get(key, nowMs);
    if (hit !== undefined) return hit;
    const gen = this.generation;
    return this.l2.getWithSubjects(key, nowMs).then((r) => {
      if (r === undefined || gen !== this.generation) return undefined;
      this.l2Hits++;
      this.l1.set(key, r.entry, r.subjects);
      return r.entry;
    });
  }

  set(key: string, entry: CachedDecision, subjects: readonly string[]): Promise<void> {
    this.l1.set(key, entry, subjects);
    return this.l2.set(key, entry, subjects);
  }

  /**
   * Revokes `subject` everywhere: this L1 at once, Redis, and (published) every replica's L1. Resolves to
   * the number of entries deleted (Redis's count, or this L1's when larger); rejects when Redis could not
   * be reached — the revocation then only took effect here and must be retried.
   */
  async deleteSubject(subject: string): Promise<number> {
    this.generation++;
    const local = this.l1.deleteSubject(subject);
    const shared = await this.l2.deleteSubject(subject);
    return Math.max(local, shared);
  }

  async clear(): Promise<void> {
    this.generation++;
    this.l1.clear();
    await this.l2.clear();
  }

  stats(): TieredStats {
    return {
      l1Entries: this.l1.size,
      l2Hits: this.l2Hits,
      l2: this.l2.stats(),
      invalidations: { ...(this.subscriber?.stats ?? { received: 0, malformed: 0, resyncs: 0 }) },
    };
  }

  async close(): Promise<void> {
    this.subscriber?.close();
    await this.l2.close();
  }
}

export interface TieredCacheOptions {
  endpoint: RedisEndpoint;
  /** L1 bound (`cache.max_entries`). */
  maxEntries: number;
  /** `cache.key_prefix` (default `portcullis:`). */
  keyPrefix?: string;
  /** `cache.timeout_ms`: bound of each L2 call on the request path (default 50). */
  timeoutMs?: number;
}

/**
 * The L1 + Redis L2 + invalidation subscriber `cache.redis` configures. Never waits for Redis: a Redis
 * that is down at start-up is the same as one that goes down later (decisions without the L2 until it is
 * back).
 */
export function createTieredCache(o: TieredCacheOptions): TieredDecisionCache {
  const client = connectRedis({ endpoint: o.endpoint, timeoutMs: o.timeoutMs });
  // Connection errors are expected while Redis is away and are counted per call; without a listener
  // ioredis would print each one.
  client.on("error", () => {});
  const l2 = new RedisDecisionCache({
    client,
    ...(o.keyPrefix !== undefined ? { keyPrefix: o.keyPrefix } : {}),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
  });
  return new TieredDecisionCache(
    new LruDecisionCache({ maxEntries: o.maxEntries }),
    l2,
    duplicateForSubscribe(client),
  );
}
