// Attestation in the gateway's request path, end to end: real TLS with dev-PKI SVIDs, the reference
// verifier as a real HTTP server (its own signing key, the agents' SVIDs registered as attesters), real
// evidence signed by the agents' keys, the shipped policy in the real Rego engine, a real upstream on
// loopback. What the policy saw is read from the decision hook (`input.attestation`), what the upstream
// saw from its own request log.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
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
import {
  ConfigError,
  parseConfig,
  type Segment,
  type SegmentAttestation,
} from "../../../gateway/config/index.js";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";
import { NONCE_LIMIT_PER_MINUTE } from "../../../gateway/server/attestation.js";
import { demoAttestation, demoSegment } from "../../../gateway/server/demo.js";
import { cachedPdp, regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startSegment } from "../../../gateway/server/serve.js";
import { LruDecisionCache } from "../../../pdp/cache/index.js";
import { compile } from "../../../pdp/rego/index.js";

const PLANNER = "spiffe://demo.portcullis/agent/planner";
const OTHER = "spiffe://demo.portcullis/agent/other";
const NONCE_PATH = "/.well-known/portcullis/attestation-nonce";
const GOOD: Measurements = {
  image_digest: DEMO_IMAGE_DIGEST,
  config_hash: DEMO_CONFIG_HASH,
  runtime: { debug: false },
};
const DENIED_IMAGE = "sha256:" + "d".repeat(64);

type Svid = "agent" | "other";
type Obj = Record<string, unknown>;

let dir: string;
let pki: DevPki;
let upstream: Server;
let upstreamUrl: string;
const seen: IncomingHttpHeaders[] = [];
let verifier: RunningVerifier;
/** A second reference verifier with its own key, which no segment trusts. */
let stranger: RunningVerifier;
let shipped: Pdp;
const closers: (() => Promise<unknown> | void)[] = [];

interface Reply {
  status: number;
  body: string;
  headers: IncomingHttpHeaders;
}

interface Running {
  port: number;
  /** Every policy input, in order (from the decision hook). */
  inputs: Obj[];
  /** Every gateway log event, in order. */
  events: Obj[];
}

function call(
  port: number,
  path: string,
  o: {
    svid?: Svid | null;
    token?: string;
    headers?: Record<string, string | string[]>;
    method?: string;
  } = {},
): Promise<Reply> {
  const svid = o.svid === null ? undefined : pki.svids[o.svid ?? "agent"]!;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: o.method ?? "GET",
        ca: pki.ca.certPem,
        ...(svid ? { cert: svid.certPem, key: svid.keyPem } : {}),
        headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers },
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

function token(sub = PLANNER): Promise<string> {
  return signAccessToken(pki.issuer, { iss: DEV_ISSUER, aud: "payments", sub, scope: "payments:read" });
}

/** A segment of the demo shape (mTLS + bearer) with attestation, deciding with `pdp`. */
async function gateway(
  o: {
    name?: string;
    pdp?: Pdp;
    attestation?: Partial<SegmentAttestation>;
    segment?: Partial<Segment>;
  } = {},
): Promise<Running> {
  const inputs: Obj[] = [];
  const events: Obj[] = [];
  const attestation = { ...demoAttestation(dir, verifier.url), ...o.attestation };
  const seg = demoSegment(dir, upstreamUrl, 0, { name: o.name ?? "payments", attestation, ...o.segment });
  const running = await startSegment(seg, o.pdp ?? shipped, (e) => void events.push(e), {
    onDecision: (d) => {
      inputs.push(d.input);
      return undefined;
    },
  });
  closers.push(() => new Promise((r) => running.server.close(r)));
  return { port: running.port, inputs, events };
}

/** `input.attestation` of the latest decision. */
function lastAttestation(g: Running): Obj {
  return g.inputs.at(-1)!.attestation as Obj;
}

/** Runs the background-check exchange with the verifier for an agent: its EAR (a passport). */
async function passport(
  o: { svid?: Svid; nonce?: string; measurements?: Partial<Measurements>; url?: string } = {},
): Promise<string> {
  const key = loadPrivateKey(join(dir, `${o.svid ?? "agent"}.key`));
  const client = new VerifierClient({ url: o.url ?? verifier.url, media_type: EVIDENCE_MEDIA_TYPE });
  try {
    const measurements = { ...GOOD, ...o.measurements };
    const out = await client.appraise(
      (nonce) => signEvidence(key, { nonce, measurements }),
      o.nonce !== undefined ? { nonce: o.nonce } : {},
    );
    if (!out.ok) throw new Error(`verifier ${out.failure.kind}: ${out.failure.message}`);
    return out.ear;
  } finally {
    client.close();
  }
}

async function nonceFor(port: number, svid: Svid = "agent"): Promise<string> {
  const r = await call(port, NONCE_PATH, { svid });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { nonce: string }).nonce;
}

function claimsOf(jwt: string): Obj {
  return JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()) as Obj;
}

/** The verifier's EAR with `patch` applied, signed again with the verifier's own key. */
function reissued(ear: string, patch: Obj): Promise<string> {
  const key = loadPrivateKey(join(dir, "verifier.key"));
  return new SignJWT({ ...claimsOf(ear), ...patch })
    .setProtectedHeader({ alg: key.alg, typ: "JWT", kid: key.kid })
    .sign(key.key);
}

async function upstreamCalls(f: () => Promise<unknown>): Promise<number> {
  const before = seen.length;
  await f();
  return seen.length - before;
}

const nowS = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-attest-gw-"));
  pki = await ensureDevPki({
    dir,
    svids: [
      { name: "agent", spiffeId: PLANNER },
      { name: "other", spiffeId: OTHER },
    ],
    tokens: [],
  });
  upstream = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"upstream":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  const attesters = [
    { name: "agent", public_key: join(dir, "agent.pem") },
    { name: "other", public_key: join(dir, "other.pem") },
  ];
  // Writes verifier.key and verifier-jwks.json into `dir`, where demoAttestation looks for them.
  const dev = writeDevVerifier({ dir, attesters, listen: "127.0.0.1:0" });
  const config = loadVerifierConfig(dev.config);
  for (const a of config.attesters) a.reference_values.denied_image_digests = [DENIED_IMAGE];
  verifier = await startVerifier(config);
  const strangerDev = writeDevVerifier({ dir: join(dir, "stranger"), attesters, listen: "127.0.0.1:0" });
  stranger = await startVerifier(loadVerifierConfig(strangerDev.config));

  const loaded = loadPaths([join(import.meta.dirname, "../../../policies")]);
  shipped = regoPdp(compile({ modules: loaded.modules, data: loaded.data }), "portcullis/authz/decision");
});

afterAll(async () => {
  for (const c of closers) await c();
  await verifier?.close();
  await stranger?.close();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("passport model (attestation-result header)", () => {
  it("an affirming passport bound to the agent is allowed on the sensitive route", async () => {
    const g = await gateway();
    const ear = await passport();
    const r = await call(g.port, "/payments/balance", {
      token: await token(),
      headers: { "attestation-result": ear },
    });
    expect(r.status).toBe(200);
    const att = lastAttestation(g);
    expect(att).toMatchObject({
      status: "affirming",
      model: "passport",
      verifier: "demo-verifier",
      bound_to: { method: "sub", identity: PLANNER },
    });
    expect(att.expires_at).toBe(claimsOf(ear).exp);
    expect((att.trust_vector as Obj).executables).toEqual({ tier: "affirming", value: 2 });
  });

  it("the same agent without attestation is denied on the sensitive route and allowed on GET /", async () => {
    const g = await gateway();
    const t = await token();
    const denied = await call(g.port, "/payments/balance", { token: t });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.body)).toEqual({ error: "access_denied", error_description: "access denied" });
    expect(lastAttestation(g)).toEqual({
      status: "none",
      reason: "no attestation result or evidence presented",
    });
    const deny = g.events.find((e) => e.event === "deny");
    expect(deny?.reason).toContain("AI agent on a sensitive segment needs an affirming attestation");
    expect((await call(g.port, "/", { token: t })).status).toBe(200);
  });

  it("an expired passport (exp passed, re-issued by the trusted verifier's own key) is none and denied", async () => {
    const g = await gateway();
    const ear = await reissued(await passport(), { iat: nowS() - 200, exp: nowS() - 100 });
    const hits = await upstreamCalls(async () => {
      const r = await call(g.port, "/payments/balance", {
        token: await token(),
        headers: { "attestation-result": ear },
      });
      expect(r.status).toBe(403);
    });
    expect(hits).toBe(0);
    expect(lastAttestation(g).status).toBe("none");
    expect(String(lastAttestation(g).reason)).toMatch(/expired/);
  });

  it("a passport older than the segment's max_age_s is none and denied, though its exp has not passed", async () => {
    const g = await gateway({
      attestation: {
        verifiers: [{ ...demoAttestation(dir, verifier.url).verifiers[0]!, max_age_s: 60, clock_skew_s: 0 }],
      },
    });
    const ear = await reissued(await passport(), { iat: nowS() - 120, exp: nowS() + 600 });
    const r = await call(g.port, "/payments/balance", {
      token: await token(),
      headers: { "attestation-result": ear },
    });
    expect(r.status).toBe(403);
    expect(lastAttestation(g).status).toBe("none");
    expect(String(lastAttestation(g).reason)).toMatch(/old/);
  });

  it("adversarial: a passport signed by a verifier the segment does not trust is none and denied", async () => {
    const g = await gateway();
    const ear = await passport({ url: stranger.url });
    expect(claimsOf(ear).sub).toBe(PLANNER); // a genuine result, just from the wrong signer
    const r = await call(g.port, "/payments/balance", {
      token: await token(),
      headers: { "attestation-result": ear },
    });
    expect(r.status).toBe(403);
    expect(lastAttestation(g).status).toBe("none");
    expect(lastAttestation(g).bound_to).toBeUndefined();
  });

  it("adversarial: another agent's affirming passport presented by the planner is none and denied", async () => {
    const g = await gateway();
    const theirs = await passport({ svid: "other" });
    const r = await call(g.port, "/payments/balance", {
      token: await token(),
      headers: { "attestation-result": theirs },
    });
    expect(r.status).toBe(403);
    const att = lastAttestation(g);
    expect(att.status).toBe("none");
    expect(String(att.reason)).toContain("is for another workload");
    expect(String(att.reason)).toContain(OTHER);
    // The owner itself is allowed with it: the result is fine, only the binding failed.
    const own = await call(g.port, "/payments/balance", {
      svid: "other",
      token: await token(OTHER),
      headers: { "attestation-result": theirs },
    });
    expect(own.status).toBe(200);
  });

  it("adversarial: a second result carrying a spent gateway nonce is a replay; the first may be re-sent", async () => {
    const g = await gateway();
    const t = await token();
    const nonce = await nonceFor(g.port);
    const first = await passport({ nonce });
    const second = await passport({ nonce }); // a new verifier session over the same nonce
    expect(second).not.toBe(first);
    const a = await call(g.port, "/payments/balance", { token: t, headers: { "attestation-result": first } });
    expect(a.status).toBe(200);
    const b = await call(g.port, "/payments/balance", {
      token: t,
      headers: { "attestation-result": second },
    });
    expect(b.status).toBe(403);
    expect(lastAttestation(g)).toMatchObject({ status: "none" });
    expect(String(lastAttestation(g).reason)).toContain("replay");
    const again = await call(g.port, "/payments/balance", {
      token: t,
      headers: { "attestation-result": first },
    });
    expect(again.status).toBe(200);
  });

  it("adversarial: a tampered trust vector (warning edited to affirming) breaks the signature: none, denied", async () => {
    const g = await gateway();
    const t = await token();
    const warning = await passport({ measurements: { runtime: { debug: true } } });
    const honest = await call(g.port, "/payments/balance", {
      token: t,
      headers: { "attestation-result": warning },
    });
    expect(honest.status).toBe(403);
    expect(lastAttestation(g).status).toBe("warning");

    const claims = claimsOf(warning);
    for (const s of Object.values(claims.submods as Record<string, Obj>)) {
      s["ear.status"] = "affirming";
      s["ear.trustworthiness-vector"] = { "instance-identity": 2, executables: 2, configuration: 2 };
    }
    const [h, , sig] = warning.split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}`;
    const r = await call(g.port, "/payments/balance", {
      token: t,
      headers: { "attestation-result": forged },
    });
    expect(r.status).toBe(403);
    expect(lastAttestation(g).status).toBe("none");
    expect(lastAttestation(g).trust_vector).toBeUndefined();
  });

  it("adversarial: malformed, duplicated, doubled-up and oversized headers are none, never a crash or an allow", async () => {
    const g = await gateway();
    const t = await token();
    const ear = await passport();
    const cases: [Record<string, string | string[]>, RegExp][] = [
      [{ "attestation-result": "not-a-jwt" }, /malformed|compact/i],
      [{ "attestation-result": "e30.e30.e30" }, /malformed/],
      [{ "attestation-result": [ear, ear] }, /more than one attestation-result/],
      [{ "attestation-result": ear, "attestation-evidence": "x.y.z" }, /both/],
      [{ "attestation-evidence": "garbage" }, /evidence carries no nonce/],
    ];
    const hits = await upstreamCalls(async () => {
      for (const [headers, reason] of cases) {
        const r = await call(g.port, "/payments/balance", { token: t, headers });
        expect(r.status, JSON.stringify(headers).slice(0, 80)).toBe(403);
        const att = lastAttestation(g);
        expect(att.status).toBe("none");
        expect(String(att.reason)).toMatch(reason);
      }
      // Oversized: refused by the request-head limits before authentication or appraisal.
      const huge = await call(g.port, "/payments/balance", {
        token: t,
        headers: { "attestation-result": "a".repeat(40 * 1024) },
      });
      expect(huge.status).toBe(431);
    });
    expect(hits).toBe(0);
  });
});

describe("background-check model (attestation-evidence header)", () => {
  it("evidence over a gateway nonce is appraised by the verifier: affirming, allowed", async () => {
    const g = await gateway();
    const nonce = await nonceFor(g.port);
    const evidence = await signEvidence(loadPrivateKey(join(dir, "agent.key")), {
      nonce,
      measurements: GOOD,
    });
    const r = await call(g.port, "/payments/balance", {
      token: await token(),
      headers: { "attestation-evidence": evidence },
    });
    expect(r.status).toBe(200);
    expect(lastAttestation(g)).toMatchObject({
      status: "affirming",
      model: "background-check",
      verifier: "demo-verifier",
    });
  });

  it("verifier down: status none with the reason, denied on the sensitive route, GET / still allowed", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const g = await gateway({
      attestation: {
        background_check: { verifier: "demo-verifier", url: `http://127.0.0.1:${port}`, timeout_ms: 2000 },
      },
    });
    const t = await token();
    const nonce = await nonceFor(g.port);
    const evidence = await signEvidence(loadPrivateKey(join(dir, "agent.key")), {
      nonce,
      measurements: GOOD,
    });
    const r = await call(g.port, "/payments/balance", {
      token: t,
      headers: { "attestation-evidence": evidence },
    });
    expect(r.status).toBe(403);
    expect(lastAttestation(g)).toMatchObject({ status: "none", model: "background-check" });
    expect(String(lastAttestation(g).reason)).toContain("unreachable");
    expect(g.events.find((e) => e.event === "deny")?.reason).toContain("needs an affirming attestation");
    const index = await call(g.port, "/", { token: t, headers: { "attestation-evidence": evidence } });
    expect(index.status).toBe(200);
  });

  it("verifier slow: the exchange times out into status none, denied", async () => {
    const held: import("node:http").ServerResponse[] = [];
    const slow = createServer((_req, res) => void held.push(res)); // accepts, never answers
    await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
    try {
      const g = await gateway({
        attestation: {
          background_check: {
            verifier: "demo-verifier",
            url: `http://127.0.0.1:${(slow.address() as AddressInfo).port}`,
            timeout_ms: 300,
          },
        },
      });
      const nonce = await nonceFor(g.port);
      const evidence = await signEvidence(loadPrivateKey(join(dir, "agent.key")), {
        nonce,
        measurements: GOOD,
      });
      const r = await call(g.port, "/payments/balance", {
        token: await token(),
        headers: { "attestation-evidence": evidence },
      });
      expect(r.status).toBe(403);
      expect(lastAttestation(g).status).toBe("none");
      expect(String(lastAttestation(g).reason)).toContain("timeout");
      expect(held.length).toBeGreaterThan(0); // it did reach the (slow) verifier
    } finally {
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });

  it("adversarial: evidence signed by a key the verifier does not know is rejected: none, denied", async () => {
    const g = await gateway();
    const nonce = await nonceFor(g.port);
    // The gateway's own TLS key: a real key, registered with no verifier.
    const evidence = await signEvidence(loadPrivateKey(join(dir, "gateway.key")), {
      nonce,
      measurements: GOOD,
    });
    const hits = await upstreamCalls(async () => {
      const r = await call(g.port, "/payments/balance", {
        token: await token(),
        headers: { "attestation-evidence": evidence },
      });
      expect(r.status).toBe(403);
    });
    expect(hits).toBe(0);
    expect(lastAttestation(g).status).toBe("none");
    expect(String(lastAttestation(g).reason)).toContain("rejected");
  });

  it("adversarial: evidence over a nonce issued to another agent is none, and spends nothing of theirs", async () => {
    const g = await gateway();
    const theirs = await nonceFor(g.port, "other");
    const evidence = await signEvidence(loadPrivateKey(join(dir, "agent.key")), {
      nonce: theirs,
      measurements: GOOD,
    });
    const r = await call(g.port, "/payments/balance", {
      token: await token(),
      headers: { "attestation-evidence": evidence },
    });
    expect(r.status).toBe(403);
    expect(String(lastAttestation(g).reason)).toContain("another caller");
  });

  it("adversarial: evidence over a nonce the gateway never issued is none", async () => {
    const g = await gateway();
    const evidence = await signEvidence(loadPrivateKey(join(dir, "agent.key")), {
      nonce: Buffer.alloc(32, 7).toString("base64url"),
      measurements: GOOD,
    });
    const r = await call(g.port, "/payments/balance", {
      token: await token(),
      headers: { "attestation-evidence": evidence },
    });
    expect(r.status).toBe(403);
    expect(String(lastAttestation(g).reason)).toContain("not one the gateway issued");
  });
});

describe("the nonce endpoint", () => {
  it("GET and POST return a fresh {nonce, expires_at} on mTLS alone; other methods are 405", async () => {
    const g = await gateway();
    const a = await call(g.port, NONCE_PATH);
    const b = await call(g.port, NONCE_PATH, { method: "POST" });
    for (const r of [a, b]) {
      expect(r.status).toBe(200);
      expect(r.headers["cache-control"]).toBe("no-store");
      const body = JSON.parse(r.body) as { nonce: string; expires_at: number };
      expect(body.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(body.expires_at).toBeGreaterThan(nowS());
      expect(body.expires_at).toBeLessThanOrEqual(nowS() + 121);
    }
    expect(JSON.parse(a.body).nonce).not.toBe(JSON.parse(b.body).nonce);
    const d = await call(g.port, NONCE_PATH, { method: "DELETE" });
    expect(d.status).toBe(405);
    expect(d.headers.allow).toBe("GET, POST");
  });

  it("adversarial: without a client certificate (client_auth optional) no nonce is issued", async () => {
    const base = demoSegment(dir, upstreamUrl, 0);
    const g = await gateway({ segment: { tls: { ...base.tls, client_auth: "optional" } } });
    const r = await call(g.port, NONCE_PATH, { svid: null });
    expect(r.status).toBe(403);
    expect(r.body).not.toContain('nonce":');
  });

  it("adversarial: one caller gets a bounded number of nonces per minute (429), others are unaffected", async () => {
    const g = await gateway();
    for (let i = 0; i < NONCE_LIMIT_PER_MINUTE; i++) {
      expect((await call(g.port, NONCE_PATH)).status).toBe(200);
    }
    const over = await call(g.port, NONCE_PATH);
    expect(over.status).toBe(429);
    expect(Number(over.headers["retry-after"])).toBeGreaterThan(0);
    expect((await call(g.port, NONCE_PATH, { svid: "other" })).status).toBe(200);
  });
});

describe("contraindicated results", () => {
  it("deny everywhere, drop the workload's cached allows, and outrank older results until a newer one", async () => {
    const cache = new LruDecisionCache({ maxEntries: 100 });
    const g = await gateway({ pdp: cachedPdp(shipped, cache, { ttlS: 60 }) });
    const pub = await gateway({ name: "public" });
    const t = await token();
    const good = await passport();

    expect((await call(g.port, "/", { token: t })).status).toBe(200);
    expect((await call(g.port, "/health", { token: t })).status).toBe(200);
    expect(cache.size).toBe(2);

    const bad = await passport({ measurements: { image_digest: DENIED_IMAGE } });
    const r = await call(g.port, "/", { token: t, headers: { "attestation-result": bad } });
    expect(r.status).toBe(403);
    expect(lastAttestation(g).status).toBe("contraindicated");
    expect((lastAttestation(g).trust_vector as Obj).executables).toEqual({
      tier: "contraindicated",
      value: 96,
    });
    // Both allows dropped; only this request's deny is cached now.
    expect(g.events.find((e) => e.event === "attestation_contraindicated")).toMatchObject({
      workload: PLANNER,
      dropped: 2,
    });
    expect(cache.size).toBe(1);

    // Denied on every route, even without presenting anything, and with the older affirming passport.
    expect((await call(g.port, "/", { token: t })).status).toBe(403);
    expect(lastAttestation(g).status).toBe("contraindicated");
    expect((await call(g.port, "/health", { token: t })).status).toBe(403);
    const older = await call(g.port, "/payments/balance", {
      token: t,
      headers: { "attestation-result": good },
    });
    expect(older.status).toBe(403);
    expect(lastAttestation(g).status).toBe("contraindicated");
    // And on the non-sensitive segment too.
    expect((await call(pub.port, "/docs", { token: t, headers: { "attestation-result": bad } })).status).toBe(
      403,
    );

    // A result issued after the contraindicated one supersedes it (issue times are whole seconds).
    while (nowS() <= (claimsOf(bad).iat as number)) await new Promise((res) => setTimeout(res, 100));
    const fresh = await passport();
    const ok = await call(g.port, "/payments/balance", {
      token: t,
      headers: { "attestation-result": fresh },
    });
    expect(ok.status).toBe(200);
    expect((await call(g.port, "/", { token: t })).status).toBe(200);
    // The result from before the contraindicated one still does not count.
    await call(g.port, "/payments/balance", { token: t, headers: { "attestation-result": good } });
    expect(lastAttestation(g)).toMatchObject({ status: "none" });
    expect(String(lastAttestation(g).reason)).toContain("predates a contraindicated result");
  });
});

describe("decision cache", () => {
  /** The shipped policy behind a cache with a clock the test moves; counts real evaluations. */
  function cachedShipped(offsetMs: { value: number }) {
    let evaluations = 0;
    const counted: Pdp = {
      revision: shipped.revision,
      entrypoint: shipped.entrypoint,
      decide: (input, context) => {
        evaluations++;
        return shipped.decide(input, context);
      },
    };
    const pdp = cachedPdp(counted, new LruDecisionCache({ maxEntries: 100 }), {
      ttlS: 60,
      now: () => Date.now() + offsetMs.value,
    });
    return { pdp, evaluations: () => evaluations };
  }

  it("a cached allow never outlives the attestation result it rests on", async () => {
    const offset = { value: 0 };
    const { pdp, evaluations } = cachedShipped(offset);
    const g = await gateway({ pdp });
    const t = await token();
    // Valid for 20 s: shorter than cache.ttl_s (60) and the policy's own bound (300 s - age).
    const ear = await reissued(await passport(), { iat: nowS(), exp: nowS() + 20 });
    const send = () =>
      call(g.port, "/payments/balance", { token: t, headers: { "attestation-result": ear } });

    expect((await send()).status).toBe(200);
    expect(evaluations()).toBe(1);
    expect(lastAttestation(g).expires_at).toBe(claimsOf(ear).exp);
    offset.value = 10_000;
    expect((await send()).status).toBe(200);
    expect(evaluations()).toBe(1); // a hit while the result is valid
    offset.value = 25_000; // past the result's expiry, well within cache.ttl_s
    expect((await send()).status).toBe(200);
    expect(evaluations()).toBe(2);
  });

  it("a decision made with an attestation result is not reused for a request without one", async () => {
    const { pdp, evaluations } = cachedShipped({ value: 0 });
    const g = await gateway({ pdp });
    const t = await token();
    const ear = await passport();
    expect(
      (await call(g.port, "/payments/b", { token: t, headers: { "attestation-result": ear } })).status,
    ).toBe(200);
    expect(
      (await call(g.port, "/payments/b", { token: t, headers: { "attestation-result": ear } })).status,
    ).toBe(200);
    expect(evaluations()).toBe(1);
    expect((await call(g.port, "/payments/b", { token: t })).status).toBe(403);
    expect(evaluations()).toBe(2);
  });
});

describe("attestation headers", () => {
  const ECHO = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied", "reasons": ["default"]}
decision := {"allow": true, "headers": {
  "x-saw-ear": object.get(input.request.headers, "x-agent-ear", "absent"),
  "x-saw-default": object.get(input.request.headers, "attestation-result", "absent"),
  "x-status": input.attestation.status,
}} if input.request.path == "/echo"
`;
  const echo = () =>
    regoPdp(compile({ modules: [{ file: "echo.rego", source: ECHO }] }), "portcullis/authz/decision");
  const attestationNames = (h: IncomingHttpHeaders) =>
    Object.keys(h).filter((k) => /attestation|agent-e(ar|vidence)/.test(k.replace(/_/g, "-")));

  it("the upstream never sees them (configured names, defaults, underscore spellings); the policy sees them masked", async () => {
    const g = await gateway({
      pdp: echo(),
      attestation: { result_header: "x-agent-ear", evidence_header: "x-agent-evidence" },
    });
    const ear = await passport();
    let headers: IncomingHttpHeaders = {};
    const hits = await upstreamCalls(async () => {
      const r = await call(g.port, "/echo", {
        token: await token(),
        headers: {
          "x-agent-ear": ear,
          "attestation-result": "junk",
          attestation_evidence: "junk",
          "x-agent-evidence-extra": "kept",
        },
      });
      expect(r.status).toBe(200);
      headers = seen.at(-1)!;
    });
    expect(hits).toBe(1);
    expect(attestationNames(headers)).toEqual(["x-agent-evidence-extra"]);
    expect(headers["x-saw-ear"]).toBe("[masked]");
    expect(headers["x-saw-default"]).toBe("[masked]");
    expect(headers["x-status"]).toBe("affirming");
  });

  it("a segment without attestation strips the default headers too, and its input says none", async () => {
    const inputs: Obj[] = [];
    const running = await startSegment(demoSegment(dir, upstreamUrl, 0), echo(), () => undefined, {
      onDecision: (d) => {
        inputs.push(d.input);
        return undefined;
      },
    });
    closers.push(() => new Promise((r) => running.server.close(r)));
    const r = await call(running.port, "/echo", {
      token: await token(),
      headers: { "attestation-result": await passport(), "attestation-evidence": "x" },
    });
    expect(r.status).toBe(200);
    expect(attestationNames(seen.at(-1)!)).toEqual([]);
    expect(inputs.at(-1)!.attestation).toEqual({ status: "none" });
  });
});

describe("attestation config", () => {
  const BASE = `pdp: { policies: ./policies }
segments:
  - name: payments
    listen: 127.0.0.1:8443
    upstream: http://127.0.0.1:9001
    tls: { cert: gw.pem, key: gw.key, client_ca: ca.pem }
    authentication: mtls
    attestation:
`;
  const parse = (att: string) => parseConfig(BASE + att, join(dir, "cfg.yaml"), { checkFiles: false });
  const problems = (att: string): string[] => {
    try {
      parse(att);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).errors.map((i) => `${i.line}: ${i.path}: ${i.message}`);
    }
    throw new Error("accepted");
  };

  it("fills defaults and maps the keys onto the attestation module's config", () => {
    const c = parse(`      verifiers: [ { name: v, jwks_file: v.json } ]
      background_check: { verifier: v, url: "http://127.0.0.1:8710" }
`);
    expect(c.segments[0]!.attestation).toEqual({
      verifiers: [{ name: "v", jwks_file: join(dir, "v.json"), max_age_s: 300, clock_skew_s: 30 }],
      background_check: { verifier: "v", url: "http://127.0.0.1:8710", timeout_ms: 2000 },
      nonce_ttl_s: 120,
      nonce_path: NONCE_PATH,
      result_header: "attestation-result",
      evidence_header: "attestation-evidence",
    });
  });

  it("names the file line and key path of every mistake", () => {
    const p = problems(`      verifiers:
        - { name: v, jwks_file: v.json, jwks_url: "https://x.example/jwks", profiles: [veraison, eat], algorithms: [HS256] }
        - { name: v, jwks_file: w.json }
        - { name: x, jwks_url: "http://verifier.example/jwks", max_age_s: 0 }
      background_check: { verifier: w, url: "https://v.example/?q=1", timeout_ms: 0 }
      nonce_path: /a/../b
      result_header: X-Ear
      evidence_header: x-ear
      requre_nonce: true
`);
    const text = p.join("\n");
    expect(text).toContain(
      "segments[0].attestation.verifiers[0]: needs exactly one of jwks_file or jwks_url",
    );
    expect(text).toContain('segments[0].attestation.verifiers[0].profiles[1]: unknown EAR profile "eat"');
    expect(text).toMatch(/verifiers\[0\]\.algorithms\[0\]: must be one of/);
    expect(text).toContain('segments[0].attestation.verifiers[1].name: duplicate verifier name "v"');
    expect(text).toMatch(/verifiers\[2\]\.jwks_url: must be a https URL \(http only on loopback\)/);
    expect(text).toMatch(/verifiers\[2\]\.max_age_s: must be an integer from 1/);
    expect(text).toContain('background_check.verifier: must name an entry of attestation.verifiers, got "w"');
    expect(text).toContain("background_check.url: must not have a query or fragment");
    expect(text).toMatch(/background_check\.timeout_ms: must be an integer from 1/);
    expect(text).toMatch(/attestation\.nonce_path: must be an absolute path of plain segments/);
    expect(text).toContain("attestation.evidence_header: must differ from result_header");
    expect(text).toContain('attestation.requre_nonce: unknown key (did you mean "require_nonce"?)');
    expect(p.every((l) => /^\d+: /.test(l))).toBe(true);
  });

  it("a segment whose verifier keys cannot be loaded does not start", async () => {
    const { background_check: _unused, ...passportOnly } = demoAttestation(dir, verifier.url);
    const seg = demoSegment(dir, upstreamUrl, 0, {
      attestation: {
        ...passportOnly,
        verifiers: [{ name: "gone", jwks_file: join(dir, "missing-jwks.json") }],
      },
    });
    await expect(startSegment(seg, shipped, () => undefined)).rejects.toThrow(/missing-jwks\.json/);
  });
});
