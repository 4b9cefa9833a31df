// The Redis L2 decision cache end to end: two gateway instances (startGateway, each with its own L1) over
// real TLS with the dev PKI, sharing a real Redis (PORTCULLIS_TEST_REDIS_URL, default
// redis://127.0.0.1:6379, random key prefix). A counting wrapper around the real regoPdp shows which
// instance evaluated and which answered from a cache. The fault tests run their own redis-server on a free
// port and kill, stop and restart it. Unreachable Redis: skipped with a reason, except under CI=true.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  parseConfig,
  type Config,
  type ConfigError,
  type ConfigIssue,
} from "../../../gateway/config/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp, type CachedPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startGateway, type RunningGateway } from "../../../gateway/server/serve.js";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";
import { compile } from "../../../pdp/rego/index.js";
import {
  freePort,
  redisUnavailable,
  startRedis,
  stopRedis,
  TEST_REDIS_URL,
  testKeyPrefix,
} from "../../helpers/redis.js";

const URL = TEST_REDIS_URL;
const PLANNER = "spiffe://demo.portcullis/agent/planner";

const unreachable = await redisUnavailable("Redis gateway cache tests");

// Allows the planner on /ok only while its token is unexpired by the policy's own clock, so a cached
// allow served after `exp` would show as a 200 where the policy now says 403.
const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied"}
decision := {"allow": true} if {
  input.request.path == "/ok"
  input.authn.subject == "${PLANNER}"
  input.token.claims.exp * 1000000000 > time.now_ns()
}
`;

let dir: string;
let pki: DevPki;
let upstream: Server;
let upstreamUrl: string;
const closers: (() => Promise<unknown> | void)[] = [];

interface Counting extends Pdp {
  evaluations: number;
}

/** The real regoPdp under a fixed revision (replicas loading the same policy share keys), counting. */
function countingPdp(revision = "rev-1"): Counting {
  const inner = regoPdp(
    compile({ modules: [{ file: "t.rego", source: POLICY }] }),
    "portcullis/authz/decision",
    {
      revision,
    },
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
  pdp: Counting;
  port: number;
}

async function instance(redis: string, keyPrefix: string, revision = "rev-1"): Promise<Instance> {
  const pdp = countingPdp(revision);
  const config: Config = {
    file: "(test)",
    pdp: { policies: dir, entrypoint: "portcullis/authz/decision" },
    cache: { redis, key_prefix: keyPrefix, timeout_ms: 50, ttl_s: 60, max_entries: 100 },
    segments: [demoSegment(dir, upstreamUrl, 0)],
  };
  const gw = await startGateway(config, pdp, () => undefined);
  closers.push(() => gw.close());
  await gw.decisionCache!.subscriber!.subscribed;
  return { gw, pdp, port: gw.segments[0]!.port };
}

function call(port: number, path: string, token: string): Promise<number> {
  const svid = pki.svids.agent;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        ca: pki.ca.certPem,
        cert: svid.certPem,
        key: svid.keyPem,
        // One Host for both instances: the request the policy sees is the same on either.
        headers: { authorization: `Bearer ${token}`, host: "localhost" },
        agent: false,
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end();
  });
}

function token(o: { ttl_s?: number; iat?: number; jti?: string } = {}): Promise<string> {
  return signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: "payments",
    sub: PLANNER,
    scope: "payments:read",
    jti: randomBytes(6).toString("hex"),
    ...o,
  });
}

const prefix = testKeyPrefix;
const stats = (i: Instance) => (i.gw.pdp as CachedPdp).stats;

async function until(f: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return f();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-redis-cache-"));
  pki = await ensureDevPki({ dir, svids: [{ name: "agent", spiffeId: PLANNER }], tokens: [] });
  upstream = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end("{}");
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  if (upstream) await new Promise((r) => upstream.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(unreachable !== undefined)("Redis L2 decision cache across two gateways", () => {
  it("miss, L1 hit, and an L2 hit on the other instance without evaluating", async () => {
    const p = prefix();
    const [a, b] = [await instance(URL, p), await instance(URL, p)];
    const t = await token();
    expect(await call(a.port, "/ok", t)).toBe(200); // miss: A evaluates, stores in its L1 and Redis
    expect(await call(a.port, "/ok", t)).toBe(200); // A's L1
    expect(a.pdp.evaluations).toBe(1);
    expect(await call(b.port, "/ok", t)).toBe(200); // B: from Redis
    expect(await call(b.port, "/ok", t)).toBe(200); // B: now from its own L1
    expect(b.pdp.evaluations).toBe(0);
    expect(b.gw.decisionCache!.stats()).toMatchObject({ l2Hits: 1, l1Entries: 1 });
    expect(stats(b)).toMatchObject({ hits: 2, misses: 0 });
    // A deny is shared the same way.
    expect(await call(a.port, "/nope", t)).toBe(403);
    expect(await call(b.port, "/nope", t)).toBe(403);
    expect([a.pdp.evaluations, b.pdp.evaluations]).toEqual([2, 0]);
  });

  it("bounds the Redis entry by the token's exp, and the other instance re-evaluates after it", async () => {
    const p = prefix();
    const [a, b] = [await instance(URL, p), await instance(URL, p)];
    const nowS = Math.floor(Date.now() / 1000);
    const t = await token({ iat: nowS, ttl_s: 2 });
    expect(await call(a.port, "/ok", t)).toBe(200);
    const r = a.gw.decisionCache!.l2.client;
    const keys = await r.keys(`${p}d:*`);
    expect(keys).toHaveLength(1);
    expect(await r.pttl(keys[0]!)).toBeLessThanOrEqual(2000);
    // Past exp, inside the bearer authenticator's 30 s skew: only the cache bound keeps the old allow out.
    await new Promise((res) => setTimeout(res, Math.max(0, (nowS + 2) * 1000 - Date.now()) + 50));
    expect(await call(b.port, "/ok", t)).toBe(403);
    expect(b.pdp.evaluations).toBe(1);
  });

  it("a new policy revision misses whatever Redis holds", async () => {
    const p = prefix();
    const a = await instance(URL, p, "rev-1");
    const c = await instance(URL, p, "rev-2");
    const t = await token();
    expect(await call(a.port, "/ok", t)).toBe(200);
    expect(await call(c.port, "/ok", t)).toBe(200);
    expect([a.pdp.evaluations, c.pdp.evaluations]).toEqual([1, 1]);
    expect(c.gw.decisionCache!.stats().l2Hits).toBe(0);
  });

  it("revoking a subject on one instance deletes it in Redis and, over pub/sub, in the other's L1", async () => {
    const p = prefix();
    const [a, b] = [await instance(URL, p), await instance(URL, p)];
    const t = await token();
    expect(await call(a.port, "/ok", t)).toBe(200);
    expect(await call(b.port, "/ok", t)).toBe(200); // B's L1 now holds it too
    expect(b.gw.decisionCache!.l1.size).toBe(1);
    expect(await a.gw.revokeSubject(PLANNER)).toBe(1);
    expect(a.gw.decisionCache!.l1.size).toBe(0);
    expect(await until(() => b.gw.decisionCache!.l1.size === 0)).toBe(true);
    expect(await a.gw.decisionCache!.l2.client.keys(`${p}*`)).toEqual([]);
    expect(await call(b.port, "/ok", t)).toBe(200);
    expect(await call(a.port, "/ok", t)).toBe(200);
    // B evaluated afresh (gone from its L1 and from Redis); A then found B's new entry in Redis.
    expect([a.pdp.evaluations, b.pdp.evaluations]).toEqual([1, 1]);
  });
});

describe.skipIf(unreachable !== undefined)("Redis faults (own redis-server)", () => {
  it("stopped, killed and restarted Redis: no 5xx, no stale allow after exp, the cache is used again", async () => {
    const port = await freePort();
    let server = await startRedis(port);
    closers.push(() => stopRedis(server));
    const url = `redis://127.0.0.1:${port}`;
    const p = prefix();
    const [a, b] = [await instance(url, p), await instance(url, p)];
    const nowS = Math.floor(Date.now() / 1000);
    const short = await token({ iat: nowS, ttl_s: 3 });
    expect(await call(a.port, "/ok", short)).toBe(200);
    expect(await call(b.port, "/ok", short)).toBe(200);
    expect(b.pdp.evaluations).toBe(0);

    // Slow: the server is frozen (SIGSTOP). L1 misses wait at most the 50 ms bound, then evaluate.
    server.kill("SIGSTOP");
    try {
      for (let i = 0; i < 3; i++) expect(await call(b.port, "/ok", await token())).toBe(200);
      expect(b.gw.decisionCache!.stats().l2.timeouts).toBeGreaterThanOrEqual(1);
      expect(b.pdp.evaluations).toBe(3);
    } finally {
      server.kill("SIGCONT");
    }

    // Down: decisions go on without the L2; denies stay denies.
    await stopRedis(server);
    const errorsBefore = stats(a).errors;
    for (let i = 0; i < 3; i++) {
      expect(await call(a.port, "/ok", await token())).toBe(200);
      expect(await call(a.port, "/nope", await token())).toBe(403);
    }
    expect(stats(a).errors).toBeGreaterThan(errorsBefore);
    // The short token's allow is still in both L1s; past its exp it is not served (the policy says 403).
    await new Promise((res) => setTimeout(res, Math.max(0, (nowS + 3) * 1000 - Date.now()) + 50));
    expect(await call(a.port, "/ok", short)).toBe(403);
    expect(await call(b.port, "/ok", short)).toBe(403);

    // Back on the same port (empty): once reconnected, A's decisions reach Redis and B answers from it.
    server = await startRedis(port);
    // Both subscriptions come back and, having possibly missed invalidations, clear their L1.
    for (const i of [a, b])
      expect(await until(() => i.gw.decisionCache!.subscriber!.stats.resyncs > 0)).toBe(true);
    const t = await token();
    const reused = await until(async () => {
      const before = b.pdp.evaluations;
      expect(await call(a.port, "/ok", t)).toBe(200);
      a.gw.decisionCache!.l1.clear(); // so A retries the L2 write on the next round
      const stored = (await b.gw.decisionCache!.l2.client.keys(`${p}d:*`).catch(() => [])).length > 0;
      if (!stored) return false;
      expect(await call(b.port, "/ok", t)).toBe(200);
      return b.pdp.evaluations === before;
    }, 8000);
    expect(reused).toBe(true);
    // The subscriptions came back too: a revocation on A reaches B's L1 again.
    expect(b.gw.decisionCache!.l1.size).toBeGreaterThan(0);
    await a.gw.revokeSubject(PLANNER);
    expect(await until(() => b.gw.decisionCache!.l1.size === 0)).toBe(true);
  }, 30_000);
});

describe("cache.redis in the config", () => {
  const SEGMENT = `segments:
  - name: s
    listen: 127.0.0.1:8443
    upstream: http://127.0.0.1:9001
    tls: { cert: c.pem, key: k.pem, client_ca: ca.pem, client_auth: require }
    authentication: mtls
`;
  const parse = (cache: string) =>
    parseConfig(`pdp: { policies: ./p }\ncache: ${cache}\n${SEGMENT}`, "/tmp/x.yaml", { checkFiles: false })
      .cache;

  it("accepts a URL (unchanged), a Sentinel group or Cluster nodes, with key_prefix and timeout_ms", () => {
    expect(parse("{ redis: redis://127.0.0.1:6379, ttl_s: 60 }")).toEqual({
      redis: "redis://127.0.0.1:6379",
      ttl_s: 60,
      max_entries: 10_000,
    });
    expect(
      parse(
        "{ redis: { sentinels: [10.0.0.1:26379, 'sent-2:26379'], name: mymaster }, key_prefix: 'pc:', timeout_ms: 30 }",
      ),
    ).toEqual({
      redis: { sentinels: ["10.0.0.1:26379", "sent-2:26379"], name: "mymaster" },
      key_prefix: "pc:",
      timeout_ms: 30,
      ttl_s: 60,
      max_entries: 10_000,
    });
    expect(parse("{ redis: { cluster: [r1:7000, r2:7000] } }").redis).toEqual({
      cluster: ["r1:7000", "r2:7000"],
    });
  });

  it("refuses a malformed endpoint, naming the key", () => {
    for (const [cache, path] of [
      ["{ redis: { sentinels: [nohost] , name: m } }", "cache.redis.sentinels[0]"],
      ["{ redis: { sentinels: [a:1] } }", "cache.redis.name"],
      ["{ redis: { cluster: [a:1], name: m } }", "cache.redis"],
      ["{ redis: { nodes: [a:1] } }", "cache.redis.nodes"],
      ["{ redis: redis://h, timeout_ms: 0 }", "cache.timeout_ms"],
    ]) {
      let issues: ConfigIssue[] = [];
      try {
        parse(cache!);
      } catch (e) {
        issues = (e as ConfigError).errors;
      }
      expect(issues.map((i) => i.path)).toContain(path);
    }
  });
});
