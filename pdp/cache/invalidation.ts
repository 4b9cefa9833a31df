// Invalidations over Redis pub/sub: a revocation on one replica reaches every replica's L1. Messages are
// JSON on the cache's channel: `{"subject":"…"}` drops one subject's entries, `{"all":true}` everything.
// Pub/sub delivers at most once and only while connected, so after a lost connection the L1 is cleared:
// an invalidation sent meanwhile would otherwise be missed until the entries' TTL.
//
// In a Cluster a PUBLISH reaches every node, so one connection to any node hears every message. ioredis's
// own Cluster subscriber moves to another node without any event when its node goes away, which would hide
// exactly the loss the resync is for; so a Cluster client here only tracks the topology, and the
// subscription is a connection of our own to one of its nodes, replaced by one to the next node when it
// gives up (see `openClusterConnection`).
import { Cluster, type Redis } from "ioredis";
import type { RedisClient } from "./redis.js";

/** Reconnects to the same Cluster node before moving on to the next one (ms before each attempt). */
const NODE_RETRIES_MS = [100, 200, 400];

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
  private firstSubscribed!: () => void;
  /** The connection holding the subscription (a Cluster node's, for a Cluster). */
  private connection: Redis | undefined;
  private nodeTurn = 0;
  private retry: NodeJS.Timeout | undefined;

  /**
   * `client` is a connection of its own (pub/sub takes it over): a Redis (standalone or Sentinel), which
   * reconnects and resubscribes by itself, or a Cluster, used to find the nodes.
   */
  constructor(
    private readonly client: RedisClient,
    private readonly channel: string,
    private readonly target: InvalidationTarget,
  ) {
    this.subscribed = new Promise((r) => (this.firstSubscribed = r));
    // The request path stays quiet while Redis is away; connection errors are expected then.
    client.on("error", () => {});
    if (client instanceof Cluster) {
      this.openClusterConnection(client);
    } else {
      this.connection = client;
      this.watch(client);
      this.subscribe(client);
    }
  }

  /** Loss and return of `conn`'s connection; ioredis resubscribes on reconnect (autoResubscribe). */
  private watch(conn: Redis): void {
    conn.on("message", (ch: string, text: string) => {
      if (ch === this.channel) this.apply(text);
    });
    conn.on("error", () => {});
    conn.on("close", () => {
      this.lost = true;
    });
    // What was published while away is gone: drop the whole L1.
    conn.on("ready", () => {
      if (!this.lost || this.closed) return;
      this.lost = false;
      this.stats.resyncs++;
      this.target.dropAll();
    });
  }

  private subscribe(conn: Redis): void {
    conn.subscribe(this.channel).then(
      () => {
        // Subscribed now: anything missed before this point was before the first connection.
        if (this.connection === conn) this.lost = false;
        this.firstSubscribed();
      },
      () => {},
    );
  }

  /**
   * Subscribes on one of the Cluster's nodes, taking them in turn. A connection reconnects to its node a
   * few times; when it gives up (the node is gone), the next node is used, and its first `ready` clears
   * the L1 like any reconnect.
   */
  private openClusterConnection(cluster: Cluster): void {
    if (this.closed) return;
    const nodes = cluster.nodes();
    if (nodes.length === 0) {
      // Before the Cluster's first topology answer, or while it has none.
      this.retry = setTimeout(() => this.openClusterConnection(cluster), 200);
      return;
    }
    const node = nodes[this.nodeTurn++ % nodes.length]!;
    // The node's own options (address, credentials, TLS), as a plain connection that waits for Redis.
    const conn = node.duplicate({
      lazyConnect: false,
      readOnly: false,
      enableOfflineQueue: true,
      commandTimeout: undefined,
      maxRetriesPerRequest: null,
      retryStrategy: (times: number) => NODE_RETRIES_MS[times - 1] ?? null,
    });
    this.connection = conn;
    this.watch(conn);
    conn.once("end", () => {
      if (this.connection !== conn || this.closed) return;
      this.lost = true;
      this.retry = setTimeout(() => this.openClusterConnection(cluster), 100);
    });
    this.subscribe(conn);
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
    clearTimeout(this.retry);
    if (this.connection !== this.client) this.connection?.disconnect();
    this.client.disconnect();
  }
}
