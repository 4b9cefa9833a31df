// Every authenticator and every any/all shape end to end: real TLS with the dev PKI, a real upstream, real
// JWKS and RFC 7662 introspection servers on loopback, real hashed keys/users/psk files on disk.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashScrypt, hashSha256 } from "../../../gateway/authn/secrets.js";
import {
  loadConfig,
  type Authenticators,
  type ClientAuth,
  type Segment,
} from "../../../gateway/config/index.js";
import {
  createCA,
  createIssuer,
  DEV_ISSUER,
  DEV_TRUST_DOMAIN,
  ensureDevPki,
  issueSvid,
  signAccessToken,
  type DevPki,
  type Issued,
} from "../../../gateway/pki/index.js";
import { METADATA_PATH } from "../../../gateway/server/app.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startSegment, type RunningSegment } from "../../../gateway/server/serve.js";
import { compile } from "../../../pdp/rego/index.js";
import {
  makeKey,
  nowS,
  startJwksServer,
  startServer,
  type SigningKey,
  type TestServer,
} from "../authn/helpers.js";

// Echoes what authentication established into upstream headers, so each test sees which methods counted.
const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied"}
decision := {"allow": true, "headers": {
  "x-test-methods": concat(",", input.authn.methods),
  "x-test-subject": input.authn.subject,
}} if input.request.path != "/deny"
`;

const AGENT_ID = `spiffe://${DEV_TRUST_DOMAIN}/agent/planner`;
const AS_ISSUER = "https://as.example";
const ASSERT_A = "https://workloads-a.example";
const ASSERT_B = "https://workloads-b.example";
const GW_AUDIENCE = "https://gateway.example";
const CLIENT_ID = "gateway";
const CLIENT_SECRET = "introspection-client-s3cret";

const API_KEY = `ak_${randomBytes(24).toString("base64url")}`;
const SLOW_API_KEY = `ak_${randomBytes(24).toString("base64url")}`;
const PSK = randomBytes(32).toString("base64url");
const PASSWORD = "correct horse battery staple";

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

interface Started {
  name: string;
  port: number;
  /** `resource_metadata` as the segment advertises it in its RFC 9728 document. */
  metadataUrl: string;
  basicRealm?: string;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface CallOptions {
  /** An SVID name from the dev PKI, a certificate, or none (the default). */
  cert?: string | Issued;
  bearer?: string;
  basic?: [string, string];
  headers?: OutgoingHttpHeaders;
}

let dir: string;
let pki: DevPki;
let pdp: Pdp;
let upstream: Server;
let upstreamUrl: string;
let bearerJwks: TestServer;
let assertKeyA: SigningKey;
let assertKeyB: SigningKey;
let assertJwksA: TestServer;
let assertJwksB: TestServer;
let introspection: TestServer;
/** A loopback port nothing listens on: an outage that answers at once. */
let deadPort: number;
let foreignSvid: Issued;
const seen: Seen[] = [];
const running: RunningSegment[] = [];
const S: Record<string, Started> = {};

/** Token → the AS's answer, computed at introspection time. */
const answers = new Map<string, () => Record<string, unknown>>();
const introspected: { token: string; authorization?: string; contentType?: string; hint: string | null }[] =
  [];
const introspections = (token: string) => introspected.filter((i) => i.token === token).length;

const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
};

type Kind = "bearer" | "introspection" | "api_key" | "basic" | "psk" | "jwt_assertion";
/** One config of each authenticator under test, for the segments to combine. */
let cfg: { [K in Kind]: NonNullable<Authenticators[K]> };

async function start(
  name: string,
  authentication: Segment["authentication"],
  a: Authenticators,
  clientAuth: ClientAuth = "none",
): Promise<Started> {
  const base = demoSegment(dir, upstreamUrl, 0);
  const segment = demoSegment(dir, upstreamUrl, 0, {
    name,
    authentication,
    authenticators: a,
    tls: { ...base.tls, client_auth: clientAuth, client_ca: clientAuth === "none" ? [] : base.tls.client_ca },
  });
  const r = await startSegment(segment, pdp, (e) => process.env.GW_DEBUG && console.log(e));
  running.push(r);
  const meta = JSON.parse((await call(r.port, METADATA_PATH)).body) as { resource: string };
  return { name, port: r.port, metadataUrl: `${meta.resource}${METADATA_PATH}`, basicRealm: a.basic?.realm };
}

function call(port: number, path: string, o: CallOptions = {}): Promise<Reply> {
  const svid = typeof o.cert === "string" ? pki.svids[o.cert] : o.cert;
  const headers: OutgoingHttpHeaders = { ...o.headers };
  if (o.bearer !== undefined) headers.authorization = `Bearer ${o.bearer}`;
  if (o.basic) headers.authorization = `Basic ${Buffer.from(o.basic.join(":")).toString("base64")}`;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        ca: pki.ca.certPem,
        ...(svid ? { cert: svid.certPem, key: svid.keyPem } : {}),
        headers,
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

/** The exact challenge app.ts must send: Bearer (RFC 6750 + RFC 9728), then Basic when configured. */
function challenge(s: Started, error?: string, description?: string): string {
  const params = [`realm="${s.name}"`];
  if (error) params.push(`error="${error}"`, `error_description="${description}"`);
  params.push(`resource_metadata="${s.metadataUrl}"`);
  const bearer = `Bearer ${params.join(", ")}`;
  return s.basicRealm ? `${bearer}, Basic realm="${s.basicRealm}", charset="UTF-8"` : bearer;
}

/** Allowed: the upstream saw exactly this request, with the verified subject and the methods that counted. */
async function expectAllowed(s: Started, o: CallOptions, methods: string[], subject: string): Promise<Seen> {
  const before = seen.length;
  const path = `/echo/${randomUUID()}`;
  const r = await call(s.port, path, o);
  expect(r.status, r.body).toBe(200);
  expect(seen.length - before).toBe(1);
  const up = seen.at(-1)!;
  expect(up.url).toBe(path);
  expect(up.headers["x-portcullis-subject"]).toBe(subject);
  expect(up.headers["x-test-methods"]).toBe(methods.join(","));
  return up;
}

/** Rejected before the policy: exact status, challenge and body, and nothing reached the upstream. */
async function expectRejected(
  s: Started,
  o: CallOptions,
  status: 400 | 401,
  error?: "invalid_request" | "invalid_token",
  description?: string,
): Promise<void> {
  const before = seen.length;
  const r = await call(s.port, "/echo", o);
  expect(seen.length - before).toBe(0);
  expect(r.status).toBe(status);
  expect(r.headers["www-authenticate"]).toBe(challenge(s, error, description));
  expect(r.headers["content-type"]).toMatch(/^application\/json/);
  expect(r.headers["cache-control"]).toBe("no-store");
  expect(JSON.parse(r.body)).toEqual(
    error
      ? { error, error_description: description }
      : { error: "unauthorized", error_description: "authentication required" },
  );
}

/** An outage of a dependency: 503 with Retry-After and no challenge (other credentials would not help). */
async function expectUnavailable(s: Started, o: CallOptions, description: string): Promise<void> {
  const before = seen.length;
  const r = await call(s.port, "/echo", o);
  expect(seen.length - before).toBe(0);
  expect(r.status).toBe(503);
  expect(r.headers["retry-after"]).toBe("5");
  expect(r.headers["www-authenticate"]).toBeUndefined();
  expect(JSON.parse(r.body)).toEqual({ error: "temporarily_unavailable", error_description: description });
}

const accessToken = (aud: string | string[] = "payments", sub = AGENT_ID) =>
  signAccessToken(pki.issuer, { iss: DEV_ISSUER, aud, sub, scope: "payments:read" });

async function assertion(
  key: SigningKey,
  iss: string,
  claims: Record<string, unknown> = {},
  typ = "JWT",
): Promise<string> {
  const t = nowS();
  return new SignJWT({
    iss,
    sub: `spiffe://${DEV_TRUST_DOMAIN}/workload/batch`,
    aud: GW_AUDIENCE,
    iat: t,
    exp: t + 60,
    jti: randomUUID(),
    ...claims,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ })
    .sign(key.privateKey);
}

/** An opaque token the AS knows as active for `sub` until `exp` (and inactive after it, as a real AS). */
function activeOpaque(sub = "user:alice", exp = nowS() + 300, extra: Record<string, unknown> = {}): string {
  const token = `opq_${randomBytes(18).toString("base64url")}`;
  answers.set(token, () =>
    nowS() < exp
      ? { active: true, iss: AS_ISSUER, sub, client_id: "reports-app", scope: "reports:read", exp, ...extra }
      : { active: false },
  );
  return token;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-authn-e2e-"));
  pki = await ensureDevPki({ dir, svids: [{ name: "agent", spiffeId: AGENT_ID }], tokens: [] });
  // Same trust domain and SPIFFE ID, but a CA the segment does not trust: an impersonation attempt.
  foreignSvid = await issueSvid(await createCA({ trustDomain: DEV_TRUST_DOMAIN }), AGENT_ID);
  pdp = regoPdp(compile({ modules: [{ file: "test.rego", source: POLICY }] }), "portcullis/authz/decision");

  upstream = createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"upstream":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));

  bearerJwks = await startJwksServer(pki.issuer.jwks.keys);
  assertKeyA = await makeKey("workloads-a-1");
  assertKeyB = await makeKey("workloads-b-1");
  assertJwksA = await startJwksServer([assertKeyA.publicJwk]);
  assertJwksB = await startJwksServer([assertKeyB.publicJwk]);

  // RFC 7662 §2.1: POST, form-encoded `token`, the resource server authenticated (here: Basic).
  const expectedAuth = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`;
  introspection = await startServer((req, body, res) => {
    const form = new URLSearchParams(body);
    const token = form.get("token") ?? "";
    introspected.push({
      token,
      authorization: req.headers.authorization,
      contentType: req.headers["content-type"],
      hint: form.get("token_type_hint"),
    });
    if (req.method !== "POST" || req.url !== "/introspect" || req.headers.authorization !== expectedAuth) {
      res.writeHead(401, { "content-type": "application/json" }).end('{"error":"invalid_client"}');
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answers.get(token)?.() ?? { active: false }));
  });

  const keysFile = file(
    "keys.yaml",
    [
      "keys:",
      `  - hash: ${hashSha256(API_KEY)}`,
      "    subject: svc:crm",
      "    client_id: crm",
      "    scopes: [crm:read]",
      `  - hash: "${await hashScrypt(SLOW_API_KEY, { N: 1024 })}"`,
      "    subject: svc:legacy",
      "",
    ].join("\n"),
  );
  const usersFile = file(
    "users.yaml",
    `users:\n  - username: alice\n    hash: "${await hashScrypt(PASSWORD, { N: 1024 })}"\n    scopes: [reports:read]\n`,
  );
  const pskFile = file("psk.yaml", `secrets:\n  - id: door-7\n    hash: ${hashSha256(PSK)}\n`);
  // A trailing newline, as an editor or `echo` leaves it, must not become part of the secret.
  const secretFile = file("introspection.secret", `${CLIENT_SECRET}\n`);

  cfg = {
    bearer: {
      issuer: DEV_ISSUER,
      audience: ["payments", "https://payments.example"],
      jwks_uri: bearerJwks.url,
      algorithms: ["ES256"],
      clock_skew_s: 30,
      max_token_bytes: 8192,
    },
    introspection: {
      endpoint: `${introspection.url}/introspect`,
      client_id: CLIENT_ID,
      client_secret_file: secretFile,
      timeout_ms: 2000,
      cache_ttl_s: 60,
      issuer: AS_ISSUER,
    },
    api_key: { header: "x-api-key", keys_file: keysFile },
    basic: { users_file: usersFile, realm: "reports" },
    psk: { header: "x-psk", secrets_file: pskFile },
    jwt_assertion: {
      issuers: [
        { issuer: ASSERT_A, jwks_uri: assertJwksA.url },
        { issuer: ASSERT_B, jwks_uri: assertJwksB.url },
      ],
      audience: [GW_AUDIENCE, "payments"],
      algorithms: ["ES256"],
      clock_skew_s: 30,
    },
  };
  const dead = `http://127.0.0.1:${deadPort}`;
  const c = cfg;
  const entries: [string, Segment["authentication"], Authenticators, ClientAuth?][] = [
    ["mtls-only", "mtls", {}, "optional"],
    ["bearer-only", "bearer", { bearer: c.bearer }],
    ["bearer-jwks-down", "bearer", { bearer: { ...c.bearer, jwks_uri: `${dead}/jwks` } }],
    ["introspection-only", "introspection", { introspection: c.introspection }],
    [
      "introspection-down",
      "introspection",
      { introspection: { ...c.introspection, endpoint: `${dead}/introspect` } },
    ],
    ["api-key-only", "api_key", { api_key: c.api_key }],
    ["basic-only", "basic", { basic: c.basic }],
    ["psk-only", "psk", { psk: c.psk }],
    ["assertion-only", "jwt_assertion", { jwt_assertion: c.jwt_assertion }],
    ["mtls-and-bearer", { all: ["mtls", "bearer"] }, { bearer: c.bearer }, "optional"],
    [
      "either-pair",
      { any: [{ all: ["mtls", "bearer"] }, { all: ["mtls", "api_key"] }] },
      { bearer: c.bearer, api_key: c.api_key },
      "optional",
    ],
    ["basic-or-psk", { any: ["basic", "psk"] }, { basic: c.basic, psk: c.psk }],
    [
      "nested",
      {
        any: [
          { all: ["mtls", { any: ["bearer", "introspection"] }] },
          { all: ["api_key", "psk"] },
          "jwt_assertion",
        ],
      },
      c,
      "optional",
    ],
  ];
  for (const [name, expr, a, clientAuth] of entries) S[name] = await start(name, expr, a, clientAuth);
});

afterAll(async () => {
  await Promise.all(
    running.map((r) => new Promise((res) => (r.server.close(res), r.server.closeAllConnections()))),
  );
  await Promise.all([bearerJwks, assertJwksA, assertJwksB, introspection].map((s) => s?.close()));
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("each authenticator alone", () => {
  it("mtls: an SVID from the segment's CA → allowed as its SPIFFE ID", async () => {
    await expectAllowed(S["mtls-only"], { cert: "agent" }, ["mtls"], AGENT_ID);
  });

  it("mtls: no client certificate on an optional segment → 401 with the bare challenge", async () => {
    await expectRejected(S["mtls-only"], {}, 401);
  });

  it("adversarial: mtls: the same SPIFFE ID from a foreign CA → 401, not an mtls identity", async () => {
    await expectRejected(S["mtls-only"], { cert: foreignSvid }, 401);
  });

  it("bearer: an RFC 9068 token verified with keys fetched from jwks_uri → allowed", async () => {
    await expectAllowed(S["bearer-only"], { bearer: await accessToken() }, ["bearer"], AGENT_ID);
    expect(bearerJwks.hits).toBeGreaterThan(0);
  });

  it("bearer: every configured audience counts, not only the first", async () => {
    const token = await accessToken("https://payments.example", "spiffe://demo.portcullis/agent/other");
    await expectAllowed(
      S["bearer-only"],
      { bearer: token },
      ["bearer"],
      "spiffe://demo.portcullis/agent/other",
    );
  });

  it("adversarial: bearer: a token for another audience → 401 invalid_token", async () => {
    const token = await accessToken("https://other.example");
    await expectRejected(S["bearer-only"], { bearer: token }, 401, "invalid_token", "invalid aud claim");
  });

  it("adversarial: bearer: an opaque token without introspection configured → 401 invalid_token", async () => {
    await expectRejected(
      S["bearer-only"],
      { bearer: activeOpaque() },
      401,
      "invalid_token",
      "malformed token",
    );
  });

  it("adversarial: bearer: signed by a key the JWKS does not publish → 401 invalid_token", async () => {
    const rogue = await createIssuer();
    const token = await signAccessToken(rogue, { iss: DEV_ISSUER, aud: "payments", sub: AGENT_ID });
    await expectRejected(S["bearer-only"], { bearer: token }, 401, "invalid_token", "unknown signing key");
  });

  it("fail closed: bearer: JWKS endpoint down → 503 with Retry-After, upstream not reached", async () => {
    await expectUnavailable(
      S["bearer-jwks-down"],
      { bearer: await accessToken() },
      "token signing keys unavailable",
    );
  });

  it("introspection: an active opaque token → allowed; the AS saw our client credentials and the token", async () => {
    const token = activeOpaque("user:alice");
    await expectAllowed(S["introspection-only"], { bearer: token }, ["introspection"], "user:alice");
    const req = introspected.find((i) => i.token === token)!;
    expect(req.authorization).toBe(
      `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}`,
    );
    expect(req.contentType).toBe("application/x-www-form-urlencoded");
    expect(req.hint).toBe("access_token");
  });

  it("introspection: without bearer configured, a JWT-shaped token goes to the AS too", async () => {
    const token = await accessToken();
    answers.set(token, () => ({ active: true, iss: AS_ISSUER, sub: "user:jwt", exp: nowS() + 60 }));
    await expectAllowed(S["introspection-only"], { bearer: token }, ["introspection"], "user:jwt");
    expect(introspections(token)).toBe(1);
  });

  it("adversarial: introspection: an inactive token → 401 invalid_token", async () => {
    const token = `opq_${randomBytes(18).toString("base64url")}`;
    await expectRejected(
      S["introspection-only"],
      { bearer: token },
      401,
      "invalid_token",
      "token is not active",
    );
    expect(introspections(token)).toBe(1);
  });

  it("adversarial: introspection: an active answer naming another issuer → 401 invalid_token", async () => {
    const token = activeOpaque("user:mallory", nowS() + 300, { iss: "https://evil.example" });
    await expectRejected(
      S["introspection-only"],
      { bearer: token },
      401,
      "invalid_token",
      "token is not active",
    );
  });

  it("fail closed: introspection endpoint down → 503 with Retry-After, upstream not reached", async () => {
    await expectUnavailable(
      S["introspection-down"],
      { bearer: activeOpaque() },
      "token introspection unavailable",
    );
  });

  it("introspection: a repeated token is answered from the cache, not the endpoint", async () => {
    const token = activeOpaque("user:cached");
    await expectAllowed(S["introspection-only"], { bearer: token }, ["introspection"], "user:cached");
    await expectAllowed(S["introspection-only"], { bearer: token }, ["introspection"], "user:cached");
    expect(introspections(token)).toBe(1);
  });

  it("adversarial: introspection: an active answer whose exp has passed is refused and never cached", async () => {
    const token = `opq_${randomBytes(18).toString("base64url")}`;
    const exp = nowS() - 10;
    answers.set(token, () => ({ active: true, iss: AS_ISSUER, sub: "user:stale", exp }));
    await expectRejected(S["introspection-only"], { bearer: token }, 401, "invalid_token", "token expired");
    await expectRejected(S["introspection-only"], { bearer: token }, 401, "invalid_token", "token expired");
    expect(introspections(token)).toBe(2);
  });

  it("introspection: a cached answer ends at the token's exp, then the endpoint is asked again", async () => {
    const exp = nowS() + 2;
    const token = activeOpaque("user:short", exp);
    await expectAllowed(S["introspection-only"], { bearer: token }, ["introspection"], "user:short");
    await expectAllowed(S["introspection-only"], { bearer: token }, ["introspection"], "user:short");
    expect(introspections(token)).toBe(1);
    // Waiting for the token's own expiry, not measuring time: the cache may not outlive `exp`.
    await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 50));
    await expectRejected(
      S["introspection-only"],
      { bearer: token },
      401,
      "invalid_token",
      "token is not active",
    );
    expect(introspections(token)).toBe(2);
  });

  it("api_key: a key matching a sha256 entry → allowed as that entry's subject", async () => {
    await expectAllowed(S["api-key-only"], { headers: { "x-api-key": API_KEY } }, ["api_key"], "svc:crm");
  });

  it("api_key: a key matching a scrypt entry → allowed", async () => {
    await expectAllowed(
      S["api-key-only"],
      { headers: { "x-api-key": SLOW_API_KEY } },
      ["api_key"],
      "svc:legacy",
    );
  });

  it("adversarial: api_key: a wrong key → 401 invalid_token", async () => {
    const wrong = API_KEY.slice(0, -1) + (API_KEY.endsWith("A") ? "B" : "A");
    await expectRejected(
      S["api-key-only"],
      { headers: { "x-api-key": wrong } },
      401,
      "invalid_token",
      "invalid API key",
    );
  });

  it("adversarial: api_key: two x-api-key headers → 400 invalid_request", async () => {
    await expectRejected(
      S["api-key-only"],
      { headers: { "x-api-key": [API_KEY, "other"] } },
      400,
      "invalid_request",
      "multiple x-api-key headers",
    );
  });

  it("adversarial: api_key: an oversized key → 400 invalid_request", async () => {
    await expectRejected(
      S["api-key-only"],
      { headers: { "x-api-key": "k".repeat(2000) } },
      400,
      "invalid_request",
      "malformed API key",
    );
  });

  it("basic: the right password → allowed as the user", async () => {
    await expectAllowed(S["basic-only"], { basic: ["alice", PASSWORD] }, ["basic"], "alice");
  });

  it("basic: no credentials → 401 with the Bearer and the Basic challenge", async () => {
    await expectRejected(S["basic-only"], {}, 401);
  });

  it("adversarial: basic: a wrong password → 401 invalid_token", async () => {
    await expectRejected(
      S["basic-only"],
      { basic: ["alice", "Tr0ub4dor&3"] },
      401,
      "invalid_token",
      "invalid username or password",
    );
  });

  it("adversarial: basic: an unknown user gets the same answer as a wrong password", async () => {
    await expectRejected(
      S["basic-only"],
      { basic: ["mallory", PASSWORD] },
      401,
      "invalid_token",
      "invalid username or password",
    );
  });

  it("adversarial: basic: a credential that is not strict base64 → 400 invalid_request", async () => {
    await expectRejected(
      S["basic-only"],
      { headers: { authorization: "Basic YWxpY2U6eA" } },
      400,
      "invalid_request",
      "malformed Basic credential",
    );
  });

  it("psk: the right secret → allowed as psk:<id>", async () => {
    await expectAllowed(S["psk-only"], { headers: { "x-psk": PSK } }, ["psk"], "psk:door-7");
  });

  it("adversarial: psk: a wrong secret → 401 invalid_token", async () => {
    await expectRejected(
      S["psk-only"],
      { headers: { "x-psk": `${PSK}x` } },
      401,
      "invalid_token",
      "invalid pre-shared secret",
    );
  });

  it("jwt_assertion: assertions from each configured issuer, to each audience → allowed", async () => {
    const sub = `spiffe://${DEV_TRUST_DOMAIN}/workload/batch`;
    const a = await assertion(assertKeyA, ASSERT_A);
    const b = await assertion(assertKeyB, ASSERT_B, { aud: "payments" });
    await expectAllowed(S["assertion-only"], { headers: { "x-jwt-assertion": a } }, ["jwt_assertion"], sub);
    await expectAllowed(S["assertion-only"], { headers: { "x-jwt-assertion": b } }, ["jwt_assertion"], sub);
    expect(assertJwksA.hits).toBeGreaterThan(0);
    expect(assertJwksB.hits).toBeGreaterThan(0);
  });

  it("adversarial: jwt_assertion: a replayed assertion → 401 invalid_token", async () => {
    const a = await assertion(assertKeyA, ASSERT_A);
    const sub = `spiffe://${DEV_TRUST_DOMAIN}/workload/batch`;
    await expectAllowed(S["assertion-only"], { headers: { "x-jwt-assertion": a } }, ["jwt_assertion"], sub);
    await expectRejected(
      S["assertion-only"],
      { headers: { "x-jwt-assertion": a } },
      401,
      "invalid_token",
      "assertion replayed",
    );
  });

  it("adversarial: jwt_assertion: an access token (typ at+jwt) is not an assertion → 401", async () => {
    const a = await assertion(assertKeyA, ASSERT_A, {}, "at+jwt");
    await expectRejected(
      S["assertion-only"],
      { headers: { "x-jwt-assertion": a } },
      401,
      "invalid_token",
      "access token is not an assertion",
    );
  });

  it("adversarial: jwt_assertion: an unconfigured issuer → 401 invalid_token", async () => {
    const a = await assertion(assertKeyA, "https://evil.example");
    await expectRejected(
      S["assertion-only"],
      { headers: { "x-jwt-assertion": a } },
      401,
      "invalid_token",
      "unknown assertion issuer",
    );
  });

  it("adversarial: jwt_assertion: issuer B's key claiming issuer A → 401 invalid_token", async () => {
    const a = await assertion(assertKeyB, ASSERT_A);
    await expectRejected(
      S["assertion-only"],
      { headers: { "x-jwt-assertion": a } },
      401,
      "invalid_token",
      "unknown signing key",
    );
  });

  it("adversarial: jwt_assertion: an assertion for another audience → 401 invalid_token", async () => {
    const a = await assertion(assertKeyA, ASSERT_A, { aud: "https://other.example" });
    await expectRejected(
      S["assertion-only"],
      { headers: { "x-jwt-assertion": a } },
      401,
      "invalid_token",
      "invalid aud claim",
    );
  });
});

describe("any/all combinations record which methods succeeded", () => {
  it("{all:[mtls,bearer]}: certificate and token → mtls,bearer; the token names the caller", async () => {
    const token = await accessToken("payments", "user:via-agent");
    await expectAllowed(
      S["mtls-and-bearer"],
      { cert: "agent", bearer: token },
      ["mtls", "bearer"],
      "user:via-agent",
    );
  });

  it("{all:[mtls,bearer]}: either one alone → 401 with the bare challenge", async () => {
    await expectRejected(S["mtls-and-bearer"], { cert: "agent" }, 401);
    await expectRejected(S["mtls-and-bearer"], { bearer: await accessToken() }, 401);
  });

  it("adversarial: {all:[mtls,bearer]}: a good certificate with a forged token → 401 invalid_token", async () => {
    const token = await accessToken();
    const forged = token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
    await expectRejected(
      S["mtls-and-bearer"],
      { cert: "agent", bearer: forged },
      401,
      "invalid_token",
      "invalid signature",
    );
  });

  it("{any:[{all:[mtls,bearer]},{all:[mtls,api_key]}]}: each branch, and both", async () => {
    const s = S["either-pair"];
    const token = await accessToken();
    const key = { "x-api-key": API_KEY };
    await expectAllowed(s, { cert: "agent", bearer: token }, ["mtls", "bearer"], AGENT_ID);
    await expectAllowed(s, { cert: "agent", headers: key }, ["mtls", "api_key"], "svc:crm");
    await expectAllowed(
      s,
      { cert: "agent", bearer: token, headers: key },
      ["mtls", "bearer", "api_key"],
      AGENT_ID,
    );
  });

  it("{any:[{all:[mtls,bearer]},{all:[mtls,api_key]}]}: an API key without a certificate → 401", async () => {
    await expectRejected(S["either-pair"], { headers: { "x-api-key": API_KEY } }, 401);
  });

  it("adversarial: {any:[…]}: a wrong API key next to a satisfied branch still fails → 401 invalid_token", async () => {
    await expectRejected(
      S["either-pair"],
      { cert: "agent", bearer: await accessToken(), headers: { "x-api-key": "wrong" } },
      401,
      "invalid_token",
      "invalid API key",
    );
  });

  it("{any:[basic,psk]}: either one, or both", async () => {
    const s = S["basic-or-psk"];
    await expectAllowed(s, { basic: ["alice", PASSWORD] }, ["basic"], "alice");
    await expectAllowed(s, { headers: { "x-psk": PSK } }, ["psk"], "psk:door-7");
    await expectAllowed(
      s,
      { basic: ["alice", PASSWORD], headers: { "x-psk": PSK } },
      ["basic", "psk"],
      "alice",
    );
  });

  it("{any:[basic,psk]}: neither → 401 with both challenges", async () => {
    await expectRejected(S["basic-or-psk"], {}, 401);
  });

  it("adversarial: {any:[basic,psk]}: a right password with a wrong PSK → 401 invalid_token", async () => {
    await expectRejected(
      S["basic-or-psk"],
      { basic: ["alice", PASSWORD], headers: { "x-psk": "nope" } },
      401,
      "invalid_token",
      "invalid pre-shared secret",
    );
  });

  it("nested: mtls with a JWT → mtls,bearer; with an opaque token → mtls,introspection", async () => {
    const s = S.nested;
    await expectAllowed(s, { cert: "agent", bearer: await accessToken() }, ["mtls", "bearer"], AGENT_ID);
    const opaque = activeOpaque("user:nested");
    await expectAllowed(s, { cert: "agent", bearer: opaque }, ["mtls", "introspection"], "user:nested");
  });

  it("nested: api_key with psk → api_key,psk; an assertion alone → jwt_assertion", async () => {
    const s = S.nested;
    await expectAllowed(
      s,
      { headers: { "x-api-key": API_KEY, "x-psk": PSK } },
      ["api_key", "psk"],
      "svc:crm",
    );
    const a = await assertion(assertKeyA, ASSERT_A);
    await expectAllowed(
      s,
      { headers: { "x-jwt-assertion": a } },
      ["jwt_assertion"],
      `spiffe://${DEV_TRUST_DOMAIN}/workload/batch`,
    );
  });

  it("nested: a branch half satisfied is missing → 401 with the bare challenge", async () => {
    await expectRejected(S.nested, { headers: { "x-api-key": API_KEY } }, 401);
  });

  it("adversarial: nested: a valid opaque token without a certificate is not enough → 401", async () => {
    await expectRejected(S.nested, { bearer: activeOpaque("user:no-cert") }, 401);
  });

  it("adversarial: nested: a foreign-CA certificate with a valid token → 401", async () => {
    await expectRejected(S.nested, { cert: foreignSvid, bearer: await accessToken() }, 401);
  });
});

describe("segment wiring", () => {
  it("RFC 9728 metadata lists every configured token issuer", async () => {
    const r = await call(S.nested.port, METADATA_PATH);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).authorization_servers).toEqual([DEV_ISSUER, AS_ISSUER, ASSERT_A, ASSERT_B]);
    const none = JSON.parse((await call(S["api-key-only"].port, METADATA_PATH)).body);
    expect(none.authorization_servers).toEqual([]);
  });

  it("adversarial: gateway-only credentials never reach the upstream; a bearer token does", async () => {
    const s = S.nested;
    const token = await accessToken();
    const withToken = await expectAllowed(s, { cert: "agent", bearer: token }, ["mtls", "bearer"], AGENT_ID);
    expect(withToken.headers.authorization).toBe(`Bearer ${token}`);
    const pair = await expectAllowed(
      s,
      { headers: { "x-api-key": API_KEY, "x-psk": PSK } },
      ["api_key", "psk"],
      "svc:crm",
    );
    expect(pair.headers["x-api-key"]).toBeUndefined();
    expect(pair.headers["x-psk"]).toBeUndefined();
    const a = await assertion(assertKeyA, ASSERT_A);
    const asserted = await expectAllowed(
      s,
      { headers: { "x-jwt-assertion": a } },
      ["jwt_assertion"],
      `spiffe://${DEV_TRUST_DOMAIN}/workload/batch`,
    );
    expect(asserted.headers["x-jwt-assertion"]).toBeUndefined();
    const basic = await expectAllowed(S["basic-only"], { basic: ["alice", PASSWORD] }, ["basic"], "alice");
    expect(basic.headers.authorization).toBeUndefined();
  });

  it("a YAML config naming every authenticator loads and serves", async () => {
    const c = cfg;
    const yaml = `pdp: { policies: ${dir} }
segments:
  - name: everything
    listen: 127.0.0.1:0
    upstream: ${upstreamUrl}
    tls: { cert: gateway.pem, key: gateway.key, client_ca: ca.pem, client_auth: optional }
    authentication: { any: [ { all: [mtls, { any: [bearer, introspection] }] }, { all: [api_key, psk] }, basic, jwt_assertion ] }
    authenticators:
      bearer: { issuer: "${DEV_ISSUER}", audience: [payments, "https://payments.example"], jwks_uri: "${bearerJwks.url}" }
      introspection: { endpoint: "${c.introspection.endpoint}", client_id: ${CLIENT_ID}, client_secret_file: introspection.secret, issuer: "${AS_ISSUER}" }
      api_key: { keys_file: keys.yaml }
      basic: { users_file: users.yaml, realm: reports }
      psk: { secrets_file: psk.yaml }
      jwt_assertion: { audience: ["${GW_AUDIENCE}"], issuers: [ { issuer: "${ASSERT_A}", jwks_uri: "${assertJwksA.url}" } ] }
`;
    const config = loadConfig(file("gateway.yaml", yaml));
    const r = await startSegment(config.segments[0], pdp);
    running.push(r);
    const meta = JSON.parse((await call(r.port, METADATA_PATH)).body) as { resource: string };
    const s: Started = {
      name: "everything",
      port: r.port,
      metadataUrl: `${meta.resource}${METADATA_PATH}`,
      basicRealm: "reports",
    };
    await expectAllowed(s, { basic: ["alice", PASSWORD] }, ["basic"], "alice");
    await expectAllowed(
      s,
      { cert: "agent", bearer: await accessToken("https://payments.example") },
      ["mtls", "bearer"],
      AGENT_ID,
    );
    await expectAllowed(
      s,
      { cert: "agent", bearer: activeOpaque("user:yaml") },
      ["mtls", "introspection"],
      "user:yaml",
    );
    await expectRejected(s, {}, 401);
    expect(JSON.parse((await call(r.port, METADATA_PATH)).body).authorization_servers).toEqual([
      DEV_ISSUER,
      AS_ISSUER,
      ASSERT_A,
    ]);
  });

  it("an unusable hash in a keys file fails start-up, naming the segment and the authenticator", async () => {
    const bad = file("bad-keys.yaml", "keys:\n  - hash: md5:0123\n    subject: svc:x\n");
    const segment = demoSegment(dir, upstreamUrl, 0, {
      name: "broken",
      authentication: "api_key",
      authenticators: { api_key: { header: "x-api-key", keys_file: bad } },
    });
    await expect(startSegment(segment, pdp)).rejects.toThrow(
      /^segment broken: authenticators\.api_key: unsupported hash format/,
    );
  });
});
