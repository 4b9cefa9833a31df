// End to end over real TLS: dev PKI certificates, a real JWKS file, a real upstream on loopback.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPaths } from "../../../cli/load.js";
import { compile } from "../../../pdp/rego/index.js";
import type { Segment } from "../../../gateway/config/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startSegment, type RunningSegment } from "../../../gateway/server/serve.js";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";

const TEST_POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied", "reasons": ["default"]}
decision := {"allow": true, "headers": {"x-agent-tier": "gold"}} if {
  input.request.path in {"/ok", "/admin"}
  input.caller.type == "ai-agent"
  "bearer" in input.authn.methods
}
decision := {"allow": false, "status": 403, "error": "insufficient_scope", "scope": "payments:admin"} if {
  input.request.path == "/write"
}
`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

let dir: string;
let pki: DevPki;
let upstream: Server;
let upstreamUrl: string;
const seen: Seen[] = [];
const running: RunningSegment[] = [];

function segment(name: string, overrides: Partial<Segment> = {}): Segment {
  return demoSegment(dir, upstreamUrl, 0, { name, ...overrides });
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function call(
  port: number,
  path: string,
  o: { method?: string; token?: string; cert?: string | false; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const svid = o.cert === false ? undefined : pki.svids[o.cert ?? "agent"];
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
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function start(s: Segment, pdp: Pdp): Promise<number> {
  const r = await startSegment(s, pdp, (e) => process.env.GW_DEBUG && console.log(e));
  running.push(r);
  return r.port;
}

let testPdp: Pdp;
let agentToken: string;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-gw-"));
  pki = await ensureDevPki({
    dir,
    svids: [
      { name: "agent", spiffeId: "spiffe://demo.portcullis/agent/planner" },
      { name: "device", spiffeId: "spiffe://demo.portcullis/device/d1" },
    ],
    tokens: [],
  });
  agentToken = await signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: "payments",
    sub: "spiffe://demo.portcullis/agent/planner",
    scope: "payments:read",
  });
  upstream = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ upstream: true }));
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  testPdp = regoPdp(
    compile({ modules: [{ file: "test.rego", source: TEST_POLICY }] }),
    "portcullis/authz/decision",
  );
  port = await start(segment("payments"), testPdp);
});

afterAll(async () => {
  await Promise.all(
    running.map((r) => new Promise((res) => (r.server.close(res), r.server.closeAllConnections()))),
  );
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `fn` and returns how many requests reached the upstream meanwhile. */
async function upstreamHits(fn: () => Promise<unknown>): Promise<number> {
  const before = seen.length;
  await fn();
  return seen.length - before;
}

describe("gateway server end to end", () => {
  it("proxies an allowed request with verified identity headers and the policy's headers", async () => {
    const r = await call(port, "/ok?x=1", { token: agentToken });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ upstream: true });
    const s = seen.at(-1)!;
    expect(s.url).toBe("/ok?x=1");
    expect(s.headers["x-portcullis-subject"]).toBe("spiffe://demo.portcullis/agent/planner");
    expect(s.headers["x-portcullis-caller-type"]).toBe("ai-agent");
    expect(s.headers["x-agent-tier"]).toBe("gold");
    expect(s.headers["x-forwarded-proto"]).toBe("https");
  });

  it("adversarial: strips a forged x-portcullis-subject and x-forwarded-client-cert", async () => {
    const r = await call(port, "/ok", {
      token: agentToken,
      headers: {
        "x-portcullis-subject": "user:root",
        "x-forwarded-client-cert": "By=evil",
        x_portcullis_subject: "x",
      },
    });
    expect(r.status).toBe(200);
    const h = seen.at(-1)!.headers;
    expect(h["x-portcullis-subject"]).toBe("spiffe://demo.portcullis/agent/planner");
    expect(h["x-forwarded-client-cert"]).toBeUndefined();
    expect(h["x_portcullis_subject"]).toBeUndefined();
  });

  it("adversarial: refuses the TLS handshake without a client certificate", async () => {
    let hits = 0;
    await expect(
      (async () => {
        hits = await upstreamHits(() => call(port, "/ok", { token: agentToken, cert: false }));
      })(),
    ).rejects.toThrow();
    expect(hits).toBe(0);
  });

  it("no token → 401 with a bare Bearer challenge and resource_metadata", async () => {
    let r!: Reply;
    expect(await upstreamHits(async () => (r = await call(port, "/ok")))).toBe(0);
    expect(r.status).toBe(401);
    const challenge = String(r.headers["www-authenticate"]);
    expect(challenge).toMatch(
      /^Bearer realm="payments", resource_metadata="https:\/\/127\.0\.0\.1:0\/\.well-known/,
    );
    expect(challenge).not.toContain("error=");
  });

  it("adversarial: bad token → 401 invalid_token", async () => {
    let r!: Reply;
    const forged = agentToken.slice(0, -4) + (agentToken.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect(await upstreamHits(async () => (r = await call(port, "/ok", { token: forged })))).toBe(0);
    expect(r.status).toBe(401);
    expect(String(r.headers["www-authenticate"])).toContain('error="invalid_token"');
    expect(JSON.parse(r.body).error).toBe("invalid_token");
  });

  it("policy deny → 403 and the upstream sees nothing", async () => {
    let r!: Reply;
    expect(await upstreamHits(async () => (r = await call(port, "/nope", { token: agentToken })))).toBe(0);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body)).toEqual({ error: "access_denied", error_description: "access denied" });
  });

  it("insufficient_scope → 403 with scope= in WWW-Authenticate", async () => {
    const r = await call(port, "/write", { token: agentToken });
    expect(r.status).toBe(403);
    expect(String(r.headers["www-authenticate"])).toContain(
      'scope="payments:admin", error="insufficient_scope"',
    );
  });

  it("a caller type without a rule is denied by the policy", async () => {
    const token = await signAccessToken(pki.issuer, { iss: DEV_ISSUER, aud: "payments", sub: "device" });
    const r = await call(port, "/ok", { token, cert: "device" });
    expect(r.status).toBe(403);
  });

  it("adversarial: /a/../admin is normalised once, for policy and upstream", async () => {
    const r = await call(port, "/a/../admin", { token: agentToken });
    expect(r.status).toBe(200);
    expect(seen.at(-1)!.url).toBe("/admin");
  });

  it("adversarial: %2f and %2e%2e tricks → 400 or normalised, never the raw path upstream", async () => {
    let r!: Reply;
    expect(
      await upstreamHits(async () => (r = await call(port, "/ok%2f..%2fadmin", { token: agentToken }))),
    ).toBe(0);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error).toBe("invalid_request");
    const r2 = await call(port, "/x/%2e%2e/admin", { token: agentToken });
    expect(r2.status).toBe(200);
    expect(seen.at(-1)!.url).toBe("/admin");
  });

  it("serves RFC 9728 protected resource metadata without credentials", async () => {
    const r = await call(port, "/.well-known/oauth-protected-resource");
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({
      authorization_servers: [DEV_ISSUER],
      bearer_methods_supported: ["header"],
    });
  });

  it("fails closed: a malformed decision → 403, a PDP error → 503 with Retry-After", async () => {
    const malformed = await start(segment("m"), { decide: () => "yes" });
    const broken = await start(segment("b"), {
      decide: () => {
        throw new Error("eval_cancel_error: timed out");
      },
    });
    const notObject = await start(
      segment("n"),
      regoPdp(
        compile({ modules: [{ file: "p.rego", source: "package portcullis.authz\ndecision := 7" }] }),
        "portcullis/authz/decision",
      ),
    );
    let a!: Reply, b!: Reply, c!: Reply;
    const hits = await upstreamHits(async () => {
      a = await call(malformed, "/ok", { token: agentToken });
      b = await call(broken, "/ok", { token: agentToken });
      c = await call(notObject, "/ok", { token: agentToken });
    });
    expect(hits).toBe(0);
    expect(a.status).toBe(403);
    expect(b.status).toBe(503);
    expect(b.headers["retry-after"]).toBeDefined();
    expect(b.body).not.toContain("eval_cancel_error");
    expect(c.status).toBe(403);
  });

  it("with the shipped policy, an unattested AI agent on the sensitive payments segment is denied", async () => {
    const loaded = loadPaths([join(import.meta.dirname, "../../../policies")]);
    const shipped = regoPdp(
      compile({ modules: loaded.modules, data: loaded.data }),
      "portcullis/authz/decision",
    );
    const p = await start(segment("payments"), shipped);
    let r!: Reply;
    // GET / opts out of attestation in the shipped data (attestation_required: false); /payments/** does not.
    const hits = await upstreamHits(async () => (r = await call(p, "/payments/p-1", { token: agentToken })));
    expect(hits).toBe(0);
    expect(r.status).toBe(403);
  });
});
