// The decision cache in the request path, end to end over real TLS: dev PKI certificates, a real JWKS
// file, a real upstream on loopback, the real Rego engine. A counting wrapper around regoPdp (the real
// engine, not a mock) shows which requests were evaluated and which were answered from the cache; the
// policy's own answers show that a cached answer is never one the policy would not give now.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LruDecisionCache } from "../../../pdp/cache/index.js";
import { compile } from "../../../pdp/rego/index.js";
import type { Config } from "../../../gateway/config/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { cachedPdp, regoPdp, type CachedPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startGateway, startSegment, type RunningGateway } from "../../../gateway/server/serve.js";
import { loadPdp } from "../../../cli/serve.js";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";

const PLANNER = "spiffe://demo.portcullis/agent/planner";
const OTHER = "spiffe://demo.portcullis/agent/other";

// Allows only the planner, only while its token is unexpired by the policy's own clock (so a cached allow
// served after `exp` would be visible as a 200 where the policy now says 403).
const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied", "reasons": ["default"]}
decision := {"allow": true, "headers": {"x-cached-test": "1"}} if {
  input.request.path == "/ok"
  input.authn.subject == "${PLANNER}"
  input.token.claims.exp * 1000000000 > time.now_ns()
}
decision := {"allow": false, "status": 403, "error": "insufficient_scope", "scope": "payments:write"} if {
  input.request.path == "/write"
}
decision := {"allow": true, "cache_ttl_s": 0} if input.request.path == "/uncached"
`;

let dir: string;
let pki: DevPki;
let upstream: Server;
let upstreamUrl: string;
let upstreamHits = 0;
const closers: (() => Promise<unknown> | void)[] = [];

interface Counting extends Pdp {
  evaluations: number;
}

/** The real regoPdp, counting the evaluations that actually ran. */
function counting(inner: Pdp): Counting {
  const c: Counting = {
    evaluations: 0,
    revision: inner.revision,
    entrypoint: inner.entrypoint,
    inputPaths: inner.inputPaths,
    decide: (input, context) => {
      c.evaluations++;
      return inner.decide(input, context);
    },
  };
  return c;
}

function policyPdp(source = POLICY): Pdp {
  return regoPdp(compile({ modules: [{ file: "test.rego", source }] }), "portcullis/authz/decision");
}

interface Reply {
  status: number;
  body: string;
  headers: Record<string, unknown>;
}

function call(
  port: number,
  path: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
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
        headers: { authorization: `Bearer ${token}`, ...headers },
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function token(
  sub: string,
  o: { ttl_s?: number; iat?: number; scope?: string; claims?: Record<string, unknown> } = {},
): Promise<string> {
  return signAccessToken(pki.issuer, { iss: DEV_ISSUER, aud: "payments", sub, scope: "payments:read", ...o });
}

/** A segment whose PDP is `pdp` behind a fresh L1 cache; returns its port and both PDP layers. */
async function segmentWithCache(pdp = counting(policyPdp()), ttlS = 60) {
  const cached = cachedPdp(pdp, new LruDecisionCache({ maxEntries: 100 }), { ttlS });
  const running = await startSegment(demoSegment(dir, upstreamUrl, 0), cached, () => undefined);
  closers.push(() => new Promise((r) => running.server.close(r)));
  return { port: running.port, pdp, cached };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-dcache-"));
  pki = await ensureDevPki({ dir, svids: [{ name: "agent", spiffeId: PLANNER }], tokens: [] });
  upstream = createServer((_req, res) => {
    upstreamHits++;
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"upstream":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of closers) await c();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("decision cache in the request path", () => {
  it("answers a second identical request from the cache, whatever its request id and trace context", async () => {
    const { port, pdp, cached } = await segmentWithCache();
    const t = await token(PLANNER);
    const before = upstreamHits;
    const a = await call(port, "/ok", t, {
      "x-request-id": "req-1",
      traceparent: `00-${"a".repeat(32)}-${"b".repeat(16)}-01`,
    });
    const b = await call(port, "/ok", t, {
      "x-request-id": "req-2",
      traceparent: `00-${"c".repeat(32)}-${"d".repeat(16)}-01`,
    });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(upstreamHits - before).toBe(2);
    expect(pdp.evaluations).toBe(1);
    expect(cached.stats).toMatchObject({ hits: 1, misses: 1, stored: 1 });
  });

  it("keeps a deny a deny, with its error and challenge, and never reaches the upstream", async () => {
    const { port, pdp } = await segmentWithCache();
    const t = await token(PLANNER);
    const before = upstreamHits;
    const replies = [await call(port, "/write", t), await call(port, "/write", t)];
    for (const r of replies) {
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body)).toEqual({
        error: "insufficient_scope",
        error_description: "the token lacks a required scope",
      });
      expect(r.headers["www-authenticate"]).toContain('scope="payments:write"');
    }
    expect(pdp.evaluations).toBe(1);
    expect(upstreamHits).toBe(before);
  });

  it("never shares an entry between subjects: another subject gets its own (deny) decision", async () => {
    const { port, pdp } = await segmentWithCache();
    expect((await call(port, "/ok", await token(PLANNER))).status).toBe(200);
    // Same client certificate, same path, same headers: only the token's subject differs.
    const other = await call(port, "/ok", await token(OTHER));
    expect(other.status).toBe(403);
    expect(pdp.evaluations).toBe(2);
    // And the planner's entry is still its own.
    expect((await call(port, "/ok", await token(PLANNER))).status).toBe(200);
  });

  it("does not reuse a decision after the token's exp, even where the token is still accepted (clock skew)", async () => {
    const { port, pdp } = await segmentWithCache();
    const nowS = Math.floor(Date.now() / 1000);
    const t = await token(PLANNER, { iat: nowS, ttl_s: 2 });
    expect((await call(port, "/ok", t)).status).toBe(200);
    expect((await call(port, "/ok", t)).status).toBe(200);
    expect(pdp.evaluations).toBe(1);
    // Past exp but inside the segment's 30 s clock skew: the bearer authenticator still accepts the token,
    // so only the decision cache's bound stands between this request and the cached allow.
    await new Promise((r) => setTimeout(r, Math.max(0, (nowS + 2) * 1000 - Date.now()) + 50));
    const late = await call(port, "/ok", t);
    expect(pdp.evaluations).toBe(2);
    expect(late.status).toBe(403);
  });

  it("never stores a decision for a token that has already expired", async () => {
    const { port, pdp, cached } = await segmentWithCache();
    const nowS = Math.floor(Date.now() / 1000);
    const t = await token(PLANNER, { iat: nowS - 20, ttl_s: 10 }); // expired 10 s ago, inside the skew
    expect((await call(port, "/ok", t)).status).toBe(403);
    expect((await call(port, "/ok", t)).status).toBe(403);
    expect(pdp.evaluations).toBe(2);
    expect(cached.stats.stored).toBe(0);
  });

  it("honours cache_ttl_s: 0 from the policy", async () => {
    const { port, pdp } = await segmentWithCache();
    const t = await token(PLANNER);
    expect((await call(port, "/uncached", t)).status).toBe(200);
    expect((await call(port, "/uncached", t)).status).toBe(200);
    expect(pdp.evaluations).toBe(2);
  });

  it("drops a revoked subject's entries (by token subject and by SPIFFE ID)", async () => {
    const { port, pdp, cached } = await segmentWithCache();
    const t = await token(PLANNER);
    await call(port, "/ok", t);
    await call(port, "/write", t);
    expect(pdp.evaluations).toBe(2);
    expect(await cached.cache.deleteSubject(PLANNER)).toBe(2);
    await call(port, "/ok", t);
    expect(pdp.evaluations).toBe(3);
  });

  it("never answers from another policy revision, even with a shared cache", async () => {
    const shared = new LruDecisionCache({ maxEntries: 100 });
    const allowAll = counting(policyPdp('package portcullis.authz\ndecision := {"allow": true}'));
    const denyAll = counting(policyPdp('package portcullis.authz\ndecision := {"allow": false}'));
    const ports: number[] = [];
    for (const p of [allowAll, denyAll]) {
      const running = await startSegment(
        demoSegment(dir, upstreamUrl, 0),
        cachedPdp(p, shared, { ttlS: 60 }),
        () => undefined,
      );
      closers.push(() => new Promise((r) => running.server.close(r)));
      ports.push(running.port);
    }
    const t = await token(PLANNER);
    expect((await call(ports[0], "/ok", t)).status).toBe(200);
    expect((await call(ports[1], "/ok", t)).status).toBe(403);
    expect([allowAll.evaluations, denyAll.evaluations]).toEqual([1, 1]);
  });

  it("is what startGateway sets up from the config's cache block (and ttl_s 0 turns it off)", async () => {
    for (const [ttl, evaluations] of [
      [60, 1],
      [0, 2],
    ] as const) {
      const pdp = counting(policyPdp());
      const config: Config = {
        file: "(test)",
        pdp: { policies: dir, entrypoint: "portcullis/authz/decision" },
        cache: { ttl_s: ttl, max_entries: 100 },
        segments: [demoSegment(dir, upstreamUrl, 0)],
      };
      const gw: RunningGateway = await startGateway(config, pdp, () => undefined);
      closers.push(() => gw.close());
      const t = await token(PLANNER);
      await call(gw.segments[0].port, "/ok", t);
      await call(gw.segments[0].port, "/ok", t);
      expect(pdp.evaluations).toBe(evaluations);
      if (ttl > 0) expect((gw.pdp as CachedPdp).stats.hits).toBe(1);
    }
  });
});

describe("decision cache keyed on the input paths the policy reads", () => {
  /** The shipped policy as `portcullis serve` loads it (test module included), through a cached gateway. */
  async function shippedGateway() {
    const config: Config = {
      file: "(test)",
      pdp: {
        policies: join(import.meta.dirname, "..", "..", "..", "policies"),
        entrypoint: "portcullis/authz/decision",
      },
      cache: { ttl_s: 60, max_entries: 100 },
      segments: [demoSegment(dir, upstreamUrl, 0)],
    };
    const pdp = counting(loadPdp(config));
    const gw = await startGateway(config, pdp, () => undefined);
    closers.push(() => gw.close());
    return { port: gw.segments[0].port, pdp, stats: (gw.pdp as CachedPdp).stats };
  }

  it("the shipped policy: a fresh token of the same agent is a hit, other scopes a miss", async () => {
    const { port, pdp, stats } = await shippedGateway();
    expect(pdp.inputPaths).toContainEqual(["token", "scopes"]);
    const nowS = Math.floor(Date.now() / 1000);
    // Two different tokens of the planner: another jti, iat and exp, the same scopes.
    const t1 = await token(PLANNER, { iat: nowS - 5, claims: { jti: "first" } });
    const t2 = await token(PLANNER, { iat: nowS, claims: { jti: "second" } });
    expect(t1).not.toBe(t2);
    // `GET /` needs no scope and no attestation: the shipped policy allows the agent.
    const a = await call(port, "/", t1);
    const b = await call(port, "/", t2);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(pdp.evaluations).toBe(1);
    expect(stats).toMatchObject({ hits: 1, misses: 1 });
    // Scopes are read (route and tool scopes): a token with other scopes is decided again.
    const wider = await token(PLANNER, { scope: "payments:read payments:write" });
    expect((await call(port, "/", wider)).status).toBe(200);
    expect(pdp.evaluations).toBe(2);
    // A deny is shared the same way: the agent lacks an attestation on /payments/….
    const d1 = await call(port, "/payments/balance", t1);
    const d2 = await call(port, "/payments/balance", t2);
    expect([d1.status, d2.status]).toEqual([403, 403]);
    expect(pdp.evaluations).toBe(3);
  });

  it("a policy that reads the token's jti: no sharing between tokens", async () => {
    const source = `package portcullis.authz
import rego.v1
decision := {"allow": true} if {
  input.token.claims.jti != "revoked"
  input.request.path == "/ok"
}
`;
    const { port, pdp, cached } = await segmentWithCache(counting(policyPdp(source)));
    expect(pdp.inputPaths).toEqual([
      ["request", "path"],
      ["token", "claims", "jti"],
    ]);
    const t1 = await token(PLANNER, { claims: { jti: "one" } });
    const t2 = await token(PLANNER, { claims: { jti: "two" } });
    expect((await call(port, "/ok", t1)).status).toBe(200);
    expect((await call(port, "/ok", t2)).status).toBe(200);
    expect(pdp.evaluations).toBe(2);
    // The same token again is a hit; a revoked jti gets the policy's own deny, never a shared allow.
    expect((await call(port, "/ok", t1)).status).toBe(200);
    expect(pdp.evaluations).toBe(2);
    expect((await call(port, "/ok", await token(PLANNER, { claims: { jti: "revoked" } }))).status).toBe(403);
    expect(cached.stats).toMatchObject({ hits: 1, misses: 3 });
  });

  it("a remote-style PDP without input paths keys on the whole input: fresh tokens miss", async () => {
    const source = `package portcullis.authz
import rego.v1
decision := {"allow": true} if input.request.path == "/ok"
`;
    const inner = policyPdp(source);
    const whole = counting({ revision: inner.revision, entrypoint: inner.entrypoint, decide: inner.decide });
    const { port, pdp } = await segmentWithCache(whole);
    await call(port, "/ok", await token(PLANNER));
    await call(port, "/ok", await token(PLANNER));
    expect(pdp.evaluations).toBe(2);
  });
});

describe("regoPdp input", () => {
  it("gives the policy the input as JSON would, without changing the caller's object", () => {
    const pdp = policyPdp("package portcullis.authz\ndecision := input");
    const input = {
      gone: undefined,
      nan: Number.NaN,
      list: [undefined, 1, () => 1],
      when: new Date(0),
      nested: { keep: "x", drop: undefined, deeper: { n: -0 } },
      proto: JSON.parse('{"__proto__": {"polluted": true}}') as unknown,
    };
    const snapshot = JSON.stringify(input);
    expect(pdp.decide(input)).toEqual(JSON.parse(JSON.stringify(input)));
    expect(JSON.stringify(input)).toBe(snapshot);
    expect(Object.keys(input.nested)).toEqual(["keep", "drop", "deeper"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses what JSON refuses (a bigint), which enforcement turns into a 503", () => {
    const pdp = policyPdp("package portcullis.authz\ndecision := input");
    expect(() => pdp.decide({ big: 1n })).toThrow(TypeError);
  });
});
