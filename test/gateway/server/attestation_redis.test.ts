// Attestation across gateway replicas, end to end: two gateway instances (startGateway, each its own
// process-local state) loaded from the same YAML by the real config loader, with `cache.redis` pointing
// at one real Redis (PORTCULLIS_TEST_REDIS_URL under a random key prefix; an own redis-server for the
// fault test), real TLS with dev-PKI SVIDs, the reference verifier as a real HTTP server counting its
// appraisals, the shipped policy in the real Rego engine and a real upstream. What the policy saw is read
// from the decision hook. Unreachable Redis: skipped with a reason, except under CI=true.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVIDENCE_MEDIA_TYPE, loadPrivateKey, VerifierClient } from "../../../attestation/index.js";
import {
  DEMO_CONFIG_HASH,
  DEMO_IMAGE_DIGEST,
  loadVerifierConfig,
  signEvidence,
  startVerifier,
  writeDevVerifier,
  type Measurements,
  type RunningVerifier,
} from "../../../attestation/verifier/index.js";
import { loadPaths } from "../../../cli/load.js";
import { ConfigError, parseConfig, type Config } from "../../../gateway/config/index.js";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startGateway, type RunningGateway } from "../../../gateway/server/serve.js";
import { compile } from "../../../pdp/rego/index.js";
import {
  freePort,
  redisUnavailable,
  startRedis,
  stopRedis,
  TEST_REDIS_URL,
  testKeyPrefix,
} from "../../helpers/redis.js";

const unreachable = await redisUnavailable("attestation over Redis tests");

const PLANNER = "spiffe://demo.portcullis/agent/planner";
const OTHER = "spiffe://demo.portcullis/agent/other";
const NONCE_PATH = "/.well-known/portcullis/attestation-nonce";
const GOOD: Measurements = {
  image_digest: DEMO_IMAGE_DIGEST,
  config_hash: DEMO_CONFIG_HASH,
  runtime: { debug: false },
};
const DENIED_IMAGE = "sha256:" + "d".repeat(64);
const POLICIES = join(import.meta.dirname, "../../../policies");

type Svid = "agent" | "other";
type Obj = Record<string, unknown>;

let dir: string;
let pki: DevPki;
let upstream: Server;
let upstreamUrl: string;
let verifier: RunningVerifier;
/** Evidence the reference verifier appraised (each one is a verifier call by a gateway or an agent). */
let appraisals = 0;
let shipped: Pdp;
const closers: (() => Promise<unknown> | void)[] = [];

interface Instance {
  gw: RunningGateway;
  port: number;
  inputs: Obj[];
  events: Obj[];
}

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** The config file both replicas load: the demo segment with attestation, over `cache`. */
function configYaml(cache: string, attestation = ""): string {
  return `pdp: { policies: ${JSON.stringify(POLICIES)} }
cache: ${cache}
segments:
  - name: payments
    listen: 127.0.0.1:0
    upstream: ${upstreamUrl}
    tls:
      cert: gateway.pem
      key: gateway.key
      client_ca: ca.pem
      client_auth: require
      trust_domains: [demo.portcullis]
    authentication: { all: [mtls, bearer] }
    authenticators:
      bearer: { issuer: "${DEV_ISSUER}", audience: [payments], jwks_file: jwks.json, algorithms: [ES256] }
    caller_types: [ { type: ai-agent, spiffe_path: "/agent/*" } ]
    attestation:
      verifiers: [ { name: demo-verifier, jwks_file: verifier-jwks.json, profiles: [veraison, draft] } ]
      background_check: { verifier: demo-verifier, url: "${verifier.url}" }
${attestation}`;
}

function load(yaml: string): Config {
  return parseConfig(yaml, join(dir, "gateway.yaml"));
}

async function instance(config: Config): Promise<Instance> {
  const inputs: Obj[] = [];
  const events: Obj[] = [];
  const gw = await startGateway(config, shipped, (e) => void events.push(e), {
    onDecision: (d) => {
      inputs.push(d.input);
      return undefined;
    },
  });
  closers.push(() => gw.close());
  // The attestation stores share the decision cache's connection: wait until it takes commands.
  const client = gw.decisionCache!.l2.client;
  if (client.status !== "ready") await new Promise((r) => client.once("ready", r));
  return { gw, port: gw.segments[0]!.port, inputs, events };
}

/** Two replicas of one config over the shared Redis under a fresh prefix. */
async function replicas(attestation = ""): Promise<{ a: Instance; b: Instance; prefix: string }> {
  const prefix = testKeyPrefix();
  const config = () =>
    load(configYaml(`{ redis: "${TEST_REDIS_URL}", key_prefix: "${prefix}", ttl_s: 60 }`, attestation));
  return { a: await instance(config()), b: await instance(config()), prefix };
}

function call(
  port: number,
  path: string,
  o: { svid?: Svid; token?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const svid = pki.svids[o.svid ?? "agent"]!;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        ca: pki.ca.certPem,
        cert: svid.certPem,
        key: svid.keyPem,
        headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers },
        agent: false,
        timeout: 5000,
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end();
  });
}

function token(sub = PLANNER): Promise<string> {
  return signAccessToken(pki.issuer, { iss: DEV_ISSUER, aud: "payments", sub, scope: "payments:read" });
}

async function nonceFrom(port: number, svid: Svid = "agent"): Promise<string> {
  const r = await call(port, NONCE_PATH, { svid });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { nonce: string }).nonce;
}

function evidence(nonce: string, o: { svid?: Svid; iat?: number; image?: string } = {}): Promise<string> {
  const key = loadPrivateKey(join(dir, `${o.svid ?? "agent"}.key`));
  return signEvidence(key, {
    nonce,
    measurements: { ...GOOD, ...(o.image ? { image_digest: o.image } : {}) },
    ...(o.iat !== undefined ? { iat: o.iat } : {}),
  });
}

/** What an agent does for a passport: evidence over `nonce` → the verifier → its EAR. */
async function passport(o: { nonce?: string; image?: string } = {}): Promise<string> {
  const key = loadPrivateKey(join(dir, "agent.key"));
  const client = new VerifierClient({ url: verifier.url, media_type: EVIDENCE_MEDIA_TYPE });
  try {
    const measurements = { ...GOOD, ...(o.image ? { image_digest: o.image } : {}) };
    const out = await client.appraise(
      (n) => signEvidence(key, { nonce: n, measurements }),
      o.nonce !== undefined ? { nonce: o.nonce } : {},
    );
    if (!out.ok) throw new Error(`verifier ${out.failure.kind}: ${out.failure.message}`);
    return out.ear;
  } finally {
    client.close();
  }
}

function lastAttestation(i: Instance): Obj {
  return i.inputs.at(-1)!.attestation as Obj;
}

const send = async (i: Instance, path: string, headers: Record<string, string> = {}) =>
  call(i.port, path, { token: await token(), headers });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-attest-redis-"));
  pki = await ensureDevPki({
    dir,
    svids: [
      { name: "agent", spiffeId: PLANNER },
      { name: "other", spiffeId: OTHER },
    ],
    tokens: [],
  });
  upstream = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"upstream":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const attesters = [
    { name: "agent", public_key: join(dir, "agent.pem") },
    { name: "other", public_key: join(dir, "other.pem") },
  ];
  const dev = writeDevVerifier({ dir, attesters, listen: "127.0.0.1:0" });
  const vc = loadVerifierConfig(dev.config);
  for (const a of vc.attesters) a.reference_values.denied_image_digests = [DENIED_IMAGE];
  verifier = await startVerifier(vc, (e) => {
    if (e.msg === "evidence appraised") appraisals++;
  });
  const loaded = loadPaths([POLICIES]);
  shipped = regoPdp(compile({ modules: loaded.modules, data: loaded.data }), "portcullis/authz/decision");
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await verifier?.close();
  if (upstream) await new Promise((r) => upstream.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(unreachable !== undefined)("attestation state shared by two gateways over Redis", () => {
  it("background check: a nonce from A is accepted once at B, the verifier is asked once, a replay at A is refused", async () => {
    const { a, b, prefix } = await replicas();
    const nonce = await nonceFrom(a.port);
    const ev = await evidence(nonce);
    const before = appraisals;

    const atB = await send(b, "/payments/balance", { "attestation-evidence": ev });
    expect(atB.status).toBe(200);
    expect(lastAttestation(b)).toMatchObject({
      status: "affirming",
      model: "background-check",
      bound_to: { method: "sub", identity: PLANNER },
    });
    // The same evidence at the other replica: its verified result comes from Redis, not the verifier.
    expect((await send(a, "/payments/balance", { "attestation-evidence": ev })).status).toBe(200);
    expect(lastAttestation(a).status).toBe("affirming");
    expect(appraisals - before).toBe(1);

    // New evidence over the spent nonce, at the replica that issued it: a replay, refused unasked.
    const replay = await send(a, "/payments/balance", {
      "attestation-evidence": await evidence(nonce, { iat: Math.floor(Date.now() / 1000) - 1 }),
    });
    expect(replay.status).toBe(403);
    expect(lastAttestation(a)).toMatchObject({ status: "none", model: "background-check" });
    expect(String(lastAttestation(a).reason)).toContain("replay");
    expect(appraisals - before).toBe(1);

    // The state is where the config said: under `<key_prefix>att:<segment>:`.
    const r = a.gw.decisionCache!.l2.client;
    expect(await r.keys(`${prefix}att:payments:n:*`)).toHaveLength(1);
    expect(await r.keys(`${prefix}att:payments:r:*`)).toHaveLength(1);
  });

  it("passport: a nonce from B is consumed at A; the passport may be re-sent anywhere, a second one over it is a replay", async () => {
    const { a, b } = await replicas();
    const nonce = await nonceFrom(b.port);
    const first = await passport({ nonce });
    expect((await send(a, "/payments/balance", { "attestation-result": first })).status).toBe(200);
    expect((await send(b, "/payments/balance", { "attestation-result": first })).status).toBe(200);
    expect(lastAttestation(b)).toMatchObject({ status: "affirming", model: "passport" });
    const second = await passport({ nonce });
    expect((await send(b, "/payments/balance", { "attestation-result": second })).status).toBe(403);
    expect(String(lastAttestation(b).reason)).toContain("replay");
  });

  it("adversarial: two evidences over one nonce raced at both replicas: exactly one is accepted", async () => {
    const { a, b } = await replicas();
    for (let round = 0; round < 3; round++) {
      const nonce = await nonceFrom(a.port);
      const [e1, e2] = [
        await evidence(nonce),
        await evidence(nonce, { iat: Math.floor(Date.now() / 1000) - 1 }),
      ];
      const t = await token();
      const replies = await Promise.all([
        call(a.port, "/payments/balance", { token: t, headers: { "attestation-evidence": e1 } }),
        call(b.port, "/payments/balance", { token: t, headers: { "attestation-evidence": e2 } }),
      ]);
      expect(replies.map((r) => r.status).sort()).toEqual([200, 403]);
    }
  });

  it("adversarial: a nonce fetched by another agent at A is refused for the planner at B, and stays the owner's", async () => {
    const { a, b } = await replicas();
    const theirs = await nonceFrom(a.port, "other");
    const r = await send(b, "/payments/balance", {
      "attestation-evidence": await evidence(theirs),
    });
    expect(r.status).toBe(403);
    expect(String(lastAttestation(b).reason)).toContain("issued to another caller");
    const own = await call(b.port, "/payments/balance", {
      svid: "other",
      token: await token(OTHER),
      headers: { "attestation-evidence": await evidence(theirs, { svid: "other" }) },
    });
    expect(lastAttestation(b)).toMatchObject({ status: "affirming", bound_to: { identity: OTHER } });
    expect(own.status).toBe(200);
  });

  it("a contraindicated result served from the shared cache still drops the workload's cached decisions", async () => {
    const { a, b } = await replicas();
    const bad = await passport({ image: DENIED_IMAGE });
    expect((await send(a, "/", { "attestation-result": bad })).status).toBe(403);
    expect(lastAttestation(a).status).toBe("contraindicated");

    // B has not seen it yet: an allow for the planner lands in its decision cache.
    expect((await send(b, "/")).status).toBe(200);
    expect((await send(b, "/")).status).toBe(200);
    const dropped = b.events.filter((e) => e.event === "attestation_contraindicated");
    expect(dropped).toHaveLength(0);
    // The same result at B, verified by A and read from Redis: contraindicated, and the allow is gone.
    expect((await send(b, "/", { "attestation-result": bad })).status).toBe(403);
    expect(lastAttestation(b).status).toBe("contraindicated");
    await expect
      .poll(() => b.events.find((e) => e.event === "attestation_contraindicated"))
      .toMatchObject({ workload: PLANNER });
    expect((b.events.find((e) => e.event === "attestation_contraindicated")!.dropped as number) > 0).toBe(
      true,
    );
    expect((await send(b, "/")).status).toBe(403);
  });

  it("`attestation.store: memory` keeps a segment's nonces in its own process", async () => {
    const { a, b } = await replicas("      store: memory\n");
    const nonce = await nonceFrom(a.port);
    const r = await send(b, "/payments/balance", { "attestation-evidence": await evidence(nonce) });
    expect(r.status).toBe(403);
    expect(String(lastAttestation(b).reason)).toContain("not one the gateway issued");
    expect(
      (await send(a, "/payments/balance", { "attestation-evidence": await evidence(nonce) })).status,
    ).toBe(200);
  });
});

describe.skipIf(unreachable !== undefined)("attestation when Redis goes away", () => {
  it("nonce endpoint 503, requests decided with status none, no crash; back when Redis is", async () => {
    const port = await freePort();
    let server = await startRedis(port);
    try {
      const yaml = configYaml(
        `{ redis: "redis://127.0.0.1:${port}", key_prefix: "${testKeyPrefix()}", ttl_s: 60 }`,
      );
      const [a, b] = [await instance(load(yaml)), await instance(load(yaml))];
      const nonce = await nonceFrom(a.port);
      const ev = await evidence(nonce);
      const ear = await passport();

      await stopRedis(server);
      const before = appraisals;
      for (const g of [a, b]) {
        const t0 = Date.now();
        const n = await call(g.port, NONCE_PATH);
        expect(n.status).toBe(503);
        expect(n.headers["retry-after"]).toBe("1");
        expect(JSON.parse(n.body)).toMatchObject({ error: "temporarily_unavailable" });

        const withEvidence = await send(g, "/payments/balance", { "attestation-evidence": ev });
        expect(withEvidence.status).toBe(403);
        expect(lastAttestation(g)).toMatchObject({
          status: "none",
          reason: "attestation nonce could not be checked (nonce store unavailable)",
        });
        // The passport's nonce (the verifier picked it) cannot be checked either: not accepted.
        expect((await send(g, "/payments/balance", { "attestation-result": ear })).status).toBe(403);
        expect(lastAttestation(g).status).toBe("none");
        // What needs no attestation is still served.
        expect((await send(g, "/")).status).toBe(200);
        expect(Date.now() - t0).toBeLessThan(3000);
        expect(g.events.some((e) => e.event === "attestation_store_error")).toBe(true);
        expect(g.events.some((e) => e.event === "nonce_unavailable")).toBe(true);
      }
      expect(appraisals).toBe(before);

      server = await startRedis(port);
      // Reconnected: a fresh nonce, and the flow works again (the old nonce died with the old server).
      for (const g of [a, b]) {
        await expect.poll(async () => (await call(g.port, NONCE_PATH)).status, { timeout: 5000 }).toBe(200);
      }
      const fresh = await nonceFrom(b.port);
      expect(
        (await send(a, "/payments/balance", { "attestation-evidence": await evidence(fresh) })).status,
      ).toBe(200);
      expect((await send(b, "/payments/balance", { "attestation-evidence": ev })).status).toBe(403);
      expect(String(lastAttestation(b).reason)).toContain("not one the gateway issued");
    } finally {
      await stopRedis(server);
    }
  });
});

describe("attestation.store in the config", () => {
  const SEGMENT = `segments:
  - name: pay
    listen: 127.0.0.1:8443
    upstream: http://127.0.0.1:9001
    tls: { cert: c.pem, key: k.pem, client_ca: ca.pem, client_auth: require }
    authentication: mtls
    attestation:
      verifiers: [ { name: v, jwks_file: v.json } ]
`;
  const parse = (cache: string, store = "") =>
    parseConfig(`pdp: { policies: ./p }\n${cache}${SEGMENT}${store}`, "/tmp/gw.yaml", { checkFiles: false })
      .segments[0]!.attestation!;

  it("uses cache.redis by default, under the segment's own prefix; memory on request or without Redis", () => {
    expect(parse("cache: { redis: redis://r:6379, key_prefix: 'pc:', timeout_ms: 30 }\n")).toMatchObject({
      store: "redis",
      redis: { endpoint: "redis://r:6379", key_prefix: "pc:att:pay:", timeout_ms: 30 },
    });
    expect(parse("cache: { redis: { cluster: [r1:7000] } }\n").redis).toEqual({
      endpoint: { cluster: ["r1:7000"] },
      key_prefix: "portcullis:att:pay:",
      timeout_ms: 50,
    });
    const memory = parse("cache: { redis: redis://r:6379 }\n", "      store: memory\n");
    expect(memory.store).toBe("memory");
    expect(memory.redis).toBeUndefined();
    const none = parse("");
    expect(none.store).toBeUndefined();
    expect(none.redis).toBeUndefined();
  });

  it("names the file, line and key path of a bad store", () => {
    const problems = (cache: string, store: string): string[] => {
      try {
        parse(cache, store);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).errors.map((i) => `${i.file}:${i.line}: ${i.path}: ${i.message}`);
      }
      throw new Error("accepted");
    };
    expect(problems("", "      store: redis\n")).toEqual([
      "/tmp/gw.yaml:10: segments[0].attestation.store: is redis, but cache.redis is not set",
    ]);
    expect(problems("cache: { redis: redis://r }\n", "      store: disk\n")).toEqual([
      '/tmp/gw.yaml:11: segments[0].attestation.store: must be one of memory|redis, got "disk"',
    ]);
  });
});
