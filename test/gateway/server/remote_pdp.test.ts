// The gateway deciding through a remote PDP, end to end: a real `portcullis pdp` server (startPdpServer,
// the shipped policies) on loopback, a real gateway segment over mTLS with real bearer tokens, a real
// upstream. Outages are real too: the PDP stopped, a real HTTP server that stalls, one that answers 500
// or garbage. Every failure must be a 503 with Retry-After and must never reach the upstream.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPdp } from "../../../cli/serve.js";
import { loadConfig } from "../../../gateway/config/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import type { Pdp } from "../../../gateway/server/enforce.js";
import {
  remotePdp,
  remotePdpFromConfig,
  RemotePdpError,
  type RemotePdp,
} from "../../../gateway/server/remote_pdp.js";
import { startSegment, type RunningSegment } from "../../../gateway/server/serve.js";
import {
  DEV_AUDIENCE,
  DEV_ISSUER,
  ensureDevPki,
  signAccessToken,
  type DevPki,
} from "../../../gateway/pki/index.js";
import {
  compileRevision,
  PolicyStore,
  startPdpServer,
  type ClientAuthConfig,
  type RunningPdp,
} from "../../../pdp/server/index.js";
import { shippedPolicy, testConfig } from "../../pdp/server/helpers.js";

const ENTRYPOINT = "portcullis/authz/decision";
const PLANNER = "spiffe://demo.portcullis/agent/planner";
const PDP_AUDIENCE = "portcullis-pdp";

const SEGMENT = `segments:
  - name: payments
    listen: 127.0.0.1:0
    upstream: http://127.0.0.1:9
    tls: { cert: gateway.pem, key: gateway.key, client_ca: ca.pem }
    authentication: mtls
`;

let dir: string;
let pki: DevPki;
let upstream: Server;
let upstreamUrl: string;
let upstreamHits = 0;
let readToken: string;
const closers: (() => unknown)[] = [];

/** A real PDP serving the shipped policies (payments made non-sensitive, as `portcullis demo` does). */
async function startPdp(auth: ClientAuthConfig = { type: "none" }): Promise<RunningPdp> {
  const { modules, data } = shippedPolicy();
  const d = structuredClone(data) as { portcullis: { segments: { payments: Record<string, unknown> } } };
  d.portcullis.segments.payments.sensitive = false;
  const store = new PolicyStore();
  store.activate(compileRevision({ modules, data: d, name: "portcullis", source: "test" }));
  const pdp = await startPdpServer({ config: testConfig({ auth }), store, log: () => undefined });
  closers.push(() => pdp.close());
  return pdp;
}

function client(url: string, over: Partial<Parameters<typeof remotePdp>[0]> = {}): RemotePdp {
  const c = remotePdp({
    url,
    entrypoint: ENTRYPOINT,
    timeoutMs: 2_000,
    maxConcurrency: 8,
    maxQueue: 64,
    ...over,
  });
  closers.push(() => c.close());
  return c;
}

async function gateway(pdp: Pdp): Promise<number> {
  const r: RunningSegment = await startSegment(demoSegment(dir, upstreamUrl), pdp, () => undefined);
  closers.push(() => new Promise((res) => (r.server.close(res), r.server.closeAllConnections())));
  return r.port;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function call(port: number, path: string, method = "GET"): Promise<Reply> {
  const svid = pki.svids.agent;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method,
        ca: pki.ca.certPem,
        cert: svid.certPem,
        key: svid.keyPem,
        headers: { authorization: `Bearer ${readToken}` },
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

/** The reply and how many requests reached the upstream while it was made. */
async function counted(port: number, path: string, method = "GET"): Promise<[Reply, number]> {
  const before = upstreamHits;
  const r = await call(port, path, method);
  return [r, upstreamHits - before];
}

function expectOutage(r: Reply, hits: number): void {
  expect(hits).toBe(0);
  expect(r.status).toBe(503);
  expect(r.headers["retry-after"]).toBe("1");
  expect(JSON.parse(r.body)).toEqual({
    error: "temporarily_unavailable",
    error_description: "the policy decision point is unavailable",
  });
}

/** A real HTTP server on loopback whose handler decides how (and whether) to answer. */
async function fakePdp(handler: (res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => handler(res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  closers.push(() => new Promise((res) => (server.close(res), server.closeAllConnections())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-remote-pdp-"));
  pki = await ensureDevPki({
    dir,
    svids: [{ name: "agent", spiffeId: PLANNER }],
    tokens: [],
  });
  readToken = await signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: DEV_AUDIENCE,
    sub: PLANNER,
    scope: "payments:read",
  });
  upstream = createServer((req, res) => {
    upstreamHits++;
    req.resume();
    res.writeHead(200, { "content-type": "application/json" }).end('{"upstream":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of closers.reverse()) await c();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("gateway with a remote PDP (pdp.url)", () => {
  it("allows and denies as the remote PDP's policy decides, and names no revision (uncached)", async () => {
    const pdp = await startPdp();
    const c = client(pdp.url);
    expect(c.revision).toBeUndefined();
    const port = await gateway(c);
    const [ok, okHits] = await counted(port, "/payments/balance");
    expect(ok.status).toBe(200);
    expect(okHits).toBe(1);
    // payments:write is needed for a POST; the token has payments:read only.
    const [denied, deniedHits] = await counted(port, "/payments/transfer", "POST");
    expect(denied.status).toBe(403);
    expect(deniedHits).toBe(0);
    expect(c.stats.calls).toBe(2);
    expect(c.stats.failures).toEqual({ unreachable: 0, timeout: 0, overloaded: 0, status: 0, malformed: 0 });
  });

  it("PDP stopped → 503 with Retry-After, the upstream never reached", async () => {
    const pdp = await startPdp();
    const c = client(pdp.url);
    const port = await gateway(c);
    expect((await call(port, "/payments/balance")).status).toBe(200);
    await pdp.close();
    const [r, hits] = await counted(port, "/payments/balance");
    expectOutage(r, hits);
    expect(c.stats.failures.unreachable).toBe(1);
  });

  it("a PDP that stalls → timeout → 503, the upstream never reached", async () => {
    const stalled: ServerResponse[] = [];
    const slow = await fakePdp((res) => stalled.push(res));
    const c = client(slow.url, { timeoutMs: 150 });
    const port = await gateway(c);
    const [r, hits] = await counted(port, "/payments/balance");
    expectOutage(r, hits);
    expect(c.stats.failures.timeout).toBe(1);
    expect(stalled.length).toBe(1);
  });

  it("a PDP answering 500, non-JSON or a non-object → 503; no result → the policy's undefined → 403", async () => {
    let answer = "";
    let status = 500;
    const bad = await fakePdp((res) =>
      res.writeHead(status, { "content-type": "application/json" }).end(answer),
    );
    const c = client(bad.url);
    const port = await gateway(c);
    answer = '{"code":"internal_error","message":"boom"}';
    expectOutage(...(await counted(port, "/payments/balance")));
    status = 200;
    answer = "<html>not json";
    expectOutage(...(await counted(port, "/payments/balance")));
    answer = "[true]";
    expectOutage(...(await counted(port, "/payments/balance")));
    expect(c.stats.failures).toMatchObject({ status: 1, malformed: 2 });
    answer = '{"decision_id":"x"}';
    const [r, hits] = await counted(port, "/payments/balance");
    expect(r.status).toBe(403);
    expect(hits).toBe(0);
  });

  it("keeps at most max_concurrency calls in flight at the PDP; the rest wait in the queue", async () => {
    let open = 0;
    let maxOpen = 0;
    const pending: ServerResponse[] = [];
    const slow = await fakePdp((res) => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      pending.push(res);
      // Holds the three a bound of 3 lets through, a moment longer so that any call sent past the bound
      // would arrive meanwhile (on loopback it would), then answers them.
      if (pending.length === 3) setTimeout(release, 50);
    });
    const release = () => {
      for (const res of pending.splice(0)) {
        open--;
        res.writeHead(200, { "content-type": "application/json" }).end('{"result":{"allow":true}}');
      }
    };
    const c = client(slow.url, { maxConcurrency: 3, maxQueue: 100, timeoutMs: 10_000 });
    const decisions = Array.from({ length: 9 }, (_, i) => c.decide({ i }));
    expect(c.stats.inFlight).toBe(3);
    expect(c.stats.queued).toBe(6);
    expect(await Promise.all(decisions)).toEqual(Array.from({ length: 9 }, () => ({ allow: true })));
    expect(maxOpen).toBe(3);
    expect(c.stats.inFlight).toBe(0);
  });

  it("fails fast beyond the queue bound: overloaded, never sent", async () => {
    const pending: ServerResponse[] = [];
    let received = 0;
    const slow = await fakePdp((res) => {
      received++;
      pending.push(res);
    });
    const c = client(slow.url, { maxConcurrency: 2, maxQueue: 1, timeoutMs: 10_000 });
    const calls = Array.from({ length: 5 }, (_, i) =>
      c.decide({ i }).then(
        (v) => ({ ok: v }),
        (e: unknown) => ({ failure: e instanceof RemotePdpError ? e.failure : String(e) }),
      ),
    );
    // The two beyond in-flight + queue fail at once, while the others are still held by the server.
    expect(await Promise.all(calls.slice(3))).toEqual([{ failure: "overloaded" }, { failure: "overloaded" }]);
    while (received < 2) await new Promise((r) => setTimeout(r, 5));
    for (const res of pending.splice(0)) res.writeHead(200).end('{"result":true}');
    while (received < 3) await new Promise((r) => setTimeout(r, 5));
    for (const res of pending.splice(0)) res.writeHead(200).end('{"result":false}');
    expect(await Promise.all(calls.slice(0, 3))).toEqual([{ ok: true }, { ok: true }, { ok: false }]);
    expect(received).toBe(3);
    expect(c.stats.failures.overloaded).toBe(2);
  });

  it("authenticates to a bearer-protected PDP with the token file from the config", async () => {
    const pdp = await startPdp({
      type: "bearer",
      jwks_file: join(dir, "jwks.json"),
      issuer: DEV_ISSUER,
      audience: [PDP_AUDIENCE],
      algorithms: ["ES256"],
      clock_skew_s: 0,
    });
    const pepToken = await signAccessToken(pki.issuer, {
      iss: DEV_ISSUER,
      aud: PDP_AUDIENCE,
      sub: "spiffe://demo.portcullis/gateway/pep-1",
    });
    writeFileSync(join(dir, "pdp.token"), `${pepToken}\n`);
    const file = join(dir, "remote.yaml");
    writeFileSync(
      file,
      `pdp:
  url: ${pdp.url}
  entrypoint: ${ENTRYPOINT}
  timeout_ms: 2000
  max_concurrency: 4
  auth: { bearer_token_file: pdp.token }
${SEGMENT}`,
    );
    const config = loadConfig(file, { checkFiles: true });
    expect(config.pdp).toMatchObject({ url: pdp.url, max_concurrency: 4, max_queue: 1024 });
    if (config.pdp.url === undefined) throw new Error("expected a remote pdp config");
    const direct = remotePdpFromConfig(config.pdp);
    closers.push(() => direct.close());
    expect(direct.entrypoint).toBe(ENTRYPOINT);
    // As `portcullis serve` builds it from the config.
    const withToken = loadPdp(config) as RemotePdp;
    closers.push(() => withToken.close());
    const port = await gateway(withToken);
    const [ok, okHits] = await counted(port, "/payments/balance");
    expect(ok.status).toBe(200);
    expect(okHits).toBe(1);

    // Without the token the PDP answers 401: no decision, so an outage (503), never an allow.
    const port2 = await gateway(client(pdp.url));
    const [r, hits] = await counted(port2, "/payments/balance");
    expectOutage(r, hits);
  });

  it("config: exactly one of pdp.policies / pdp.url, http only on loopback", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, `pdp: { url: 'http://pdp.example:8181', policies: x }\n${SEGMENT}`);
    expect(() => loadConfig(bad, { checkFiles: false })).toThrow(/pdp\.policies: set exactly one/);
    expect(() => loadConfig(bad, { checkFiles: false })).toThrow(/pdp\.url: must be a https URL/);
  });
});
