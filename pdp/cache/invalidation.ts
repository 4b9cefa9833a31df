// Invalidations over Redis pub/sub: a revocation on one replica reaches every replica's L1. Messages are
// JSON on the cache's channel: `{"subject":"…"}` drops one subject's entries, `{"all":true}` everything.
// Pub/sub delivers at most once and only while connected, so after a lost connection the L1 is cleared:
// an invalidation sent meanwhile would otherwise be missed until the entries' TTL.
import type { RedisClient } from "./redis.js";

export interface InvalidationTarget {
  dropSubject(subject: string): void;
  dropAll(): void;
}

export interface InvalidationStats {
  /** Messages received and applied. */
  received: number;
  /** Messages that were not an invalidation (ignored). */
  malformed: number;
  /** Times the L1 was cleared because the subscription had been down. */
  resyncs: number;
}

export class InvalidationSubscriber {
  readonly stats: InvalidationStats = { received: 0, malformed: 0, resyncs: 0 };
  /** Resolves once the first SUBSCRIBE is acknowledged (never rejects: Redis may come up later). */
  readonly subscribed: Promise<void>;
  private lost = false;
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    private readonly channel: string,
    private readonly target: InvalidationTarget,
  ) {
    client.on("message", (ch: string, text: string) => {
      if (ch === this.channel) this.apply(text);
    });
    // The request path stays quiet while Redis is away; connection errors are expected then.
    client.on("error", () => {});
    client.on("close", () => {
      this.lost = true;
    });
    // ioredis resubscribes on reconnect (autoResubscribe); what was published while away is gone.
    client.on("ready", () => {
      if (!this.lost || this.closed) return;
      this.lost = false;
      this.stats.resyncs++;
      this.target.dropAll();
    });
    this.subscribed = client.subscribe(channel).then(
      () => {
        // Subscribed now: anything missed before this point was before the first connection.
        this.lost = false;
      },
      () => {},
    );
  }

  private apply(text: string): void {
    let m: unknown;
    try {
      m = JSON.parse(text);
    } catch {
      this.stats.malformed++;
      return;
    }
    const msg = m as { subject?: unknown; all?: unknown } | null;
    if (msg !== null && typeof msg === "object" && msg.all === true) {
      this.target.dropAll();
    } else if (msg !== null && typeof msg === "object" && typeof msg.subject === "string") {
      this.target.dropSubject(msg.subject);
    } else {
      this.stats.malformed++;
      return;
    }
    this.stats.received++;
  }

  close(): void {
    this.closed = true;
    this.client.disconnect();
  }
}
