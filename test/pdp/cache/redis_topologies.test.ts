// The Redis L2 decision cache against a real Sentinel group and a real three-master Cluster (own
// redis-server processes, test/helpers/redis_topologies.ts), built the way `portcullis serve` builds it:
// the YAML `cache:` section through the config loader, then startGateway(). Two gateway instances stand
// for two replicas sharing the L2; a counting wrapper around the real regoPdp shows which one evaluated.
// The instances have no listeners: the HTTP path over a shared cache is test/gateway/server/
// redis_cache.test.ts, and what differs between topologies is below the decider, which is the same.
// No redis-server: skipped with a reason, except under CI=true, where that is a failure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig, type Config } from "../../../gateway/config/index.js";
import { regoPdp, type CachedPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startGateway, type RunningGateway } from "../../../gateway/server/serve.js";
import type { RedisClient, TieredDecisionCache } from "../../../pdp/cache/index.js";
import { compile } from "../../../pdp/rego/index.js";
import { testKeyPrefix } from "../../helpers/redis.js";
import {
  redisServerMissing,
  startCluster,
  startSentinel,
  type ClusterTopology,
  type SentinelTopology,
} from "../../helpers/redis_topologies.js";

const missing = redisServerMissing("Redis Sentinel/Cluster decision-cache tests");

// Everyone but bob is allowed: a deny is cached and shared like an allow.
const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied"}
decision := {"allow": true} if input.user != "bob"
`;

const SEGMENT = `segments:
  - name: s
    listen: 127.0.0.1:0
    upstream: http://127.0.0.1:9
    tls: { cert: gw.pem, key: gw.key, client_ca: ca.pem }
    authentication: mtls
`;

interface Counting extends Pdp {
  evaluations: number;
}

function countingPdp(revision: string): Counting {
  const inner = regoPdp(
    compile({ modules: [{ file: "t.rego", source: POLICY }] }),
    "portcullis/authz/decision",
    { revision },
  );
  const c: Counting = {
    evaluations: 0,
    revision: inner.revision,
    entrypoint: inner.entrypoint,
    decide: (input, context) => {
      c.evaluations++;
      return inner.decide(input, context);
    },
  };
  return c;
}

interface Instance {
  gw: RunningGateway;
  cache: TieredDecisionCache;
  pdp: Counting;
  config: Config;
}

let dir: string;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-redis-topo-test-"));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A gateway instance whose cache comes from `cache: { redis: <endpoint> … }` in YAML, as serve loads it. */
async function instance(endpoint: string, keyPrefix: string, revision = "rev-1"): Promise<Instance> {
  const config = parseConfig(
    `pdp: { policies: ./p }
cache: { redis: ${endpoint}, key_prefix: '${keyPrefix}', timeout_ms: 250, ttl_s: 60, max_entries: 1000 }
${SEGMENT}`,
    join(dir, "gw.yaml"),
    { checkFiles: false },
  );
  const pdp = countingPdp(revision);
  const gw = await startGateway({ ...config, segments: [] }, pdp, () => undefined);
  closers.push(() => gw.close());
  const cache = gw.decisionCache!;
  await until(() => cache.l2.client.status === "ready", 10_000);
  await cache.subscriber!.subscribed;
  return { gw, cache, pdp, config };
}

/**
 * A decision through the instance's cached PDP, as enforce() asks for one. The decider does not wait for
 * its L2 write; on a miss this does (until it is stored or has failed), so the other instance's lookup
 * that follows is not a race with it.
 */
async function decide(i: Instance, user: string, expiresAt?: number): Promise<unknown> {
  const evaluations = i.pdp.evaluations;
  const writes = () => i.cache.l2.stats().stored + i.cache.l2.stats().errors;
  const before = writes();
  const v = await i.gw.pdp.decide(
    { user, path: "/ok" },
    { subjects: [user, "spiffe://t/shared"], ...(expiresAt !== undefined ? { expiresAt } : {}) },
  );
  if (i.pdp.evaluations > evaluations) await until(() => writes() > before, 2000);
  return v;
}

const ALLOW = { allow: true };
const DENY = { allow: false, status: 403, error: "access_denied" };
const isEqual = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

async function until(f: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return f();
}

/** Keys matching `pattern` on every master (one for Sentinel, each shard's for Cluster). */
async function keysByNode(c: RedisClient, pattern: string): Promise<string[][]> {
  const nodes = c instanceof Cluster ? c.nodes("master") : [c];
  return Promise.all(nodes.map(async (n) => (await n.keys(pattern)).sort()));
}

const allKeys = async (c: RedisClient, pattern: string) => (await keysByNode(c, pattern)).flat().sort();

/** Drops every pub/sub connection on the data nodes (what a node restart or a network blip does). */
async function killSubscribers(ports: readonly number[]): Promise<void> {
  for (const port of ports) {
    const admin = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on("error", () => {});
    try {
      await admin.client("KILL", "TYPE", "pubsub");
    } finally {
      admin.disconnect();
    }
  }
}

/**
 * The checks every topology must pass; `endpoint` is the YAML of `cache.redis`, `ports` the data nodes'
 * ports.
 */
function sharedCacheTests(
  endpoint: () => string,
  expected: () => Config["cache"]["redis"],
  ports: () => readonly number[],
) {
  it("the loader takes the endpoint; a decision made on one instance answers the other from Redis", async () => {
    const p = testKeyPrefix();
    const [a, b] = [await instance(endpoint(), p), await instance(endpoint(), p)];
    expect(a.config.cache.redis).toEqual(expected());
    expect(await decide(a, "alice")).toEqual(ALLOW); // miss: A evaluates, writes L1 and Redis
    expect(
      a.gw.pdp.decide({ user: "alice", path: "/ok" }, { subjects: ["alice", "spiffe://t/shared"] }),
    ).toEqual(ALLOW); // A's L1, synchronously
    expect(await decide(b, "alice")).toEqual(ALLOW); // B: from Redis
    expect(await decide(a, "bob")).toEqual(DENY);
    expect(await decide(b, "bob")).toEqual(DENY);
    expect([a.pdp.evaluations, b.pdp.evaluations]).toEqual([2, 0]);
    expect(b.cache.stats()).toMatchObject({ l2Hits: 2, l1Entries: 2 });
    expect(a.cache.stats().l2).toMatchObject({ stored: 2, errors: 0 });
    expect((b.gw.pdp as CachedPdp).stats).toMatchObject({ hits: 2, misses: 0, errors: 0 });
  });

  it("an entry's PX is its TTL, the subject index outlives it, and Redis drops both at the end", async () => {
    const p = testKeyPrefix();
    const [a, b] = [await instance(endpoint(), p), await instance(endpoint(), p)];
    // The credential behind the request expires in about 1–2 s: that bounds the entry.
    const exp = Math.floor(Date.now() / 1000) + 2;
    expect(await decide(a, "carol", exp)).toEqual(ALLOW);
    const c = a.cache.l2.client;
    const entries = await allKeys(c, `${p}d:*`);
    expect(entries).toHaveLength(1);
    const pttl = await c.pttl(entries[0]!);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(exp * 1000 - Date.now() + 50);
    for (const s of ["carol", "spiffe://t/shared"]) {
      expect(await c.smembers(`${p}s:${s}`)).toEqual(entries);
      expect(await c.pttl(`${p}s:${s}`)).toBeGreaterThanOrEqual(pttl - 50);
    }
    expect(await decide(b, "carol", exp)).toEqual(ALLOW);
    expect(b.pdp.evaluations).toBe(0);
    // Redis's own expiry removes the entry and its index, without any call of ours.
    expect(await until(async () => (await allKeys(c, `${p}*`)).length === 0, 4000)).toBe(true);
  });

  it("entries and indexes spread over the shards: revoking a subject finds all of them (no CROSSSLOT)", async () => {
    const p = testKeyPrefix();
    const [a, b] = [await instance(endpoint(), p), await instance(endpoint(), p)];
    const users = Array.from({ length: 24 }, (_, i) => `u${i}`);
    for (const u of users) expect(await decide(a, u)).toEqual(ALLOW);
    for (const u of users.slice(0, 6)) expect(await decide(b, u)).toEqual(ALLOW);
    expect(b.pdp.evaluations).toBe(0);
    expect(b.cache.l1.size).toBe(6);
    const perNode = await keysByNode(a.cache.l2.client, `${p}*`);
    // 24 entries + 25 indexes; on a Cluster they land on more than one master.
    expect(perNode.flat()).toHaveLength(49);
    if (a.cache.l2.client instanceof Cluster) {
      expect(perNode.filter((k) => k.length > 0).length).toBeGreaterThan(1);
    }
    expect(await a.gw.revokeSubject("spiffe://t/shared")).toBe(24);
    // The entries are gone from every shard; only the per-user indexes (now naming deleted keys) stay.
    expect(await allKeys(a.cache.l2.client, `${p}d:*`)).toEqual([]);
    expect(await allKeys(a.cache.l2.client, `${p}s:spiffe*`)).toEqual([]);
    expect(await until(() => b.cache.l1.size === 0)).toBe(true);
    expect(await decide(b, "u0")).toEqual(ALLOW);
    expect(b.pdp.evaluations).toBe(1);
    // Revoking one user afterwards deletes exactly its new entry.
    expect(await a.gw.revokeSubject("u0")).toBe(1);
    expect(a.cache.stats().l2).toMatchObject({ errors: 0, revoked: 25 });
  });

  it("a new policy revision misses whatever Redis holds", async () => {
    const p = testKeyPrefix();
    const a = await instance(endpoint(), p, "rev-1");
    const c = await instance(endpoint(), p, "rev-2");
    expect(await decide(a, "alice")).toEqual(ALLOW);
    expect(await decide(c, "alice")).toEqual(ALLOW);
    expect([a.pdp.evaluations, c.pdp.evaluations]).toEqual([1, 1]);
    expect(c.cache.stats().l2Hits).toBe(0);
    expect(await allKeys(a.cache.l2.client, `${p}d:*`)).toHaveLength(2);
  });

  it("revoking on one instance reaches the other's L1 over pub/sub", async () => {
    const p = testKeyPrefix();
    const [a, b] = [await instance(endpoint(), p), await instance(endpoint(), p)];
    expect(await decide(a, "alice")).toEqual(ALLOW);
    expect(await decide(b, "alice")).toEqual(ALLOW);
    expect(await decide(b, "dave")).toEqual(ALLOW);
    expect(b.cache.l1.size).toBe(2);
    expect(await a.gw.revokeSubject("alice")).toBe(1);
    expect(await until(() => b.cache.l1.size === 1)).toBe(true);
    expect(b.cache.stats().invalidations).toMatchObject({ received: 1, malformed: 0 });
    expect(await decide(b, "alice")).toEqual(ALLOW);
    expect(b.pdp.evaluations).toBe(2); // dave once, alice again after the revocation
  });

  it("a lost subscription: the L1 is cleared once it is back, and invalidations arrive again", async () => {
    const p = testKeyPrefix();
    const [a, b] = [await instance(endpoint(), p), await instance(endpoint(), p)];
    expect(await decide(a, "alice")).toEqual(ALLOW);
    expect(await decide(b, "alice")).toEqual(ALLOW);
    expect(b.cache.l1.size).toBe(1);
    // Whatever was published while B's subscription was down is lost to B: it must clear its L1.
    await killSubscribers(ports());
    expect(await until(() => b.cache.stats().invalidations.resyncs >= 1)).toBe(true);
    expect(b.cache.l1.size).toBe(0);
    expect(await decide(b, "alice")).toEqual(ALLOW); // from Redis again
    expect(b.pdp.evaluations).toBe(0);
    expect(b.cache.l1.size).toBe(1);
    expect(await a.gw.revokeSubject("alice")).toBe(1);
    expect(await until(() => b.cache.l1.size === 0)).toBe(true);
    expect(b.cache.stats().invalidations.received).toBe(1);
  });

  it("clear() empties every shard under the prefix and every instance's L1, and leaves other prefixes", async () => {
    const p = testKeyPrefix();
    const other = testKeyPrefix();
    const [a, b] = [await instance(endpoint(), p), await instance(endpoint(), p)];
    const o = await instance(endpoint(), other);
    for (const u of ["u1", "u2", "u3", "u4"]) {
      await decide(a, u);
      await decide(b, u);
    }
    await decide(o, "u1");
    expect(b.cache.l1.size).toBe(4);
    await a.cache.clear();
    expect(await allKeys(a.cache.l2.client, `${p}*`)).toEqual([]);
    expect(await until(() => b.cache.l1.size === 0)).toBe(true);
    expect(await allKeys(a.cache.l2.client, `${other}d:*`)).toHaveLength(1);
    expect(o.cache.l1.size).toBe(1);
  });
}

describe.skipIf(missing !== undefined)("Redis L2 over Sentinel (master, replica, sentinel)", () => {
  let topo: SentinelTopology;
  const endpoint = () => `{ sentinels: ['${topo.sentinels[0]}'], name: ${topo.name} }`;

  beforeAll(async () => {
    topo = await startSentinel();
  }, 30_000);

  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await topo?.stop();
  });

  sharedCacheTests(
    endpoint,
    () => ({ sentinels: topo.sentinels, name: topo.name }),
    () => topo.ports,
  );

  it("a failover: decisions never fail, and the cache and its invalidations work on the new master", async () => {
    const p = testKeyPrefix();
    const [a, b] = [await instance(endpoint(), p), await instance(endpoint(), p)];
    expect(await decide(a, "alice")).toEqual(ALLOW);
    const before = await topo.master();
    let n = 0;
    let failed = 0;
    let done = false;
    // Decisions on both instances all through the failover, each for a new user (an L1 miss that asks
    // Redis): every one must be answered by the policy or the cache, never an error.
    const load = (async () => {
      while (!done) {
        const u = `load${n++}`;
        for (const i of [a, b]) {
          try {
            if (!isEqual(await decide(i, u), ALLOW)) failed++;
          } catch {
            failed++;
          }
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const after = await topo.failover();
    expect(after).not.toBe(before);
    // The old master still calls itself master until the sentinel demotes it (up to 10 s later): both
    // instances must be on the node the sentinel names well before that, and share entries there.
    const port = async (i: Instance) =>
      ((await i.cache.l2.client.call("CONFIG", "GET", "port")) as string[])[1];
    let probe = "";
    const moved = await until(async () => {
      if ((await port(a).catch(() => "")) !== String(after)) return false;
      if ((await port(b).catch(() => "")) !== String(after)) return false;
      probe = `after${n++}`;
      await decide(a, probe);
      const evaluated = b.pdp.evaluations;
      await decide(b, probe);
      return b.pdp.evaluations === evaluated;
    }, 4000);
    done = true;
    await load;
    expect(moved).toBe(true);
    expect(failed).toBe(0);
    expect(n).toBeGreaterThan(5);
    // Invalidations flow again between the instances.
    expect(await decide(b, "erin")).toEqual(ALLOW);
    const l1 = b.cache.l1.size;
    expect(await a.gw.revokeSubject("erin")).toBeGreaterThanOrEqual(1);
    expect(await until(() => b.cache.l1.size < l1, 3000)).toBe(true);
    expect(await decide(b, probe)).toEqual(ALLOW);
  }, 30_000);
});

describe.skipIf(missing !== undefined)("Redis L2 over Cluster (three masters)", () => {
  let topo: ClusterTopology;
  const endpoint = () => `{ cluster: [${topo.nodes.map((n) => `'${n}'`).join(", ")}] }`;

  beforeAll(async () => {
    topo = await startCluster(3);
  }, 30_000);

  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await topo?.stop();
  });

  sharedCacheTests(
    endpoint,
    () => ({ cluster: topo.nodes }),
    () => topo.ports,
  );

  // Last: it leaves the Cluster with a dead master.
  it("the node holding the subscription dies: decisions never fail, and it moves to another node", async () => {
    const p = testKeyPrefix();
    const [a, b] = [await instance(endpoint(), p), await instance(endpoint(), p)];
    for (const u of ["u1", "u2", "u3"]) {
      await decide(a, u);
      await decide(b, u);
    }
    expect(b.cache.l1.size).toBe(3);
    // Pub/sub subscriptions are per node: find the node(s) the instances subscribed on.
    const numsub = async (port: number) => {
      const admin = new Redis({
        port,
        host: "127.0.0.1",
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      admin.on("error", () => {});
      try {
        return Number(((await admin.pubsub("NUMSUB", a.cache.l2.channel)) as [string, number])[1]);
      } catch {
        return 0;
      } finally {
        admin.disconnect();
      }
    };
    const counts = await Promise.all(topo.ports.map(numsub));
    expect(counts.reduce((x, y) => x + y, 0)).toBe(2);
    const victim = topo.ports[counts.findIndex((c) => c > 0)]!;
    const resyncsBefore = [a, b].map((i) => i.cache.stats().invalidations.resyncs);
    await topo.kill(victim);
    // Keys on the dead node's slots (soon all keys: the Cluster reports itself down) are misses.
    for (const u of ["v1", "v2", "u1", "u2", "bob"]) {
      for (const i of [a, b]) expect(await decide(i, u)).toEqual(u === "bob" ? DENY : ALLOW);
    }
    const live = topo.ports.filter((port) => port !== victim);
    // Both subscriptions end up on live nodes, and every instance that lost its own resynced (cleared
    // its L1).
    expect(
      await until(async () => (await Promise.all(live.map(numsub))).reduce((x, y) => x + y, 0) === 2),
    ).toBe(true);
    const onVictim = counts[topo.ports.indexOf(victim)]!;
    const resynced = () => [a, b].filter((i, k) => i.cache.stats().invalidations.resyncs > resyncsBefore[k]!);
    expect(await until(() => resynced().length === onVictim)).toBe(true);
    // A message published on a live node reaches both instances.
    const admin = new Redis({ port: live[0]!, host: "127.0.0.1", maxRetriesPerRequest: 0 });
    admin.on("error", () => {});
    try {
      const received = [a, b].map((i) => i.cache.stats().invalidations.received);
      await admin.publish(a.cache.l2.channel, JSON.stringify({ all: true }));
      expect(
        await until(() =>
          [a, b].every((i, k) => i.cache.stats().invalidations.received === received[k]! + 1),
        ),
      ).toBe(true);
    } finally {
      admin.disconnect();
    }
    expect([a.cache.l1.size, b.cache.l1.size]).toEqual([0, 0]);
  }, 20_000);
});
