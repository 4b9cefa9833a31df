// The verified-result cache: the in-process LRU, the Redis one through a real Redis (the shared one under
// a random prefix; an own redis-server for the fault tests), the two tiered, and the provider over them
// with real signed EARs and a real EarVerifier whose key lookups are counted (one lookup = one
// verification). Unreachable Redis: the Redis parts are skipped with a reason, except under CI=true.
import { createLocalJWKSet, type JWTVerifyGetKey } from "jose";
import { afterAll, describe, expect, it } from "vitest";
import type { CallerFacts } from "../../attestation/binding.js";
import type { VerifiedEar } from "../../attestation/ear/types.js";
import { EarVerifier } from "../../attestation/ear/verify.js";
import type { LoadedPrivateKey } from "../../attestation/keys.js";
import { AttestationStoreUnavailable, type AttestationRedisClient } from "../../attestation/nonce_redis.js";
import { EarAttestationProvider } from "../../attestation/provider.js";
import {
  isVerifiedEar,
  MemoryResultCache,
  presentedDigest,
  RedisResultCache,
  TieredResultCache,
  type ResultCacheKey,
} from "../../attestation/result_cache.js";
import { connectRedis } from "../../pdp/cache/index.js";
import {
  freePort,
  redisUnavailable,
  startRedis,
  stopRedis,
  TEST_REDIS_URL,
  testKeyPrefix,
} from "../helpers/redis.js";
import { draftClaims, jwksOf, newKey, now, signEarClaims } from "./helpers.js";

const unreachable = await redisUnavailable("Redis verified-result cache tests");

const PLANNER = "spiffe://demo.portcullis/agent/planner";
const OTHER = "spiffe://demo.portcullis/agent/other";
const planner: CallerFacts = { spiffeId: PLANNER };
const other: CallerFacts = { spiffeId: OTHER };

const signer: LoadedPrivateKey = newKey();
const clients: AttestationRedisClient[] = [];

afterAll(() => {
  for (const c of clients) c.disconnect();
});

async function client(url = TEST_REDIS_URL, timeoutMs = 200): Promise<AttestationRedisClient> {
  const c = connectRedis({ endpoint: url, timeoutMs });
  c.on("error", () => {});
  clients.push(c);
  if (c.status !== "ready") await new Promise((r) => c.once("ready", r));
  return c;
}

/** A real EarVerifier for `signer`, counting verifications (each one looks its key up once). */
function countingVerifier(o: { max_age_s?: number; name?: string } = {}) {
  const keys = createLocalJWKSet(jwksOf(signer) as Parameters<typeof createLocalJWKSet>[0]);
  const out = {
    verifications: 0,
    verifier: new EarVerifier({
      name: o.name ?? "reference",
      ...(o.max_age_s !== undefined ? { max_age_s: o.max_age_s } : {}),
      getKey: ((header, token) => {
        out.verifications++;
        return keys(header, token);
      }) as JWTVerifyGetKey,
    }),
  };
  return out;
}

async function passport(extra: Record<string, unknown> = {}): Promise<string> {
  return signEarClaims(signer, draftClaims(extra));
}

async function verified(extra: Record<string, unknown> = {}, max_age_s?: number): Promise<VerifiedEar> {
  return countingVerifier({ ...(max_age_s !== undefined ? { max_age_s } : {}) }).verifier.verify(
    await passport(extra),
  );
}

function keyFor(
  workload: string,
  token: string,
  model: ResultCacheKey["model"] = "passport",
): ResultCacheKey {
  return { workload, model, digest: presentedDigest(token) };
}

describe("MemoryResultCache", () => {
  it("answers only for the same workload, model and digest", async () => {
    const c = new MemoryResultCache();
    const ear = await verified();
    const k = keyFor(PLANNER, "t1");
    await c.set(k, ear);
    expect(await c.get(k)).toBe(ear);
    expect(await c.get({ ...k, workload: OTHER })).toBeUndefined();
    expect(await c.get({ ...k, model: "background-check" })).toBeUndefined();
    expect(await c.get(keyFor(PLANNER, "t2"))).toBeUndefined();
    expect(c.stats()).toMatchObject({ hits: 1, misses: 3, stored: 1 });
  });

  it("drops an entry once its result stops being valid, and never stores a spent one", async () => {
    let t = Date.now();
    const c = new MemoryResultCache({ now: () => t });
    const ear = await verified();
    const k = keyFor(PLANNER, "t");
    await c.set(k, ear);
    t = ear.validUntil * 1000;
    expect(await c.get(k)).toBeUndefined();
    expect(c.stats().rejected).toBe(1);
    await c.set(keyFor(PLANNER, "late"), ear);
    expect(c.size).toBe(0);
  });
});

it("isVerifiedEar accepts a verified result and refuses anything half-formed", async () => {
  const ear = await verified();
  expect(isVerifiedEar(JSON.parse(JSON.stringify(ear)))).toBe(true);
  const broken: unknown[] = [
    null,
    { ...ear, status: "superb" },
    { ...ear, validUntil: "soon" },
    { ...ear, nonces: [1] },
    { ...ear, verifierId: { developer: "x" } },
    { ...ear, claims: [] },
    { ...ear, trustVector: { executables: { tier: "great", value: 2 } } },
    { ...ear, submods: { w: { ...Object.values(ear.submods)[0]!, policy_ids: "p" } } },
  ];
  for (const b of broken) expect(isVerifiedEar(b)).toBe(false);
});

describe.skipIf(unreachable !== undefined)("RedisResultCache", () => {
  async function replicas(o: { max_ttl_s?: number; now?: () => number } = {}) {
    const key_prefix = testKeyPrefix();
    const mk = async () => new RedisResultCache({ client: await client(), key_prefix, ...o });
    return { a: await mk(), b: await mk(), key_prefix };
  }

  it("a result stored by one replica is read back whole by another, until the result's own end", async () => {
    const { a, b } = await replicas();
    const ear = await verified({ exp: now() + 120 });
    const k = keyFor(PLANNER, "token");
    await a.set(k, ear);
    expect(await b.get(k)).toEqual(ear);
    const ttl = await clients.at(-1)!.pttl(a.keyOf(k));
    expect(ttl).toBeGreaterThan(100_000);
    expect(ttl).toBeLessThanOrEqual(ear.validUntil * 1000 - Date.now() + 50);
    expect(b.stats()).toMatchObject({ hits: 1, errors: 0 });
  });

  it("keeps an entry no longer than max_ttl_s, whatever the result's exp allows", async () => {
    const { a } = await replicas({ max_ttl_s: 30 });
    const ear = await verified({ exp: now() + 3600 }, 3600);
    expect(ear.validUntil).toBeGreaterThan(now() + 3000);
    const k = keyFor(PLANNER, "long");
    await a.set(k, ear);
    expect(await clients.at(-1)!.pttl(a.keyOf(k))).toBeLessThanOrEqual(30_000);
  });

  it("never answers for another workload, even when its entry is copied under this workload's key", async () => {
    const { a, b } = await replicas();
    const ear = await verified();
    const mine = keyFor(PLANNER, "token");
    const theirs = keyFor(OTHER, "token");
    await a.set(mine, ear);
    expect(a.keyOf(mine)).not.toBe(a.keyOf(theirs));
    expect(await b.get(theirs)).toBeUndefined();
    const r = clients.at(-1)!;
    await r.set(b.keyOf(theirs), (await r.get(a.keyOf(mine)))!);
    expect(await b.get(theirs)).toBeUndefined();
    expect(b.stats().rejected).toBe(1);
    // Nor under another model or digest.
    await r.set(b.keyOf({ ...mine, model: "background-check" }), (await r.get(a.keyOf(mine)))!);
    expect(await b.get({ ...mine, model: "background-check" })).toBeUndefined();
    expect(await b.get(mine)).toEqual(ear);
  });

  it("refuses unreadable entries and ones past their validity by this replica's clock", async () => {
    let t = Date.now();
    const { a, b } = await replicas({ now: () => t });
    const ear = await verified();
    const k = keyFor(PLANNER, "token");
    const r = clients.at(-1)!;
    await r.set(a.keyOf(k), "{not json", "PX", 10_000);
    expect(await b.get(k)).toBeUndefined();
    await r.set(
      a.keyOf(k),
      JSON.stringify({ w: PLANNER, m: "passport", d: k.digest, r: { ...ear, status: "superb" } }),
      "PX",
      10_000,
    );
    expect(await b.get(k)).toBeUndefined();
    await a.set(k, ear);
    expect(await b.get(k)).toEqual(ear);
    t = ear.validUntil * 1000 + 1;
    expect(await b.get(k)).toBeUndefined();
    expect(b.stats()).toMatchObject({ hits: 1, rejected: 3 });
  });

  it("Redis killed: get and set reject fast and are counted", async () => {
    const port = await freePort();
    const server = await startRedis(port);
    try {
      const c = new RedisResultCache({
        client: await client(`redis://127.0.0.1:${port}`, 100),
        key_prefix: testKeyPrefix(),
      });
      const ear = await verified();
      await c.set(keyFor(PLANNER, "t"), ear);
      await stopRedis(server);
      const t0 = Date.now();
      await expect(c.get(keyFor(PLANNER, "t"))).rejects.toBeInstanceOf(AttestationStoreUnavailable);
      await expect(c.set(keyFor(PLANNER, "u"), ear)).rejects.toBeInstanceOf(AttestationStoreUnavailable);
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(c.stats()).toMatchObject({ errors: 2, stored: 1 });
    } finally {
      await stopRedis(server);
    }
  });
});

describe.skipIf(unreachable !== undefined)("TieredResultCache", () => {
  it("copies a Redis hit into the L1; the L1 keeps serving while Redis is away", async () => {
    const port = await freePort();
    const server = await startRedis(port);
    try {
      const url = `redis://127.0.0.1:${port}`;
      const key_prefix = testKeyPrefix();
      const mk = async () =>
        new TieredResultCache(
          new MemoryResultCache(),
          new RedisResultCache({ client: await client(url, 100), key_prefix }),
        );
      const [a, b] = [await mk(), await mk()];
      const ear = await verified();
      const k = keyFor(PLANNER, "t");
      await a.set(k, ear);
      expect(await b.get(k)).toEqual(ear); // from Redis
      expect(await b.get(k)).toEqual(ear); // from its L1
      expect(b.stats()).toMatchObject({ l2Hits: 1, hits: 2, l2: { hits: 1 } });
      await stopRedis(server);
      expect(await b.get(k)).toEqual(ear);
      await expect(b.get(keyFor(PLANNER, "other"))).rejects.toBeInstanceOf(AttestationStoreUnavailable);
      expect(b.stats().errors).toBe(1);
    } finally {
      await stopRedis(server);
    }
  });
});

describe.skipIf(unreachable !== undefined)("the provider over a Redis result cache", () => {
  it("verifies a passport once for two replicas, and binds it to the caller on each", async () => {
    const key_prefix = testKeyPrefix();
    const replica = async () => {
      const v = countingVerifier();
      const results = new RedisResultCache({ client: await client(), key_prefix });
      return { v, p: new EarAttestationProvider({ verifiers: [v.verifier], results }) };
    };
    const [a, b] = [await replica(), await replica()];
    const token = await passport();
    expect((await a.p.appraise({ caller: planner, result: token })).status).toBe("affirming");
    expect((await b.p.appraise({ caller: planner, result: token })).status).toBe("affirming");
    expect([a.v.verifications, b.v.verifications]).toEqual([1, 0]);
    // Another workload presenting it is not served the planner's entry: verified for itself, and unbound.
    const stolen = await b.p.appraise({ caller: other, result: token });
    expect(stolen).toMatchObject({ status: "none" });
    expect(stolen.reason).toContain("another workload");
    expect(b.v.verifications).toBe(1);
  });

  it("ignores a cached entry signed by a verifier it does not trust", async () => {
    const key_prefix = testKeyPrefix();
    const results = new RedisResultCache({ client: await client(), key_prefix });
    const token = await passport();
    const foreign = { ...(await verified()), verifier: "someone-else" };
    await results.set(keyFor(PLANNER, token), foreign);
    const v = countingVerifier();
    const p = new EarAttestationProvider({ verifiers: [v.verifier], results });
    expect(await p.appraise({ caller: planner, result: token })).toMatchObject({
      status: "affirming",
      verifier: "reference",
    });
    expect(v.verifications).toBe(1);
  });

  it("Redis down: every request is verified again, nothing unverified gets through, failures are counted", async () => {
    const port = await freePort();
    const server = await startRedis(port);
    try {
      const results = new RedisResultCache({
        client: await client(`redis://127.0.0.1:${port}`, 100),
        key_prefix: testKeyPrefix(),
      });
      const v = countingVerifier();
      const failures: string[] = [];
      const p = new EarAttestationProvider({
        verifiers: [v.verifier],
        results,
        onStoreError: (store) => failures.push(store),
      });
      const token = await passport();
      expect((await p.appraise({ caller: planner, result: token })).status).toBe("affirming");
      await stopRedis(server);
      for (let i = 0; i < 3; i++) {
        expect((await p.appraise({ caller: planner, result: token })).status).toBe("affirming");
      }
      expect(v.verifications).toBe(4);
      const forged = await signEarClaims(newKey(), draftClaims());
      expect((await p.appraise({ caller: planner, result: forged })).status).toBe("none");
      const expired = await passport({ iat: now() - 100, exp: now() - 60 });
      expect((await p.appraise({ caller: planner, result: expired })).status).toBe("none");
      expect(results.stats().errors).toBeGreaterThanOrEqual(6);
      expect(failures.length).toBe(results.stats().errors);
      expect(new Set(failures)).toEqual(new Set(["results"]));
    } finally {
      await stopRedis(server);
    }
  });
});
