// Adversarial end-to-end tests: real TLS sockets, a real upstream that records every request, a real JWKS
// file. Every case asserts that nothing it sends reaches the upstream (or, for an allowed request, that the
// upstream sees nothing the attacker forged).
import { createPrivateKey, createPublicKey, sign } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../../pdp/rego/index.js";
import type { Segment } from "../../../gateway/config/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp } from "../../../gateway/server/enforce.js";
import { startSegment, type RunningSegment } from "../../../gateway/server/serve.js";
import {
  DEV_ISSUER,
  ensureDevPki,
  issueBadSvids,
  signAccessToken,
  type BadSvids,
  type DevPki,
  type Issued,
} from "../../../gateway/pki/index.js";

const AGENT_ID = "spiffe://demo.portcullis/agent/planner";

const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied", "reasons": ["default"]}
decision := {"allow": true, "headers": {"x-agent-tier": "gold"}} if {
  input.request.path in {"/ok", "/admin"}
  input.caller.type == "ai-agent"
  "bearer" in input.authn.methods
}
`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let dir: string;
let pki: DevPki;
let bad: BadSvids;
let upstream: Server;
let running: RunningSegment;
let port: number;
let agentToken: string;
const seen: Seen[] = [];
let total = 0;

function segment(upstreamUrl: string): Segment {
  return demoSegment(dir, upstreamUrl);
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function call(
  path: string,
  o: {
    token?: string;
    cert?: Issued | false;
    headers?: Record<string, string | string[]>;
  } = {},
): Promise<Reply> {
  const svid = o.cert === false ? undefined : (o.cert ?? pki.svids.agent);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "GET",
        ca: pki.ca.certPem,
        ...(svid ? { cert: svid.certPem, key: svid.keyPem } : {}),
        headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers },
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Writes `raw` on a fresh mTLS connection (agent SVID) and returns everything read until close/timeout. */
function rawExchange(raw: string, timeoutMs = 1500): Promise<string> {
  return new Promise((resolve) => {
    let out = "";
    const s = connect(
      {
        host: "127.0.0.1",
        port,
        ca: pki.ca.certPem,
        cert: pki.svids.agent.certPem,
        key: pki.svids.agent.keyPem,
      },
      () => s.write(raw),
    );
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(out);
    };
    const timer = setTimeout(done, timeoutMs);
    s.on("data", (c: Buffer) => (out += c.toString("latin1")));
    s.on("error", done);
    s.on("close", done);
  });
}

/** Runs `fn`, lets any proxied request land, and returns how many requests reached the upstream meanwhile. */
async function upstreamHits(fn: () => Promise<unknown>): Promise<number> {
  const before = seen.length;
  await fn();
  await new Promise((r) => setTimeout(r, 50));
  return seen.length - before;
}

const b64u = (s: string | Buffer): string => Buffer.from(s).toString("base64url");

/** Signs arbitrary header and payload *text* with the dev issuer's ES256 key (no JSON round trip). */
function signRaw(header: string, payload: string): string {
  const key = createPrivateKey({ key: pki.issuer.privateJwk as never, format: "jwk" });
  const input = `${b64u(header)}.${b64u(payload)}`;
  const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${b64u(sig)}`;
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: DEV_ISSUER,
    aud: "payments",
    sub: AGENT_ID,
    client_id: AGENT_ID,
    iat: now,
    exp: now + 3600,
    jti: `j-${Math.random()}`,
    ...extra,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-adv-"));
  pki = await ensureDevPki({
    dir,
    svids: [{ name: "agent", spiffeId: AGENT_ID }],
    tokens: [],
  });
  bad = await issueBadSvids(pki.ca, AGENT_ID);
  agentToken = await signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: "payments",
    sub: AGENT_ID,
    scope: "payments:read",
  });
  upstream = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("latin1")));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ upstream: true }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const pdp = regoPdp(
    compile({ modules: [{ file: "adv.rego", source: POLICY }] }),
    "portcullis/authz/decision",
  );
  running = await startSegment(segment(upstreamUrl), pdp, (e) => process.env.GW_DEBUG && console.log(e));
  port = running.port;
  // Sanity: the baseline request is allowed and proxied, so every "0 hits" below means "refused".
  const ok = await call("/ok", { token: agentToken });
  expect(ok.status).toBe(200);
});

afterAll(async () => {
  console.log(`portcullis adversarial suite: ${total} adversarial cases, none reached the upstream`);
  if (running) {
    await new Promise((r) => (running.server.close(r), running.server.closeAllConnections()));
  }
  if (upstream) await new Promise((r) => upstream.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// TLS client certificates
// ---------------------------------------------------------------------------------------------------------

const tlsCases: { name: string; cert: () => Issued | false }[] = [
  { name: "no client certificate", cert: () => false },
  { name: "SVID signed by another CA", cert: () => bad.otherCa },
  { name: "expired SVID", cert: () => bad.expired },
  { name: "not-yet-valid SVID", cert: () => bad.notYetValid },
  { name: "CA certificate used as the leaf", cert: () => bad.caAsLeaf },
  { name: "two URI SANs", cert: () => bad.twoUriSans },
  { name: "wrong trust domain", cert: () => bad.wrongTrustDomain },
];
total += tlsCases.length;

describe(`adversarial: TLS client certificates (${tlsCases.length} cases)`, () => {
  it.each(tlsCases)("$name → connection refused, upstream untouched", async ({ cert }) => {
    let outcome: number | "refused" = "refused";
    const hits = await upstreamHits(async () => {
      outcome = await call("/ok", { token: agentToken, cert: cert() }).then(
        (r) => r.status,
        () => "refused" as const,
      );
    });
    expect(hits).toBe(0);
    expect(outcome).toBe("refused");
  });
});

// ---------------------------------------------------------------------------------------------------------
// JWT bearer tokens (valid mTLS agent SVID on every request, so only the token is wrong)
// ---------------------------------------------------------------------------------------------------------

const now = (): number => Math.floor(Date.now() / 1000);

/**
 * `expect` defaults to 401 invalid_token. A token over 8 KiB is also a header field over the segment's 8 KiB
 * field limit, so hygiene answers 431 before the verifier runs (either is a refusal); characters outside
 * RFC 6750's b64token grammar make the Authorization header itself malformed → 400 invalid_request.
 */
const jwtCases: {
  name: string;
  token: () => Promise<string>;
  expect?: "oversized" | "invalid_request" | "either";
}[] = [
  {
    name: "alg: none",
    token: async () =>
      `${b64u(JSON.stringify({ alg: "none", typ: "at+jwt" }))}.${b64u(JSON.stringify(claims()))}.`,
  },
  {
    name: "HS256 signed with the public key (SPKI PEM) as the secret",
    token: () => {
      const pem = createPublicKey({ key: pki.issuer.publicJwk as never, format: "jwk" })
        .export({ type: "spki", format: "pem" })
        .toString();
      return new SignJWT(claims())
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: pki.issuer.publicJwk.kid })
        .sign(Buffer.from(pem));
    },
  },
  {
    name: "HS256 signed with the public JWK JSON as the secret",
    token: () =>
      new SignJWT(claims())
        .setProtectedHeader({ alg: "HS256", typ: "at+jwt", kid: pki.issuer.publicJwk.kid })
        .sign(Buffer.from(JSON.stringify(pki.issuer.publicJwk))),
  },
  {
    name: "unknown kid",
    token: () =>
      signAccessToken(pki.issuer, {
        iss: DEV_ISSUER,
        aud: "payments",
        sub: AGENT_ID,
        header: { kid: "no-such-key" },
      }),
  },
  {
    name: "expired (exp an hour ago, beyond clock skew)",
    token: () =>
      signAccessToken(pki.issuer, { iss: DEV_ISSUER, aud: "payments", sub: AGENT_ID, iat: now() - 7200 }),
  },
  {
    name: "not yet valid (nbf in an hour)",
    token: () =>
      signAccessToken(pki.issuer, {
        iss: DEV_ISSUER,
        aud: "payments",
        sub: AGENT_ID,
        claims: { nbf: now() + 3600 },
      }),
  },
  {
    name: "wrong aud",
    token: () => signAccessToken(pki.issuer, { iss: DEV_ISSUER, aud: "billing", sub: AGENT_ID }),
  },
  {
    name: "wrong iss",
    token: () => signAccessToken(pki.issuer, { iss: "https://evil.example", aud: "payments", sub: AGENT_ID }),
  },
  {
    name: "typ confusion (typ: JWT, an id-token-style token)",
    token: () =>
      signAccessToken(pki.issuer, {
        iss: DEV_ISSUER,
        aud: "payments",
        sub: AGENT_ID,
        header: { typ: "JWT" },
        claims: { nonce: "n-0S6_WzA2Mj", auth_time: now(), azp: "payments" },
      }),
  },
  {
    name: "typ missing from the header",
    token: async () =>
      signRaw(JSON.stringify({ alg: "ES256", kid: pki.issuer.publicJwk.kid }), JSON.stringify(claims())),
  },
  {
    name: "oversized (> 8 KiB), validly signed",
    expect: "oversized",
    token: () =>
      signAccessToken(pki.issuer, {
        iss: DEV_ISSUER,
        aud: "payments",
        sub: AGENT_ID,
        claims: { pad: "x".repeat(9000) },
      }),
  },
  {
    name: "non-base64url characters in the segments",
    expect: "invalid_request",
    token: async () => "eyJ!!!.e30$$$.c2ln***",
  },
  {
    name: "standard base64 (+ / =) instead of base64url in a validly signed token",
    // A mid-token `=` breaks the b64token grammar (400); without one it fails verification (401).
    expect: "either",
    token: async () => {
      const t = signRaw(
        JSON.stringify({ alg: "ES256", typ: "at+jwt", kid: pki.issuer.publicJwk.kid }),
        JSON.stringify(claims({ pad: "??>>" })),
      );
      const [h, p, s] = t.split(".");
      return `${h}.${Buffer.from(p, "base64url").toString("base64")}.${s}`;
    },
  },
  {
    name: "duplicate JSON keys in the payload (sub twice), validly signed",
    token: async () => {
      const body = JSON.stringify(claims());
      const dup = `${body.slice(0, -1)},"sub":"spiffe://demo.portcullis/agent/admin"}`;
      return signRaw(JSON.stringify({ alg: "ES256", typ: "at+jwt", kid: pki.issuer.publicJwk.kid }), dup);
    },
  },
  {
    name: "duplicate JSON keys in the header (alg twice), validly signed",
    token: async () =>
      signRaw(
        `{"alg":"none","typ":"at+jwt","kid":${JSON.stringify(pki.issuer.publicJwk.kid)},"alg":"ES256"}`,
        JSON.stringify(claims()),
      ),
  },
];
total += jwtCases.length + 1;

function expectChallenge(r: Reply, status: number, error: string): void {
  expect(r.status).toBe(status);
  const challenge = String(r.headers["www-authenticate"]);
  expect(challenge).toMatch(/^Bearer realm="payments"/);
  expect(challenge).toContain(`error="${error}"`);
  expect(JSON.parse(r.body).error).toBe(error);
  expect(r.headers["cache-control"]).toBe("no-store");
}

describe(`adversarial: JWT bearer tokens (${jwtCases.length + 1} cases)`, () => {
  it.each(jwtCases)("$name → refused (401 invalid_token unless noted), upstream untouched", async (c) => {
    const t = await c.token();
    let r!: Reply;
    expect(await upstreamHits(async () => (r = await call("/ok", { token: t })))).toBe(0);
    if (c.expect === "invalid_request" || (c.expect === "either" && r.status === 400))
      expectChallenge(r, 400, "invalid_request");
    else if (c.expect === "oversized" && r.status === 431)
      expect(JSON.parse(r.body).error).toBe("invalid_request");
    else expectChallenge(r, 401, "invalid_token");
  });

  it("two Authorization headers → 400 invalid_request, upstream untouched", async () => {
    let r!: Reply;
    const hits = await upstreamHits(
      async () =>
        (r = await call("/ok", {
          headers: { authorization: [`Bearer ${agentToken}`, `Bearer ${agentToken}`] },
        })),
    );
    expect(hits).toBe(0);
    expectChallenge(r, 400, "invalid_request");
  });
});

// ---------------------------------------------------------------------------------------------------------
// Forged identity headers on an ALLOWED request
// ---------------------------------------------------------------------------------------------------------

const FORGED = "forged-by-attacker";
const forgedCases: { name: string; headers: Record<string, string> }[] = [
  { name: "x-portcullis-subject", headers: { "x-portcullis-subject": `user:${FORGED}` } },
  { name: "x-portcullis-caller-type", headers: { "x-portcullis-caller-type": FORGED } },
  {
    name: "x-forwarded-client-cert",
    headers: { "x-forwarded-client-cert": `By=spiffe://evil;URI=spiffe://demo.portcullis/${FORGED}` },
  },
  { name: "txn-token", headers: { "txn-token": `eyJhbGciOiJub25lIn0.${FORGED}.` } },
  {
    name: "x-forwarded-for / forwarded / x-forwarded-proto",
    headers: {
      "x-forwarded-for": `10.0.0.1, ${FORGED}`,
      forwarded: `for=${FORGED};proto=http`,
      "x-forwarded-proto": FORGED,
    },
  },
  { name: "policy-set header x-agent-tier", headers: { "x-agent-tier": FORGED } },
  {
    name: "mixed-case and underscore variants",
    headers: { "X-Portcullis-SUBJECT": FORGED, x_portcullis_subject: FORGED, "Txn-Token": FORGED },
  },
];
total += forgedCases.length;

describe(`adversarial: forged identity headers on an allowed request (${forgedCases.length} cases)`, () => {
  it.each(forgedCases)("$name → upstream never sees the forged value", async ({ headers }) => {
    let r!: Reply;
    expect(await upstreamHits(async () => (r = await call("/ok", { token: agentToken, headers })))).toBe(1);
    expect(r.status).toBe(200);
    const h = seen.at(-1)!.headers;
    expect(JSON.stringify(h)).not.toContain(FORGED);
    expect(h["x-portcullis-subject"]).toBe(AGENT_ID);
    expect(h["x-portcullis-caller-type"]).toBe("ai-agent");
    expect(h["x-agent-tier"]).toBe("gold");
    expect(h["x-forwarded-client-cert"]).toBeUndefined();
    expect(h["txn-token"]).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------
// Path tricks: 400, or normalised once with the upstream receiving exactly the normalised path
// ---------------------------------------------------------------------------------------------------------

/** `upstream`: the only path the upstream may receive if the gateway normalises instead of refusing. */
const pathCases: { raw: string; upstream?: string }[] = [
  { raw: "/a/../admin", upstream: "/admin" },
  { raw: "/%2e%2e/admin", upstream: "/admin" },
  { raw: "/x/%2E%2E/admin", upstream: "/admin" },
  { raw: "/../../../admin", upstream: "/admin" },
  { raw: "/ok/.%2e/.%2e/admin", upstream: "/admin" },
  { raw: "/ok%2f..%2fadmin" },
  { raw: "/ok%2F..%2Fadmin" },
  { raw: "/%252e%252e/admin" },
  { raw: "/x/%252e%252e%252fadmin" },
  { raw: "/ok\\..\\admin" },
  { raw: "/ok%5c..%5cadmin" },
  { raw: "/admin%00.json" },
  { raw: "/ok%00/../admin" },
  { raw: "/admin;/../ok", upstream: "/ok" },
  { raw: "/ok/..;/admin" },
  { raw: "/./admin/.", upstream: "/admin/" },
];
total += pathCases.length;

describe(`adversarial: path tricks (${pathCases.length} cases)`, () => {
  it.each(pathCases)("$raw → 400, or normalised to a path below root", async ({ raw, upstream: want }) => {
    let r!: Reply;
    const hits = await upstreamHits(async () => (r = await call(raw, { token: agentToken })));
    if (r.status === 400) {
      expect(hits).toBe(0);
      expect(JSON.parse(r.body).error).toBe("invalid_request");
      return;
    }
    // Not refused: it must have been normalised exactly once, to what the policy saw.
    expect(want, `gateway answered ${r.status} for ${raw}, expected 400`).toBeDefined();
    if (hits === 0) {
      // Denied by policy (e.g. normalised to a path the policy does not allow): never above root anyway.
      expect(r.status).toBe(403);
      return;
    }
    expect(hits).toBe(1);
    const url = seen.at(-1)!.url;
    expect(url).toBe(want);
    expect(url).not.toMatch(/\.\.|%2e|%2f|%5c|\\|%00/i);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Oversized headers
// ---------------------------------------------------------------------------------------------------------

const manyHeaders: Record<string, string> = {};
for (let i = 0; i < 150; i++) manyHeaders[`x-pad-${i}`] = "1";
const oversizeCases: { name: string; headers: () => Record<string, string> }[] = [
  {
    name: "header section larger than max_header_bytes (40 KiB)",
    headers: () => ({ "x-pad": "a".repeat(40_000) }),
  },
  { name: "one field over 8 KiB within the section limit", headers: () => ({ "x-pad": "a".repeat(9000) }) },
  {
    name: "section over 16 KiB split across fields",
    headers: () => ({
      "x-pad-a": "a".repeat(6000),
      "x-pad-b": "b".repeat(6000),
      "x-pad-c": "c".repeat(6000),
    }),
  },
  { name: "150 header fields", headers: () => manyHeaders },
];
total += oversizeCases.length;

describe(`adversarial: oversized headers (${oversizeCases.length} cases)`, () => {
  it.each(oversizeCases)("$name → 431 or connection closed, upstream untouched", async ({ headers }) => {
    let outcome: number | "closed" = "closed";
    const hits = await upstreamHits(async () => {
      outcome = await call("/ok", { token: agentToken, headers: headers() }).then(
        (r) => r.status,
        () => "closed" as const,
      );
    });
    expect(hits).toBe(0);
    expect([431, "closed"]).toContain(outcome);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Request smuggling over raw TLS sockets (valid SVID and token: only the framing is wrong)
// ---------------------------------------------------------------------------------------------------------

const smuggled = "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n";
function head(lines: string[], body: string): string {
  return (
    ["POST /ok HTTP/1.1", "Host: 127.0.0.1", () => `Authorization: Bearer ${agentToken}`, ...lines]
      .map((l) => (typeof l === "function" ? l() : l))
      .join("\r\n") +
    "\r\n\r\n" +
    body
  );
}
const chunkedSmuggle = `0\r\n\r\n${smuggled}`;

const smugglingCases: { name: string; raw: () => string }[] = [
  {
    name: "CL.TE: Content-Length then Transfer-Encoding: chunked",
    raw: () =>
      head([`Content-Length: ${chunkedSmuggle.length}`, "Transfer-Encoding: chunked"], chunkedSmuggle),
  },
  {
    name: "TE.CL: Transfer-Encoding: chunked then Content-Length",
    raw: () => head(["Transfer-Encoding: chunked", "Content-Length: 4"], `5c\r\n${smuggled}\r\n0\r\n\r\n`),
  },
  {
    name: "duplicate Content-Length with different values",
    raw: () => head(["Content-Length: 5", "Content-Length: 40"], `hello${smuggled}`),
  },
  {
    name: "duplicate Content-Length with the same value",
    raw: () => head(["Content-Length: 5", "Content-Length: 5"], `hello`),
  },
  {
    name: "Content-Length as a list (5, 5)",
    raw: () => head(["Content-Length: 5, 5"], `hello`),
  },
  {
    name: "Transfer-Encoding: gzip, chunked",
    raw: () => head(["Transfer-Encoding: gzip, chunked"], `5\r\nhello\r\n0\r\n\r\n`),
  },
  {
    name: "two Transfer-Encoding: chunked field lines",
    raw: () => head(["Transfer-Encoding: chunked", "Transfer-Encoding: chunked"], `5\r\nhello\r\n0\r\n\r\n`),
  },
  {
    name: "Transfer-Encoding with whitespace before the colon",
    raw: () => head(["Transfer-Encoding : chunked", "Content-Length: 4"], chunkedSmuggle),
  },
  {
    name: "Transfer-Encoding obs-fold continuation line",
    raw: () => head(["Transfer-Encoding:", " chunked", "Content-Length: 4"], chunkedSmuggle),
  },
  {
    name: "Transfer-Encoding: xchunked with Content-Length",
    raw: () => head(["Transfer-Encoding: xchunked", "Content-Length: 4"], chunkedSmuggle),
  },
];
total += smugglingCases.length;

describe(`adversarial: HTTP request smuggling over raw TLS (${smugglingCases.length} cases)`, () => {
  it.each(smugglingCases)("$name → 400 or connection closed, upstream untouched", async ({ raw }) => {
    let out = "";
    const hits = await upstreamHits(async () => (out = await rawExchange(raw())));
    expect(hits).toBe(0);
    if (out !== "") expect(out).toMatch(/^HTTP\/1\.1 400 /);
    // Never a second response for a smuggled request on the same connection.
    expect(out.match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0).toBeLessThanOrEqual(1);
  });

  it("control: a well-framed chunked POST on the same raw path is proxied", async () => {
    let out = "";
    const hits = await upstreamHits(
      async () =>
        (out = await rawExchange(
          head(["Transfer-Encoding: chunked", "Connection: close"], `5\r\nhello\r\n0\r\n\r\n`),
        )),
    );
    expect(out).toMatch(/^HTTP\/1\.1 200 /);
    expect(hits).toBe(1);
    expect(seen.at(-1)!.body).toBe("hello");
  });
});

describe("adversarial summary", () => {
  it(`counts ${tlsCases.length + jwtCases.length + 1 + forgedCases.length + pathCases.length + oversizeCases.length + smugglingCases.length} adversarial cases`, () => {
    expect(total).toBe(
      tlsCases.length +
        jwtCases.length +
        1 +
        forgedCases.length +
        pathCases.length +
        oversizeCases.length +
        smugglingCases.length,
    );
  });
});
