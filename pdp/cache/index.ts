// The decision cache (design brief, "Decision cache"): keys, TTL bounds, the in-process L1, and deciding
// through a cache. An L2 (Redis) implements the same DecisionCache interface.
export { CachedDecider, type DecisionRequest, type DeciderOptions, type Evaluate } from "./decide.js";
export { decisionKey, keyText, NOISE_HEADERS, type InputPathList, type KeyParts } from "./key.js";
export { LruDecisionCache, type LruOptions } from "./lru.js";
export { policyRevision } from "./revision.js";
export { decisionTtlMs, isDecisionDocument, type TtlInputs } from "./ttl.js";
export {
  connectRedis,
  RedisDecisionCache,
  RedisTimeoutError,
  type RedisCacheOptions,
  type RedisCacheStats,
  type RedisClient,
  type RedisEndpoint,
} from "./redis.js";
export { InvalidationSubscriber, type InvalidationStats, type InvalidationTarget } from "./invalidation.js";
export {
  createTieredCache,
  TieredDecisionCache,
  type TieredCacheOptions,
  type TieredStats,
} from "./tiered.js";
export type {
  CachedDecision,
  DecisionBounds,
  DecisionCache,
  DecisionKeyMemo,
  DeciderStats,
} from "./types.js";
