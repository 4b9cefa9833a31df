// Tracing end to end: `portcullis serve` in child processes (the SDK is process-global), real TLS with the
// dev PKI, a real upstream, and a real OTLP/HTTP receiver on loopback that gets the spans as JSON
// (OTEL_EXPORTER_OTLP_PROTOCOL=http/json). One child runs with tracing on, one with nothing configured.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import {
  DEV_AUDIENCE,
  DEV_ISSUER,
  DEV_TRUST_DOMAIN,
  ensureDevPki,
  signAccessToken,
  type DevPki,
} from "../../../gateway/pki/index.js";

const CHILD = join(import.meta.dirname, "fixtures", "serve-child.mjs");

const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied", "reasons": ["default"]}
decision := {"allow": true} if {
  startswith(input.request.path, "/ok/")
  input.caller.type == "ai-agent"
  "bearer" in input.authn.methods
}
decision := {"allow": false, "error": "insufficient_scope", "scope": "payments:admin", "reasons": ["needs payments:admin"]} if {
  input.request.path == "/write"
}
`;

// ---- OTLP/JSON as the receiver gets it ----------------------------------------------------------------

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
  status?: { code?: number; message?: string };
}
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: OtlpValue }[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

type Plain = string | number | boolean | Plain[] | undefined;

function plain(v: OtlpValue): Plain {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(plain);
  return undefined;
}

interface SeenSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  kind: number;
  status: number;
  attrs: Record<string, Plain>;
  resource: Record<string, Plain>;
}

/** OTLP/JSON ids are hex; an absent or empty parent means a root span. */
function flatten(body: OtlpRequest): SeenSpan[] {
  const out: SeenSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = Object.fromEntries((rs.resource?.attributes ?? []).map((a) => [a.key, plain(a.value)]));
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ? s.parentSpanId : undefined,
          name: s.name,
          kind: s.kind,
          status: s.status?.code ?? 0,
          attrs: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, plain(a.value)])),
          resource,
        });
      }
    }
  }
  return out;
}

// ---- the pieces: PKI, upstream, receiver, child ------------------------------------------------------

let dir: string;
let pki: DevPki;
let token: string;
let upstream: Server;
let wss: WebSocketServer;
let upstreamPort: number;
/** Headers the upstream saw, by request path. */
const upstreamSaw = new Map<string, IncomingHttpHeaders>();
let receiver: Server;
let receiverPort: number;
const otlpPosts: { path: string; contentType: string | undefined; body: OtlpRequest }[] = [];

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
}

function writeConfig(): string {
  mkdirSync(join(dir, "policies"), { recursive: true });
  writeFileSync(join(dir, "policies", "authz.rego"), POLICY);
  const file = join(dir, "gateway.yaml");
  writeFileSync(
    file,
    `pdp: { policies: ${join(dir, "policies")}, entrypoint: portcullis/authz/decision }
segments:
  - name: payments
    listen: 127.0.0.1:0
    upstream: http://127.0.0.1:${upstreamPort}
    tls:
      cert: ${join(dir, "gateway.pem")}
      key: ${join(dir, "gateway.key")}
      client_ca: ${join(dir, "ca.pem")}
      client_auth: require
      trust_domains: [${DEV_TRUST_DOMAIN}]
    authentication: { all: [mtls, bearer] }
    authenticators:
      bearer: { issuer: "${DEV_ISSUER}", audience: ${DEV_AUDIENCE}, jwks_file: ${join(dir, "jwks.json")} }
    caller_types: [ { type: ai-agent, spiffe_path: "/agent/*" } ]
`,
  );
  return file;
}

interface Gateway {
  child: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

/** `portcullis serve` in a child whose only OTEL_* variables are `otel`. */
async function startGateway(config: string, otel: Record<string, string>, track: string): Promise<Gateway> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("OTEL_")) env[k] = v;
  }
  Object.assign(env, otel, { PORTCULLIS_TRACK_IMPORTS: track });
  const child = spawn(process.execPath, [CHILD, "serve", "--config", config], { env, stdio: "pipe" });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const check = () => {
      const m = /segment payments: https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        child.stdout.off("data", check);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on("data", check);
    void exited.then((code) =>
      reject(new Error(`gateway exited (${code}) before listening:\n${out}\n${err}`)),
    );
  });
  return { child, port, stdout: () => out, stderr: () => err, exited };
}

/** SIGTERM, as an orchestrator stops the gateway; resolves with the exit code. */
async function stop(g: Gateway): Promise<number | null> {
  g.child.kill("SIGTERM");
  return g.exited;
}

interface Reply {
  status: number;
  body: string;
}

function call(port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  const svid = pki.svids.agent;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "GET",
        ca: pki.ca.certPem,
        cert: svid.certPem,
        key: svid.keyPem,
        headers,
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const bearer = () => ({ authorization: `Bearer ${token}` });

/** A WebSocket session through the gateway: open, one echo, close. Resolves with the echo. */
async function webSocketSession(port: number, path: string): Promise<string> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}${path}`, {
    ca: pki.ca.certPem,
    cert: pki.svids.agent.certPem,
    key: pki.svids.agent.keyPem,
    headers: bearer(),
  });
  await new Promise<void>((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
  const echo = new Promise<string>((resolve) => ws.once("message", (m) => resolve(String(m))));
  ws.send("hello");
  const got = await echo;
  const closed = new Promise<void>((resolve) => ws.once("close", () => resolve()));
  ws.close();
  await closed;
  return got;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-otel-"));
  pki = await ensureDevPki({
    dir,
    svids: [{ name: "agent", spiffeId: `spiffe://${DEV_TRUST_DOMAIN}/agent/planner` }],
    tokens: [],
  });
  token = await signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: DEV_AUDIENCE,
    sub: `spiffe://${DEV_TRUST_DOMAIN}/agent/planner`,
    scope: "payments:read",
  });
  upstream = createServer((req, res) => {
    upstreamSaw.set(req.url ?? "", req.headers);
    const status = req.url === "/ok/fail" ? 503 : 200;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify({ upstream: true }));
  });
  wss = new WebSocketServer({ noServer: true });
  wss.on("connection", (ws) => ws.on("message", (m) => ws.send(`echo:${String(m)}`)));
  upstream.on("upgrade", (req, socket, head) => {
    upstreamSaw.set(req.url ?? "", req.headers);
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  upstreamPort = await listen(upstream);
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      otlpPosts.push({
        path: req.url ?? "",
        contentType: req.headers["content-type"],
        body: JSON.parse(body) as OtlpRequest,
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  receiverPort = await listen(receiver);
}, 120_000);

afterAll(async () => {
  for (const c of wss?.clients ?? []) c.terminate();
  await new Promise((r) => wss?.close(r));
  await new Promise((r) => (upstream?.close(r), upstream?.closeAllConnections()));
  await new Promise((r) => receiver?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---- the scenario: every request first, then SIGTERM, then the assertions ------------------------------

const T_PARENT = "4bf92f3577b34da6a3ce929d0e0e4736";
const S_PARENT = "00f067aa0ba902b7";
const T_UNSAMPLED = "5bf92f3577b34da6a3ce929d0e0e4737";
const ZERO_TRACE = "0".repeat(32);

describe("portcullis serve, one child with tracing on and one with no OTEL_* variables", () => {
  let onTrack: string;
  let offTrack: string;
  const replies = new Map<string, Reply>();
  let spans: SeenSpan[] = [];
  let onExit: number | null;
  let offExit: number | null;
  let offReply: Reply;
  let gatewayStdout = "";
  const children: Gateway[] = [];

  beforeAll(async () => {
    const config = writeConfig();
    onTrack = join(dir, "imports-on.txt");
    offTrack = join(dir, "imports-off.txt");
    // One after the other: the first child fills the transpile cache the second then reads (hooks.mjs).
    const on = await startGateway(
      config,
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiverPort}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_SERVICE_NAME: "portcullis-test",
        // Far beyond the test's run time: spans can only arrive through the flush on SIGTERM.
        OTEL_BSP_SCHEDULE_DELAY: "600000",
      },
      onTrack,
    );
    children.push(on);
    const off = await startGateway(config, {}, offTrack);
    children.push(off);
    gatewayStdout = on.stdout();
    try {
      replies.set("plain", await call(on.port, "/ok/plain", bearer()));
      replies.set(
        "parent",
        await call(on.port, "/ok/parent", {
          ...bearer(),
          traceparent: `00-${T_PARENT}-${S_PARENT}-01`,
          tracestate: "evil=portcullis.decision",
          baggage: "portcullis.decision=deny,portcullis.caller.type=admin,authorization=stolen",
        }),
      );
      replies.set(
        "unsampled",
        await call(on.port, "/ok/unsampled", {
          ...bearer(),
          traceparent: `00-${T_UNSAMPLED}-${S_PARENT}-00`,
        }),
      );
      replies.set(
        "malformed",
        await call(on.port, "/ok/malformed", { ...bearer(), traceparent: `00-${ZERO_TRACE}-${S_PARENT}-01` }),
      );
      replies.set("policy", await call(on.port, "/write", bearer()));
      replies.set("anonymous", await call(on.port, "/ok/anonymous"));
      replies.set(
        "bad-token",
        await call(on.port, "/ok/bad-token", { authorization: "Bearer e30.e30.c2ln" }),
      );
      replies.set("upstream-503", await call(on.port, "/ok/fail", bearer()));
      replies.set("hygiene", await call(on.port, "/ok/a%2fb", bearer()));
      replies.set("websocket", { status: 101, body: await webSocketSession(on.port, "/ok/ws") });
      offReply = await call(off.port, "/ok/off", {
        ...bearer(),
        traceparent: `00-${T_PARENT}-${S_PARENT}-01`,
      });
    } finally {
      [onExit, offExit] = await Promise.all([stop(on), stop(off)]);
    }
    spans = otlpPosts.flatMap((p) => flatten(p.body));
    if (process.env.PORTCULLIS_TEST_DEBUG) console.log(on.stderr(), JSON.stringify(spans, null, 2));
  }, 120_000);

  afterAll(() => {
    // Only when a step above failed: a child that never got its SIGTERM must not outlive the test.
    for (const g of children)
      if (g.child.exitCode === null && g.child.signalCode === null) g.child.kill("SIGKILL");
  });

  function spanFor(path: string): SeenSpan {
    const found = spans.filter((s) => s.attrs["url.path"] === path);
    expect(found, `spans for ${path}`).toHaveLength(1);
    return found[0];
  }

  function upstreamParent(path: string): { traceId: string; parentId: string; flags: string } {
    const tp = upstreamSaw.get(path)?.traceparent;
    expect(typeof tp, `traceparent at the upstream for ${path}`).toBe("string");
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(tp as string);
    expect(m, `well-formed traceparent ${tp}`).not.toBeNull();
    return { traceId: m![1], parentId: m![2], flags: m![3] };
  }

  describe("tracing on: OTLP http/json to a loopback receiver", () => {
    it("says so at start-up and flushes every span on SIGTERM, then exits 0", () => {
      expect(gatewayStdout).toContain("tracing: on (OTEL_EXPORTER_OTLP_ENDPOINT is set)");
      expect(onExit).toBe(0);
      expect(otlpPosts.length).toBeGreaterThan(0);
      for (const p of otlpPosts) {
        expect(p.path).toBe("/v1/traces");
        expect(p.contentType).toContain("application/json");
      }
    });

    it("exports exactly one SERVER span per request and nothing else", () => {
      expect(spans).toHaveLength(replies.size);
      for (const s of spans) {
        expect(s.kind).toBe(2); // SPAN_KIND_SERVER in OTLP
        expect(s.attrs["portcullis.segment"]).toBe("payments");
        expect(s.resource["service.name"]).toBe("portcullis-test");
      }
    });

    it("an allowed request: decision, identity and HTTP attributes, and the upstream is its child", () => {
      expect(replies.get("plain")!.status).toBe(200);
      const s = spanFor("/ok/plain");
      expect(s.name).toBe("GET");
      expect(s.parentSpanId).toBeUndefined();
      expect(s.status).toBe(0);
      expect(s.attrs).toMatchObject({
        "http.request.method": "GET",
        "url.scheme": "https",
        "http.response.status_code": 200,
        "portcullis.decision": "allow",
        "portcullis.caller.type": "ai-agent",
        "portcullis.authn.methods": ["mtls", "bearer"],
        "portcullis.peer.spiffe_id": `spiffe://${DEV_TRUST_DOMAIN}/agent/planner`,
        "client.address": "127.0.0.1",
      });
      expect(s.attrs["portcullis.deny.stage"]).toBeUndefined();
      const up = upstreamParent("/ok/plain");
      expect(up.traceId).toBe(s.traceId);
      expect(up.parentId).toBe(s.spanId);
      expect(up.flags).toBe("01");
    });

    it("a client's traceparent is continued as the parent, but the upstream's parent is the gateway span", () => {
      expect(replies.get("parent")!.status).toBe(200);
      const s = spanFor("/ok/parent");
      expect(s.traceId).toBe(T_PARENT);
      expect(s.parentSpanId).toBe(S_PARENT);
      const up = upstreamParent("/ok/parent");
      expect(up.traceId).toBe(T_PARENT);
      expect(up.parentId).toBe(s.spanId);
      expect(up.parentId).not.toBe(S_PARENT);
    });

    it("nothing the client sends in tracestate or baggage becomes an attribute", () => {
      const s = spanFor("/ok/parent");
      const plainKeys = Object.keys(spanFor("/ok/plain").attrs).sort();
      expect(Object.keys(s.attrs).sort()).toEqual(plainKeys);
      expect(s.attrs["portcullis.decision"]).toBe("allow");
      expect(s.attrs["portcullis.caller.type"]).toBe("ai-agent");
      expect(JSON.stringify(s.attrs)).not.toContain("stolen");
      expect(JSON.stringify(s.attrs)).not.toContain("evil");
    });

    it("a client cannot switch tracing of its request off with an unsampled traceparent", () => {
      const s = spanFor("/ok/unsampled");
      expect(s.traceId).toBe(T_UNSAMPLED);
      const up = upstreamParent("/ok/unsampled");
      expect(up).toEqual({ traceId: T_UNSAMPLED, parentId: s.spanId, flags: "01" });
    });

    it("an invalid traceparent starts a new trace and never reaches the upstream", () => {
      const s = spanFor("/ok/malformed");
      expect(s.parentSpanId).toBeUndefined();
      expect(s.traceId).not.toBe(ZERO_TRACE);
      const up = upstreamParent("/ok/malformed");
      expect(up.traceId).toBe(s.traceId);
      expect(up.parentId).toBe(s.spanId);
    });

    it("a policy deny: 403 with the error code and the policy's reason, nothing upstream", () => {
      expect(replies.get("policy")!.status).toBe(403);
      const s = spanFor("/write");
      expect(s.attrs).toMatchObject({
        "http.response.status_code": 403,
        "portcullis.decision": "deny",
        "portcullis.deny.stage": "policy",
        "portcullis.deny.error": "insufficient_scope",
        "portcullis.deny.reason": "deny: needs payments:admin",
        "portcullis.caller.type": "ai-agent",
        "portcullis.authn.methods": ["mtls", "bearer"],
      });
      expect(s.status).toBe(0); // a deny is the gateway working, not a server error
      expect(upstreamSaw.has("/write")).toBe(false);
    });

    it("authentication failures: the response's error code and the authn code, never the token", () => {
      const anonymous = spanFor("/ok/anonymous");
      expect(replies.get("anonymous")!.status).toBe(401);
      expect(anonymous.attrs).toMatchObject({
        "http.response.status_code": 401,
        "portcullis.decision": "deny",
        "portcullis.deny.stage": "authn",
        "portcullis.deny.error": "unauthorized",
        "portcullis.deny.reason": "missing",
        "portcullis.peer.spiffe_id": `spiffe://${DEV_TRUST_DOMAIN}/agent/planner`,
      });
      const bad = spanFor("/ok/bad-token");
      expect(replies.get("bad-token")!.status).toBe(401);
      expect(bad.attrs).toMatchObject({
        "portcullis.deny.stage": "authn",
        "portcullis.deny.error": "invalid_token",
        "portcullis.deny.reason": "invalid_token",
      });
      const everything = JSON.stringify(spans);
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(token.split(".")[2]);
      expect(everything).not.toContain("e30.e30.c2ln");
      expect(everything).not.toMatch(/authorization/i);
      expect(upstreamSaw.has("/ok/anonymous") || upstreamSaw.has("/ok/bad-token")).toBe(false);
    });

    it("a 5xx response marks the span as an error", () => {
      expect(replies.get("upstream-503")!.status).toBe(503);
      const s = spanFor("/ok/fail");
      expect(s.status).toBe(2); // STATUS_CODE_ERROR
      expect(s.attrs).toMatchObject({
        "http.response.status_code": 503,
        "error.type": "503",
        "portcullis.decision": "allow",
      });
    });

    it("a request refused by hygiene records the stage and code but not the ambiguous path", () => {
      expect(replies.get("hygiene")!.status).toBe(400);
      const found = spans.filter((s) => s.attrs["portcullis.deny.stage"] === "request");
      expect(found).toHaveLength(1);
      expect(found[0].attrs).toMatchObject({
        "portcullis.deny.error": "invalid_request",
        "http.response.status_code": 400,
      });
      expect(found[0].attrs["url.path"]).toBeUndefined();
    });

    it("an allowed WebSocket session is one span, ended with the session and not an error", () => {
      expect(replies.get("websocket")!.body).toBe("echo:hello");
      const s = spanFor("/ok/ws");
      expect(s.status).toBe(0);
      expect(s.attrs["portcullis.decision"]).toBe("allow");
      // The upstream's 101 goes to the raw socket, past the gateway's response object.
      expect(s.attrs["http.response.status_code"]).toBeUndefined();
      expect(s.attrs["error.type"]).toBeUndefined();
      const up = upstreamParent("/ok/ws");
      expect(up.traceId).toBe(s.traceId);
      expect(up.parentId).toBe(s.spanId);
    });
  });

  describe("tracing off: no OTEL_* variables", () => {
    it("loads no OpenTelemetry module at all, not even the API", () => {
      expect(offExit).toBe(0);
      const loaded = readFileSync(offTrack, "utf8").split("\n");
      // The tracking saw the gateway's request path, including the telemetry hook itself ...
      expect(loaded.some((u) => u.endsWith("/gateway/server/app.ts"))).toBe(true);
      expect(loaded.some((u) => u.endsWith("/gateway/telemetry/span.ts"))).toBe(true);
      // ... and no OpenTelemetry package, ES module or CommonJS.
      expect(loaded.filter((u) => u.includes("/node_modules/@opentelemetry/"))).toEqual([]);
    });

    it("the same tracking does see the SDK in the child with tracing on", () => {
      const loaded = readFileSync(onTrack, "utf8");
      expect(loaded).toMatch(/node_modules\/@opentelemetry\/sdk-node\//);
      expect(loaded).toMatch(/node_modules\/@opentelemetry\/api\//);
    });

    it("passes the client's trace context through unchanged, like any end-to-end header", () => {
      expect(offReply.status).toBe(200);
      expect(upstreamSaw.get("/ok/off")?.traceparent).toBe(`00-${T_PARENT}-${S_PARENT}-01`);
    });
  });
});
