// Single-use identifiers (DPoP proof `jti`, RFC 9449 §11.1) remembered for as long as the artefact
// carrying them could still be accepted. In-process: a deployment of several replicas behind one
// balancer shares nothing, which is why the acceptance window is kept short.

export class ReplayCacheFull extends Error {
  override name = "ReplayCacheFull";
}

export class ReplayCache {
  /** Key → expiry (ms). Insertion order is close to expiry order, so the sweep looks at the head only. */
  private readonly seen = new Map<string, number>();
  private lastFullSweepMs = -Infinity;

  constructor(private readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new Error("replay cache size must be a positive integer");
    }
  }

  /**
   * Records `key` until `expiresAtMs`; `false` when it was already recorded (a replay). When the cache is
   * full of identifiers that are all still live, it throws rather than forget one: forgetting would let
   * that identifier be replayed, and the caller fails closed instead.
   */
  use(key: string, expiresAtMs: number, nowMs: number): boolean {
    const known = this.seen.get(key);
    if (known !== undefined && known > nowMs) return false;
    if (known !== undefined) this.seen.delete(key);
    this.sweep(nowMs);
    if (this.seen.size >= this.maxEntries) this.sweepAll(nowMs);
    if (this.seen.size >= this.maxEntries) throw new ReplayCacheFull("replay cache full");
    this.seen.set(key, expiresAtMs);
    return true;
  }

  /** Whether `key` is recorded and live, without recording it. */
  has(key: string, nowMs: number): boolean {
    const known = this.seen.get(key);
    return known !== undefined && known > nowMs;
  }

  get size(): number {
    return this.seen.size;
  }

  /** Drops expired entries from the head; stops at the first live one, so each call is cheap. */
  private sweep(nowMs: number): void {
    for (const [k, exp] of this.seen) {
      if (exp > nowMs) return;
      this.seen.delete(k);
    }
  }

  /**
   * Only when full: a live entry at the head may hide expired ones behind it. At most once a second, so a
   * full cache does not turn every request into a walk over all of it.
   */
  private sweepAll(nowMs: number): void {
    if (nowMs - this.lastFullSweepMs < 1000) return;
    this.lastFullSweepMs = nowMs;
    for (const [k, exp] of this.seen) if (exp <= nowMs) this.seen.delete(k);
  }
}
