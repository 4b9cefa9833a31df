// The Redis L2 and the tiered cache against a real Redis (PORTCULLIS_TEST_REDIS_URL, default
// redis://127.0.0.1:6379), every test under its own random key prefix. Unreachable Redis: the suite is
// skipped with a one-line reason, except under CI=true, where that is a failure.
import { createServer } from "node:net";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import {
  connectRedis,
  LruDecisionCache,
  RedisDecisionCache,
  TieredDecisionCache,
  createTieredCache,
  type RedisClient,
} from "../../../pdp/cache/index.js";
import {
  freePort,
  redisUnavailable,
  startRedis,
  stopRedis,
  TEST_REDIS_URL,
  testKeyPrefix,
} from "../../helpers/redis.js";

const URL = TEST_REDIS_URL;

const unreachable = await redisUnavailable("Redis decision-cache tests");

const open: { close(): unknown }[] = [];
afterAll(async () => {
  for (const c of open.reverse()) await c.close();
});

const prefix = testKeyPrefix;
const entry = (value: unknown, ttlMs: number) => ({ value, expiresAtMs: Date.now() + ttlMs });

function client(url = URL): RedisClient {
  const c = connectRedis({ endpoint: url, timeoutMs: 200 });
  c.on("error", () => {});
  open.push({ close: () => c.disconnect() });
  return c;
}

async function ready(c: RedisClient): Promise<void> {
  if (c.status === "ready") return;
  await new Promise<void>((r) => c.once("ready", () => r()));
}

/** Polls `f` until it is true, for at most `ms`. */
async function until(f: () => boolean | Promise<boolean>, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return f();
}

describe.skipIf(unreachable !== undefined)("Redis L2 decision cache", () => {
  it("stores the decision under the key with PX no longer than the TTL, and its subject index outlives it", async () => {
    const c = client();
    await ready(c);
    const p = prefix();
    const l2 = new RedisDecisionCache({ client: c, keyPrefix: p, timeoutMs: 200 });
    await l2.set("pd1:a", entry({ allow: true, reasons: ["x"] }, 5000), ["alice", "spiffe://d/w"]);
    await l2.set("pd1:b", entry({ allow: false }, 20_000), ["alice"]);
    const pttl = await c.pttl(`${p}d:pd1:a`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5000);
    // The index lives at least as long as the longest entry it names.
    expect(await c.pttl(`${p}s:alice`)).toBeGreaterThanOrEqual((await c.pttl(`${p}d:pd1:b`)) - 50);
    expect((await c.smembers(`${p}s:alice`)).sort()).toEqual([`${p}d:pd1:a`, `${p}d:pd1:b`]);
    const hit = await l2.get("pd1:a", Date.now());
    expect(hit?.value).toEqual({ allow: true, reasons: ["x"] });
    expect(Object.isFrozen(hit?.value)).toBe(true);
    // The caller's clock past the entry's end: never returned, whatever Redis still holds.
    expect(await l2.get("pd1:a", Date.now() + 5001)).toBeUndefined();
    expect(await l2.get("pd1:none", Date.now())).toBeUndefined();
    expect(l2.stats()).toMatchObject({ hits: 1, misses: 2, stored: 2, errors: 0 });
    // An entry whose end has passed is not written at all.
    await l2.set("pd1:late", { value: true, expiresAtMs: Date.now() - 1 }, ["alice"]);
    expect(await c.exists(`${p}d:pd1:late`)).toBe(0);
  });

  it("revoking a subject deletes its entries and index in Redis and publishes the invalidation", async () => {
    const c = client();
    await ready(c);
    const p = prefix();
    const l2 = new RedisDecisionCache({ client: c, keyPrefix: p, timeoutMs: 200 });
    const sub = new Redis(URL);
    open.push({ close: () => sub.disconnect() });
    const messages: string[] = [];
    sub.on("message", (_ch: string, m: string) => messages.push(m));
    await sub.subscribe(l2.channel);
    await l2.set("pd1:a", entry(true, 5000), ["alice"]);
    await l2.set("pd1:b", entry(true, 5000), ["alice", "bob"]);
    await l2.set("pd1:c", entry(true, 5000), ["bob"]);
    expect(await l2.deleteSubject("alice")).toBe(2);
    expect(await c.exists(`${p}d:pd1:a`, `${p}d:pd1:b`, `${p}s:alice`)).toBe(0);
    expect(await l2.get("pd1:c", Date.now())).toBeDefined();
    expect(await until(() => messages.length === 1)).toBe(true);
    expect(JSON.parse(messages[0]!)).toEqual({ subject: "alice" });
    expect(l2.stats().revoked).toBe(2);
    await l2.clear();
    expect(await c.keys(`${p}*`)).toEqual([]);
  });

  it("tiered: an L2 hit fills the L1, and another replica's revocation reaches this L1", async () => {
    const p = prefix();
    const a = createTieredCache({ endpoint: URL, maxEntries: 100, keyPrefix: p, timeoutMs: 200 });
    const b = createTieredCache({ endpoint: URL, maxEntries: 100, keyPrefix: p, timeoutMs: 200 });
    open.push(a, b);
    await ready(a.l2.client);
    await Promise.all([a.subscriber!.subscribed, b.subscriber!.subscribed]);
    await a.set("pd1:k", entry({ allow: true }, 5000), ["alice"]);
    // B has nothing in its L1: the answer comes from Redis (a promise), then from its L1 (synchronously).
    const first = b.get("pd1:k", Date.now());
    expect(first).toBeInstanceOf(Promise);
    expect((await first)?.value).toEqual({ allow: true });
    const second = b.get("pd1:k", Date.now());
    expect(second).not.toBeInstanceOf(Promise);
    expect(b.stats()).toMatchObject({ l1Entries: 1, l2Hits: 1 });
    // A revokes: gone from A's L1 at once, from Redis, and (pub/sub) from B's L1.
    expect(await a.deleteSubject("alice")).toBe(1);
    expect(await until(() => b.l1.size === 0)).toBe(true);
    expect(await b.get("pd1:k", Date.now())).toBeUndefined();
    expect(b.stats().invalidations.received).toBe(1);
  });

  it("a malformed invalidation message is ignored and counted", async () => {
    const p = prefix();
    const t = createTieredCache({ endpoint: URL, maxEntries: 10, keyPrefix: p, timeoutMs: 200 });
    open.push(t);
    await t.subscriber!.subscribed;
    t.l1.set("pd1:x", entry(true, 5000), ["alice"]);
    const c = client();
    await ready(c);
    await c.publish(t.l2.channel, "not json");
    await c.publish(t.l2.channel, JSON.stringify({ subject: 7 }));
    expect(await until(() => t.stats().invalidations.malformed === 2)).toBe(true);
    expect(t.l1.size).toBe(1);
  });

  it("a Redis that accepts connections but never answers: every call fails within its bound and is counted", async () => {
    // A real socket that swallows everything: ioredis connects, nothing ever comes back.
    const sockets: import("node:net").Socket[] = [];
    const hole = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => hole.listen(0, "127.0.0.1", r));
    open.push({
      close: () => {
        for (const s of sockets) s.destroy();
        return new Promise((r) => hole.close(r));
      },
    });
    const port = (hole.address() as import("node:net").AddressInfo).port;
    const l2 = new RedisDecisionCache({ client: client(`redis://127.0.0.1:${port}`), timeoutMs: 30 });
    const t = new TieredDecisionCache(new LruDecisionCache({ maxEntries: 10 }), l2);
    const started = Date.now();
    await expect(t.get("pd1:k", Date.now())).rejects.toThrow();
    await expect(t.set("pd1:k", entry(true, 5000), ["alice"])).rejects.toThrow();
    // The L1 still took the entry: this replica keeps its own cache while Redis is away.
    expect(t.get("pd1:k", Date.now())).toMatchObject({ value: true });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(l2.stats().errors).toBe(2);
    await expect(t.deleteSubject("alice")).rejects.toThrow();
    expect(t.l1.size).toBe(0);
  });

  it("a Redis that is killed and restarted on the same port: misses while down, used again after", async () => {
    const port = await freePort();
    let server = await startRedis(port);
    const l2 = new RedisDecisionCache({ client: client(`redis://127.0.0.1:${port}`), timeoutMs: 100 });
    await ready(l2.client);
    await l2.set("pd1:k", entry(true, 10_000), ["alice"]);
    expect(await l2.get("pd1:k", Date.now())).toBeDefined();
    await stopRedis(server);
    await expect(l2.get("pd1:k", Date.now())).rejects.toThrow();
    expect(l2.stats().errors).toBeGreaterThanOrEqual(1);
    server = await startRedis(port);
    open.push({ close: () => stopRedis(server) });
    // A fresh server (no persistence): the entry is gone, but the cache works again once reconnected.
    expect(
      await until(async () => (await l2.get("pd1:k", Date.now()).catch(() => "err")) === undefined, 5000),
    ).toBe(true);
    await l2.set("pd1:k", entry(false, 10_000), ["alice"]);
    expect((await l2.get("pd1:k", Date.now()))?.value).toBe(false);
  });
});
