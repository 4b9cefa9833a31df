// The Redis nonce store through a real Redis: the shared one (PORTCULLIS_TEST_REDIS_URL, random key
// prefix) for the semantics, with two clients standing for two gateway replicas, and an own
// redis-server that the fault tests kill and stop. Unreachable Redis: skipped with a reason, except
// under CI=true.
import { afterAll, describe, expect, it } from "vitest";
import { nonceBytes } from "../../attestation/nonce.js";
import {
  AttestationStoreUnavailable,
  RedisNonceStore,
  type AttestationRedisClient,
} from "../../attestation/nonce_redis.js";
import { connectRedis } from "../../pdp/cache/index.js";
import {
  freePort,
  redisUnavailable,
  startRedis,
  stopRedis,
  TEST_REDIS_URL,
  testKeyPrefix,
} from "../helpers/redis.js";

const unreachable = await redisUnavailable("Redis nonce store tests");

const A = "spiffe://td/agent/a";
const B = "spiffe://td/agent/b";

const clients: AttestationRedisClient[] = [];

/** A request-path client as the gateway builds it (no offline queue, command timeout). */
function client(url = TEST_REDIS_URL, timeoutMs = 200): AttestationRedisClient {
  const c = connectRedis({ endpoint: url, timeoutMs });
  c.on("error", () => {});
  clients.push(c);
  return c;
}

/** Resolves once `c` can take commands (without an offline queue, earlier ones fail at once). */
async function ready(c: AttestationRedisClient): Promise<void> {
  if (c.status === "ready") return;
  await new Promise((r) => c.once("ready", r));
}

afterAll(() => {
  for (const c of clients) c.disconnect();
});

/** Two stores over two connections sharing one prefix: replica A and replica B. */
async function replicas(o: { ttl_s?: number; now?: () => number } = {}) {
  const key_prefix = testKeyPrefix();
  const mk = async () => {
    const c = client();
    await ready(c);
    return new RedisNonceStore({ client: c, key_prefix, timeout_ms: 500, ...o });
  };
  return { a: await mk(), b: await mk(), key_prefix };
}

describe.skipIf(unreachable !== undefined)("RedisNonceStore", () => {
  it("a nonce issued by one replica is accepted once at another; the replay is refused everywhere", async () => {
    const { a, b } = await replicas();
    const { nonce, expires_at } = await a.issue(A);
    expect(nonceBytes(nonce)!.length).toBe(32);
    expect(expires_at).toBeGreaterThan(Date.now() / 1000 + 100);
    expect(await b.consume(nonce, A)).toEqual({ ok: true });
    expect(await a.consume(nonce, A)).toEqual({ ok: false, reason: "replayed" });
    expect(await b.consume(nonce, A)).toEqual({ ok: false, reason: "replayed" });
    expect(a.stats()).toMatchObject({ issued: 1, consumed: 0, refused: { replayed: 1 }, errors: 0 });
    expect(b.stats()).toMatchObject({ consumed: 1, refused: { replayed: 1 } });
  });

  it("exactly one of many racing consumers across two connections wins", async () => {
    const { a, b } = await replicas();
    for (let round = 0; round < 5; round++) {
      const { nonce } = await a.issue(A);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).consume(nonce, A)),
      );
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok && r.reason === "replayed")).toHaveLength(19);
    }
  });

  it("accepts the standard base64 spelling of a nonce, still only once in total", async () => {
    const { a, b } = await replicas();
    const { nonce } = await a.issue();
    expect(await b.consume(nonceBytes(nonce)!.toString("base64"))).toEqual({ ok: true });
    expect(await a.consume(nonce)).toEqual({ ok: false, reason: "replayed" });
  });

  it("refuses nonces it never issued (from another prefix too) and malformed ones", async () => {
    const { a } = await replicas();
    const other = await replicas();
    const { nonce } = await other.a.issue();
    expect(await a.consume(nonce)).toEqual({ ok: false, reason: "unknown" });
    expect(await a.consume(Buffer.alloc(32, 1).toString("base64url"))).toEqual({
      ok: false,
      reason: "unknown",
    });
    expect(await a.consume("not base64!")).toEqual({ ok: false, reason: "unknown" });
    expect(await a.consume("")).toEqual({ ok: false, reason: "unknown" });
    // The other namespace's nonce was not touched.
    expect(await other.b.consume(nonce)).toEqual({ ok: true });
  });

  it("binds a nonce to its subject without spending it on a wrong or missing caller", async () => {
    const { a, b } = await replicas();
    const { nonce } = await a.issue(A);
    expect(await b.consume(nonce, B)).toEqual({ ok: false, reason: "wrong_subject" });
    expect(await b.consume(nonce)).toEqual({ ok: false, reason: "wrong_subject" });
    // A subject that merely starts like the right one is another subject.
    expect(await b.consume(nonce, `${A}/x`)).toEqual({ ok: false, reason: "wrong_subject" });
    expect(await b.consume(nonce, A)).toEqual({ ok: true });
    // A nonce issued without a subject may be consumed by anyone, once.
    const open = await a.issue();
    expect(await b.consume(open.nonce, B)).toEqual({ ok: true });
  });

  it("refuses an expired nonce by the consumer's clock, as expired (not unknown), used or not", async () => {
    let t = Date.now();
    const { a, b } = await replicas({ ttl_s: 60, now: () => t });
    const fresh = await a.issue(A);
    const used = await a.issue(A);
    expect(await b.consume(used.nonce, A)).toEqual({ ok: true });
    t += 60_001;
    expect(await b.consume(fresh.nonce, A)).toEqual({ ok: false, reason: "expired" });
    expect(await b.consume(used.nonce, A)).toEqual({ ok: false, reason: "expired" });
  });

  it("keeps a nonce's key for two lifetimes, then Redis forgets it", async () => {
    const { a, b, key_prefix } = await replicas({ ttl_s: 1 });
    const { nonce } = await a.issue(A);
    const ttl = await clients.at(-1)!.pttl(`${key_prefix}${nonce}`);
    expect(ttl).toBeGreaterThan(1000);
    expect(ttl).toBeLessThanOrEqual(2000);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await b.consume(nonce, A)).toEqual({ ok: false, reason: "expired" });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await b.consume(nonce, A)).toEqual({ ok: false, reason: "unknown" });
  });

  it("refuses bad options", () => {
    const c = client();
    expect(() => new RedisNonceStore({ client: c, key_prefix: "x:", bytes: 4 })).toThrow(/8 to 64/);
    expect(() => new RedisNonceStore({ client: c, key_prefix: "x:", ttl_s: 0 })).toThrow(/at least 1/);
  });
});

describe.skipIf(unreachable !== undefined)("RedisNonceStore when Redis fails", () => {
  it("killed, stopped and restarted Redis: issue and consume reject fast, never accept, then work again", async () => {
    const port = await freePort();
    let server = await startRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    try {
      const c = client(url, 100);
      await ready(c);
      const store = new RedisNonceStore({ client: c, key_prefix: testKeyPrefix() });
      const { nonce } = await store.issue(A);

      await stopRedis(server);
      for (const op of [() => store.issue(A), () => store.consume(nonce, A)]) {
        const t0 = Date.now();
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(AttestationStoreUnavailable);
        expect(Date.now() - t0).toBeLessThan(1000);
      }

      server = await startRedis(port);
      // The restarted server lost the nonce (no persistence): unknown, never accepted.
      await expect
        .poll(() => store.consume(nonce, A).catch((e: unknown) => e), { timeout: 5000, interval: 100 })
        .toEqual({ ok: false, reason: "unknown" });
      await ready(c);
      const again = await store.issue(A);

      // Stalled (SIGSTOP): the connection is up but nothing answers; the timeout ends the wait.
      server.kill("SIGSTOP");
      const t0 = Date.now();
      const err = await store.consume(again.nonce, A).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AttestationStoreUnavailable);
      expect((err as AttestationStoreUnavailable).timeout).toBe(true);
      expect(Date.now() - t0).toBeLessThan(1000);
      server.kill("SIGCONT");
      // The script the timed-out call sent still ran once Redis woke: the nonce is spent, so the agent needs
      // a new one. Late is never twice: it is not accepted now either.
      await expect
        .poll(() => store.consume(again.nonce, A).catch((e: unknown) => e), { timeout: 5000, interval: 100 })
        .toEqual({ ok: false, reason: "replayed" });
      const s = store.stats();
      expect(s.errors).toBeGreaterThanOrEqual(3);
      expect(s.timeouts).toBeGreaterThanOrEqual(1);
    } finally {
      await stopRedis(server);
    }
  });
});
