// L1: an in-process LRU (lru-cache: a hit is a few hundred ns, where a Map that re-inserts on every hit
// degrades badly on a hot key — ../shared/research/baselines.md) with a subject index for revocation.
// Expiry is checked against the caller's clock on every get, so a test or a replica with an injected clock
// sees the same bound the TTL was computed with.
import { LRUCache } from "lru-cache";
import type { CachedDecision, DecisionCache } from "./types.js";

interface Entry extends CachedDecision {
  readonly subjects: readonly string[];
}

export interface LruOptions {
  /** Entries kept at most (config `cache.max_entries`); the least recently used goes first. */
  maxEntries: number;
}

export class LruDecisionCache implements DecisionCache {
  private readonly lru: LRUCache<string, Entry>;
  /** subject → keys stored under it; maintained by `dispose`, so evictions leave nothing behind. */
  private readonly bySubject = new Map<string, Set<string>>();

  constructor(o: LruOptions) {
    if (!Number.isInteger(o.maxEntries) || o.maxEntries < 1) throw new RangeError("maxEntries must be ≥ 1");
    this.lru = new LRUCache<string, Entry>({
      max: o.maxEntries,
      dispose: (entry, key) => {
        for (const s of entry.subjects) {
          const keys = this.bySubject.get(s);
          if (keys === undefined) continue;
          keys.delete(key);
          if (keys.size === 0) this.bySubject.delete(s);
        }
      },
    });
  }

  get(key: string, nowMs: number): CachedDecision | undefined {
    const e = this.lru.get(key);
    if (e === undefined) return undefined;
    if (nowMs >= e.expiresAtMs) {
      this.lru.delete(key);
      return undefined;
    }
    return e;
  }

  set(key: string, entry: CachedDecision, subjects: readonly string[]): void {
    const stored: Entry = { value: entry.value, expiresAtMs: entry.expiresAtMs, subjects: [...subjects] };
    // Overwriting disposes the old entry (and its index entries) first; then the new subjects are indexed.
    this.lru.set(key, stored);
    if (!this.lru.has(key)) return;
    for (const s of stored.subjects) {
      let keys = this.bySubject.get(s);
      if (keys === undefined) this.bySubject.set(s, (keys = new Set()));
      keys.add(key);
    }
  }

  deleteSubject(subject: string): number {
    const keys = this.bySubject.get(subject);
    if (keys === undefined) return 0;
    let n = 0;
    for (const key of [...keys]) if (this.lru.delete(key)) n++;
    this.bySubject.delete(subject);
    return n;
  }

  clear(): void {
    this.lru.clear();
    this.bySubject.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  /** Subjects with at least one entry (for tests: the index must not outgrow the cache). */
  get indexedSubjects(): number {
    return this.bySubject.size;
  }
}
