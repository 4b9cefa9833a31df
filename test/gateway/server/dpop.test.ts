// RFC 9449 DPoP end to end: a segment config parsed from YAML, real TLS with dev-PKI SVIDs, access tokens
// from the dev issuer bound to the agent's key, proofs signed by that key, a real upstream on loopback,
// and the reference attestation verifier as a real HTTP server that knows the agent by the same key — so
// its passport binds to the DPoP key the gateway verified. What the policy saw comes from the decision
// hook, what the upstream saw from its own request log.
import { createHash, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calculateJwkThumbprint, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVIDENCE_MEDIA_TYPE, loadPrivateKey, VerifierClient } from "../../../attestation/index.js";
import {
  DEMO_CONFIG_HASH,
  DEMO_IMAGE_DIGEST,
  loadVerifierConfig,
  signEvidence,
  startVerifier,
  writeDevVerifier,
  type RunningVerifier,
} from "../../../attestation/verifier/index.js";
import { ConfigError, parseConfig, type Segment } from "../../../gateway/config/index.js";
import {
  DEV_ISSUER,
  DEV_TRUST_DOMAIN,
  ensureDevPki,
  signAccessToken,
  type DevPki,
} from "../../../gateway/pki/index.js";
import { METADATA_PATH } from "../../../gateway/server/app.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startSegment } from "../../../gateway/server/serve.js";
import { compile } from "../../../pdp/rego/index.js";

const PLANNER = `spiffe://${DEV_TRUST_DOMAIN}/agent/planner`;
const EXTERNAL = "https://gw.example";
const ALGS = "ES256 PS256";

// Echoes what authentication and attestation established into upstream headers.
const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied"}
decision := {"allow": true, "headers": {
  "x-test-methods": concat(",", input.authn.methods),
  "x-test-binding": input.token.sender_constraint,
  "x-test-jkt": object.get(input.token, "dpop_jkt", "-"),
  "x-test-attestation": input.attestation.status,
}} if input.request.path != "/deny"
`;

type Obj = Record<string, unknown>;

interface AgentKey {
  privateKey: KeyObject;
  jwk: JWK;
  jkt: string;
  pemFile: string;
}

interface Running {
  name: string;
  port: number;
  metadataUrl: string;
  inputs: Obj[];
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

let dir: string;
let pki: DevPki;
let pdp: Pdp;
let upstream: Server;
let upstreamUrl: string;
let verifier: RunningVerifier;
let agent: AgentKey;
let stranger: AgentKey;
let agents: Running;
let mixed: Running;
const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
const closers: (() => Promise<unknown>)[] = [];

/** An agent's EC key: the key of its DPoP proofs and the key the verifier knows it by. */
async function agentKey(name: string): Promise<AgentKey> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const { kty, crv, x, y } = publicKey.export({ format: "jwk" });
  const jwk = { kty, crv, x, y } as JWK;
  const pemFile = join(dir, `${name}.pub.pem`);
  writeFileSync(pemFile, publicKey.export({ format: "pem", type: "spki" }));
  writeFileSync(join(dir, `${name}.key.pem`), privateKey.export({ format: "pem", type: "pkcs8" }), {
    mode: 0o600,
  });
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, "sha256"), pemFile };
}

/** A dev-issuer access token for the planner, bound to `jkt` (unbound with `null`). */
function token(jkt: string | null = agent.jkt): Promise<string> {
  return signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: "payments",
    sub: PLANNER,
    scope: "payments:read",
    ...(jkt !== null ? { claims: { cnf: { jkt } } } : {}),
  });
}

const ath = (t: string) => createHash("sha256").update(t, "ascii").digest("base64url");

/** The proof a correct client sends for `method path` at the segment's external origin. */
function proof(
  t: string,
  method: string,
  path: string,
  o: { key?: AgentKey; claims?: Obj; header?: Obj; origin?: string } = {},
): Promise<string> {
  const key = o.key ?? agent;
  return new SignJWT({
    jti: randomUUID(),
    htm: method,
    htu: `${o.origin ?? EXTERNAL}${path}`,
    iat: Math.floor(Date.now() / 1000),
    ath: ath(t),
    ...o.claims,
  })
    .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: key.jwk, ...o.header })
    .sign(key.privateKey);
}

function call(
  port: number,
  path: string,
  o: { method?: string; svid?: boolean; headers?: OutgoingHttpHeaders } = {},
): Promise<Reply> {
  const svid = o.svid === false ? undefined : pki.svids.agent!;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: o.method ?? "POST",
        ca: pki.ca.certPem,
        ...(svid ? { cert: svid.certPem, key: svid.keyPem } : {}),
        headers: o.headers,
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** `Authorization: DPoP` with the token and the given proof header value(s). */
async function dpopCall(
  g: Running,
  path: string,
  t: string,
  proofs: string | string[] | undefined,
  o: { method?: string; headers?: OutgoingHttpHeaders; svid?: boolean } = {},
): Promise<Reply> {
  return call(g.port, path, {
    ...o,
    headers: { authorization: `DPoP ${t}`, ...(proofs !== undefined ? { dpop: proofs } : {}), ...o.headers },
  });
}

/** The exact challenge of a DPoP-scheme failure (RFC 9449 §7.1), then the segment's other offers. */
function dpopChallenge(g: Running, error: string, description: string): string {
  return `DPoP realm="${g.name}", error="${error}", error_description="${description}", algs="${ALGS}", resource_metadata="${g.metadataUrl}"`;
}

async function expectRejected(
  g: Running,
  f: () => Promise<Reply>,
  error: "invalid_dpop_proof" | "invalid_token",
  description: string,
): Promise<void> {
  const before = seen.length;
  const r = await f();
  expect(seen.length - before, "the upstream must not be reached").toBe(0);
  expect(r.status, r.body).toBe(401);
  expect(r.headers["www-authenticate"]).toBe(dpopChallenge(g, error, description));
  expect(r.headers["cache-control"]).toBe("no-store");
  expect(JSON.parse(r.body)).toEqual({ error, error_description: description });
}

/** The agent's passport from the reference verifier: an EAR confirming the key it signed evidence with. */
async function passport(key: AgentKey, name: string): Promise<string> {
  const signer = loadPrivateKey(join(dir, `${name}.key.pem`));
  expect(signer.kid).toBe(key.jkt);
  const client = new VerifierClient({ url: verifier.url, media_type: EVIDENCE_MEDIA_TYPE });
  try {
    const out = await client.appraise((nonce) =>
      signEvidence(signer, {
        nonce,
        measurements: {
          image_digest: DEMO_IMAGE_DIGEST,
          config_hash: DEMO_CONFIG_HASH,
          runtime: { debug: false },
        },
      }),
    );
    if (!out.ok) throw new Error(`verifier ${out.failure.kind}: ${out.failure.message}`);
    return out.ear;
  } finally {
    client.close();
  }
}

/** An EAR signed by the trusted verifier's own key, with `patch` over its claims. */
async function reissued(ear: string, patch: Obj): Promise<string> {
  const key = loadPrivateKey(join(dir, "verifier.key"));
  const claims = JSON.parse(Buffer.from(ear.split(".")[1]!, "base64url").toString()) as Obj;
  const out: Obj = { ...claims, ...patch };
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete out[k];
  return new SignJWT(out).setProtectedHeader({ alg: key.alg, typ: "JWT", kid: key.kid }).sign(key.key);
}

function configText(): string {
  const dpop = [
    `        issuer: ${DEV_ISSUER}`,
    "        audience: payments",
    "        jwks_file: jwks.json",
    "        algorithms: [ES256]",
    "        proof_algorithms: [ES256, PS256]",
    `        external_origins: [${EXTERNAL}]`,
  ];
  const attestation = [
    "    attestation:",
    "      verifiers:",
    "        - { name: test-verifier, jwks_file: verifier-jwks.json, profiles: [veraison, draft], max_age_s: 300 }",
  ];
  return [
    "pdp: { policies: ./policies }",
    "segments:",
    "  - name: agents",
    "    listen: 127.0.0.1:0",
    `    upstream: ${upstreamUrl}`,
    "    tls: { cert: gateway.pem, key: gateway.key, client_ca: ca.pem, client_auth: require }",
    "    authentication: { all: [mtls, dpop] }",
    "    authenticators:",
    "      dpop:",
    ...dpop,
    ...attestation,
    "  - name: mixed",
    "    listen: 127.0.0.1:0",
    `    upstream: ${upstreamUrl}`,
    "    tls: { cert: gateway.pem, key: gateway.key, client_auth: none }",
    "    authentication: { any: [bearer, dpop] }",
    "    authenticators:",
    `      bearer: { issuer: ${DEV_ISSUER}, audience: payments, jwks_file: jwks.json, algorithms: [ES256] }`,
    "      dpop:",
    ...dpop,
    ...attestation,
    "",
  ].join("\n");
}

async function start(segment: Segment): Promise<Running> {
  const inputs: Obj[] = [];
  const r = await startSegment(segment, pdp, (e) => void (process.env.GW_DEBUG && console.log(e)), {
    onDecision: (d) => {
      inputs.push(d.input);
      return undefined;
    },
  });
  closers.push(() => new Promise((res) => r.server.close(res)));
  const meta = JSON.parse((await call(r.port, METADATA_PATH, { method: "GET" })).body) as Obj;
  expect(meta.dpop_signing_alg_values_supported).toEqual(["ES256", "PS256"]);
  return {
    name: segment.name,
    port: r.port,
    metadataUrl: `${String(meta.resource)}${METADATA_PATH}`,
    inputs,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-dpop-e2e-"));
  mkdirSync(join(dir, "policies"));
  pki = await ensureDevPki({ dir, svids: [{ name: "agent", spiffeId: PLANNER }], tokens: [] });
  pdp = regoPdp(compile({ modules: [{ file: "test.rego", source: POLICY }] }), "portcullis/authz/decision");
  upstream = createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    res.writeHead(200, { "content-type": "application/json" }).end('{"upstream":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  agent = await agentKey("planner");
  stranger = await agentKey("stranger");
  // Both attesters are registered by public key (no certificate), so their passports confirm that key.
  const dev = writeDevVerifier({
    dir,
    attesters: [
      { name: "planner", public_key: agent.pemFile },
      { name: "stranger", public_key: stranger.pemFile },
    ],
    listen: "127.0.0.1:0",
  });
  verifier = await startVerifier(loadVerifierConfig(dev.config));

  const config = parseConfig(configText(), join(dir, "portcullis.yaml"));
  agents = await start(config.segments[0]!);
  mixed = await start(config.segments[1]!);
});

afterAll(async () => {
  for (const c of closers) await c();
  await verifier?.close();
  await new Promise((r) => upstream?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("DPoP through a segment (all: [mtls, dpop])", () => {
  it("allows a bound token with a proof for this method and URL; the policy sees the verified key", async () => {
    const t = await token();
    const path = `/pay/${randomUUID()}?amount=5`;
    const before = seen.length;
    const r = await dpopCall(agents, path, t, await proof(t, "POST", path.split("?")[0]!));
    expect(r.status, r.body).toBe(200);
    expect(seen.length - before).toBe(1);
    const up = seen.at(-1)!;
    expect(up.url).toBe(path);
    expect(up.headers["x-test-methods"]).toBe("mtls,dpop");
    expect(up.headers["x-test-binding"]).toBe("dpop");
    expect(up.headers["x-test-jkt"]).toBe(agent.jkt);
    expect(up.headers["x-portcullis-subject"]).toBe(PLANNER);
    // The spent proof stays at the gateway; the access token travels on like a bearer token does.
    expect(up.headers.dpop).toBeUndefined();
    expect(up.headers.authorization).toBe(`DPoP ${t}`);
    const input = agents.inputs.at(-1)!;
    expect(input.token).toMatchObject({ sender_constraint: "dpop", dpop_jkt: agent.jkt });
    expect((input.request as Obj).headers).toMatchObject({ dpop: "[masked]" });
  });

  it("adversarial: no proof → 401 invalid_dpop_proof with the DPoP challenge", async () => {
    const t = await token();
    await expectRejected(
      agents,
      () => dpopCall(agents, "/pay", t, undefined),
      "invalid_dpop_proof",
      "DPoP proof missing",
    );
  });

  it("adversarial: a proof for another method, another path, or the listen address instead of the external URL", async () => {
    const t = await token();
    const err = "invalid_dpop_proof";
    await expectRejected(
      agents,
      async () => dpopCall(agents, "/pay", t, await proof(t, "GET", "/pay")),
      err,
      "DPoP proof is for another HTTP method (htm)",
    );
    await expectRejected(
      agents,
      async () => dpopCall(agents, "/pay", t, await proof(t, "POST", "/balance")),
      err,
      "DPoP proof is for another URL (htu)",
    );
    const listen = `https://127.0.0.1:${agents.port}`;
    await expectRejected(
      agents,
      async () => dpopCall(agents, "/pay", t, await proof(t, "POST", "/pay", { origin: listen })),
      err,
      "DPoP proof is for another URL (htu)",
    );
  });

  it("compares htu with the request path after the gateway's normalisation", async () => {
    const t = await token();
    // The client asked for /a/./b/../pay; the gateway and its upstream see /a/pay, and so does the proof,
    // whichever of the two spellings it names.
    for (const htuPath of ["/a/./b/../pay", "/a/pay", "/a/%70ay"]) {
      const r = await dpopCall(agents, "/a/./b/../pay", t, await proof(t, "POST", htuPath));
      expect(r.status, `${htuPath}: ${r.body}`).toBe(200);
      expect(seen.at(-1)!.url).toBe("/a/pay");
    }
  });

  it("adversarial: a replayed proof → 401, the first use allowed", async () => {
    const t = await token();
    const p = await proof(t, "POST", "/pay");
    expect((await dpopCall(agents, "/pay", t, p)).status).toBe(200);
    await expectRejected(
      agents,
      () => dpopCall(agents, "/pay", t, p),
      "invalid_dpop_proof",
      "DPoP proof replayed (jti already used)",
    );
  });

  it("adversarial: a stale proof (iat outside ±60 s) → 401", async () => {
    const t = await token();
    const old = await proof(t, "POST", "/pay", { claims: { iat: Math.floor(Date.now() / 1000) - 90 } });
    await expectRejected(
      agents,
      () => dpopCall(agents, "/pay", t, old),
      "invalid_dpop_proof",
      "DPoP proof too old (iat)",
    );
  });

  it("adversarial: a proof made for another access token (ath) → 401", async () => {
    const t = await token();
    const p = await proof(await token(), "POST", "/pay");
    await expectRejected(
      agents,
      () => dpopCall(agents, "/pay", t, p),
      "invalid_dpop_proof",
      "DPoP proof is for another access token (ath)",
    );
  });

  it("adversarial: a proof by a key other than the token's cnf.jkt → 401 invalid_token", async () => {
    // The stranger holds a token bound to the planner's key (stolen), and proves its own key.
    const t = await token(agent.jkt);
    const p = await proof(t, "POST", "/pay", { key: stranger });
    await expectRejected(
      agents,
      () => dpopCall(agents, "/pay", t, p),
      "invalid_token",
      "DPoP key does not match the token binding",
    );
  });

  it("adversarial: alg none and HS256 proofs → 401", async () => {
    const t = await token();
    const claims = {
      jti: randomUUID(),
      htm: "POST",
      htu: `${EXTERNAL}/pay`,
      iat: Math.floor(Date.now() / 1000),
      ath: ath(t),
    };
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const none = `${b64({ typ: "dpop+jwt", alg: "none", jwk: agent.jwk })}.${b64(claims)}.AAAA`;
    await expectRejected(
      agents,
      () => dpopCall(agents, "/pay", t, none),
      "invalid_dpop_proof",
      "DPoP proof algorithm not allowed",
    );
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ typ: "dpop+jwt", alg: "HS256", jwk: agent.jwk })
      .sign(new TextEncoder().encode("thirty-two bytes of shared secret!!"));
    await expectRejected(
      agents,
      () => dpopCall(agents, "/pay", t, hs),
      "invalid_dpop_proof",
      "DPoP proof algorithm not allowed",
    );
  });

  it("adversarial: a proof whose jwk carries the private key → 401", async () => {
    const t = await token();
    const p = await proof(t, "POST", "/pay", { header: { jwk: agent.privateKey.export({ format: "jwk" }) } });
    await expectRejected(
      agents,
      () => dpopCall(agents, "/pay", t, p),
      "invalid_dpop_proof",
      "DPoP proof jwk contains private key material",
    );
  });

  it("adversarial: two DPoP headers → 401, even when both proofs are valid", async () => {
    const t = await token();
    const two = [await proof(t, "POST", "/pay"), await proof(t, "POST", "/pay")];
    await expectRejected(
      agents,
      () => dpopCall(agents, "/pay", t, two),
      "invalid_dpop_proof",
      "more than one DPoP header",
    );
  });

  it("adversarial: a DPoP-bound token sent as Bearer is no credential here: bare challenges offering DPoP", async () => {
    const t = await token();
    const before = seen.length;
    const r = await call(agents.port, "/pay", {
      headers: { authorization: `Bearer ${t}`, dpop: await proof(t, "POST", "/pay") },
    });
    expect(seen.length - before).toBe(0);
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe(
      `Bearer realm="agents", resource_metadata="${agents.metadataUrl}", DPoP realm="agents", algs="${ALGS}"`,
    );
  });

  it("adversarial: an unbound token under the DPoP scheme → 401 invalid_token", async () => {
    const t = await token(null);
    await expectRejected(
      agents,
      async () => dpopCall(agents, "/pay", t, await proof(t, "POST", "/pay")),
      "invalid_token",
      "access token is not DPoP-bound",
    );
  });
});

describe("DPoP next to Bearer (any: [bearer, dpop])", () => {
  it("takes DPoP without mTLS, and plain bearer tokens still work", async () => {
    const t = await token();
    const r = await dpopCall(mixed, "/pay", t, await proof(t, "POST", "/pay"), { svid: false });
    expect(r.status, r.body).toBe(200);
    expect(seen.at(-1)!.headers["x-test-methods"]).toBe("dpop");
    const plain = await token(null);
    const b = await call(mixed.port, "/pay", { svid: false, headers: { authorization: `Bearer ${plain}` } });
    expect(b.status, b.body).toBe(200);
    expect(seen.at(-1)!.headers["x-test-binding"]).toBe("none");
    expect(seen.at(-1)!.headers["x-test-jkt"]).toBe("-");
  });

  it("adversarial: a DPoP-bound token sent as Bearer → 401 invalid_token in the Bearer challenge, DPoP offered (RFC 9449 §7.2)", async () => {
    const t = await token();
    const before = seen.length;
    const r = await call(mixed.port, "/pay", { svid: false, headers: { authorization: `Bearer ${t}` } });
    expect(seen.length - before).toBe(0);
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe(
      `Bearer realm="mixed", error="invalid_token", error_description="DPoP-bound token presented as Bearer", resource_metadata="${mixed.metadataUrl}", DPoP realm="mixed", algs="${ALGS}"`,
    );
  });

  it("no credentials → both bare challenges, no error code", async () => {
    const r = await call(mixed.port, "/pay", { svid: false });
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe(
      `Bearer realm="mixed", resource_metadata="${mixed.metadataUrl}", DPoP realm="mixed", algs="${ALGS}"`,
    );
  });
});

describe("attestation bound to the DPoP key", () => {
  it("the verifier's passport for the agent's key counts (cnf.jwk → jkt)", async () => {
    const ear = await passport(agent, "planner");
    const cnf = (JSON.parse(Buffer.from(ear.split(".")[1]!, "base64url").toString()) as Obj).cnf as Obj;
    expect(cnf.jwk).toBeDefined();
    const t = await token();
    const r = await dpopCall(agents, "/pay", t, await proof(t, "POST", "/pay"), {
      headers: { "attestation-result": ear },
    });
    expect(r.status, r.body).toBe(200);
    expect(seen.at(-1)!.headers["x-test-attestation"]).toBe("affirming");
    expect(agents.inputs.at(-1)!.attestation).toMatchObject({
      status: "affirming",
      verifier: "test-verifier",
      bound_to: { method: "jkt", identity: agent.jkt },
    });
  });

  it("an EAR with cnf.jkt of the DPoP key counts; of another key it is none with the reason", async () => {
    const base = await passport(agent, "planner");
    const mine = await reissued(base, { cnf: { jkt: agent.jkt } });
    const t = await token();
    expect(
      (
        await dpopCall(agents, "/pay", t, await proof(t, "POST", "/pay"), {
          headers: { "attestation-result": mine },
        })
      ).status,
    ).toBe(200);
    expect(agents.inputs.at(-1)!.attestation).toMatchObject({
      status: "affirming",
      bound_to: { method: "jkt", identity: agent.jkt },
    });

    const theirs = await reissued(base, { cnf: { jkt: stranger.jkt } });
    const r = await dpopCall(agents, "/pay", t, await proof(t, "POST", "/pay"), {
      headers: { "attestation-result": theirs },
    });
    expect(r.status).toBe(200);
    expect(seen.at(-1)!.headers["x-test-attestation"]).toBe("none");
    expect(agents.inputs.at(-1)!.attestation).toEqual({
      status: "none",
      model: "passport",
      verifier: "test-verifier",
      reason: "attestation result is for another workload: its cnf key is not the DPoP key of this request",
    });
  });

  it("adversarial: the stranger's own passport does not count for a request proving the planner's key", async () => {
    const ear = await passport(stranger, "stranger");
    const t = await token();
    await dpopCall(agents, "/pay", t, await proof(t, "POST", "/pay"), {
      headers: { "attestation-result": ear },
    });
    expect(agents.inputs.at(-1)!.attestation).toMatchObject({
      status: "none",
      reason: expect.stringContaining("not the DPoP key") as string,
    });
  });

  it("adversarial: a key-bound passport never counts on a request that proved no DPoP key", async () => {
    const ear = await reissued(await passport(agent, "planner"), { cnf: { jkt: agent.jkt } });
    // Bearer on the mixed segment: no client certificate, no proof — nothing the result could name.
    const plain = await token(null);
    const r = await call(mixed.port, "/pay", {
      svid: false,
      headers: { authorization: `Bearer ${plain}`, "attestation-result": ear },
    });
    expect(r.status).toBe(200);
    expect(mixed.inputs.at(-1)!.attestation).toMatchObject({
      status: "none",
      reason: expect.stringContaining("proves none of the identities") as string,
    });
  });
});

describe("config", () => {
  const base = () => configText();

  it("names file, key and problem for bad dpop settings", () => {
    const bad = base()
      .replace("proof_algorithms: [ES256, PS256]", "proof_algorithms: [ES256, HS256]")
      .replace(`external_origins: [${EXTERNAL}]`, `external_origins: [${EXTERNAL}/api]`);
    let err: unknown;
    try {
      parseConfig(bad, join(dir, "bad.yaml"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const paths = (err as ConfigError).errors.map((e) => e.path);
    expect(paths).toContain("segments[0].authenticators.dpop.proof_algorithms[1]");
    expect(paths).toContain("segments[0].authenticators.dpop.external_origins[0]");
    expect((err as ConfigError).message).toContain(join(dir, "bad.yaml"));
  });

  it("refuses a segment whose proofs could never match: no external_origins on port 0", async () => {
    const text = base().replace(`        external_origins: [${EXTERNAL}]\n`, "");
    const segment = parseConfig(text, join(dir, "noorigin.yaml")).segments[0]!;
    expect(segment.authenticators.dpop!.external_origins).toBeUndefined();
    await expect(startSegment(segment, pdp, () => {})).rejects.toThrow(
      /segment agents: authenticators.dpop: external_origins is required when listening on 127.0.0.1:0/,
    );
  });
});
