// WebSocket and SSE through the gateway, end to end: dev PKI certificates over real TLS, a real JWKS file,
// a real `ws` WebSocketServer and a real SSE server as upstreams. Every denied handshake asserts that the
// upstream saw no upgrade attempt at all.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { WebSocket, WebSocketServer } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../../pdp/rego/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startSegment, type RunningSegment } from "../../../gateway/server/serve.js";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";

const AGENT_ID = "spiffe://demo.portcullis/agent/planner";

// The WebSocket route is only allowed for a handshake (`input.request.upgrade`), so a plain GET to it is a
// deny; `/events` is an ordinary allowed route that happens to answer with an event stream.
const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied", "reasons": ["default"]}
decision := {"allow": true, "headers": {"x-ws-route": "chat"}} if {
  input.request.path == "/ws/chat"
  input.request.method == "GET"
  input.request.upgrade == "websocket"
  input.caller.type == "ai-agent"
  "bearer" in input.authn.methods
}
decision := {"allow": true} if {
  input.request.path in {"/events", "/events/forever"}
  not input.request.upgrade
  input.caller.type == "ai-agent"
}
`;

interface SeenUpgrade {
  url: string;
  headers: IncomingHttpHeaders;
}

let dir: string;
let pki: DevPki;
let token: string;
let upstream: Server;
let wss: WebSocketServer;
let port: number;
const running: RunningSegment[] = [];
const upgrades: SeenUpgrade[] = [];
const plainRequests: string[] = [];
/** Set by the SSE test: resolves when the client has event 1, which is what lets the upstream send event 2. */
let sseAck: Promise<void> | undefined;
/** Called when the upstream's never-ending event stream is closed under it. */
let foreverClosed: (() => void) | undefined;

async function start(pdp: Pdp, upstreamUrl: string, name = "payments"): Promise<number> {
  const r = await startSegment(demoSegment(dir, upstreamUrl, 0, { name }), pdp, (e) => {
    if (process.env.GW_DEBUG) console.log(e);
  });
  running.push(r);
  return r.port;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-streaming-"));
  pki = await ensureDevPki({ dir, svids: [{ name: "agent", spiffeId: AGENT_ID }], tokens: [] });
  token = await signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: "payments",
    sub: AGENT_ID,
    scope: "payments:read",
  });

  wss = new WebSocketServer({ noServer: true });
  wss.on("connection", (ws) => ws.on("message", (m, binary) => ws.send(binary ? m : `echo:${String(m)}`)));
  upstream = createServer((req, res) => {
    plainRequests.push(req.url ?? "");
    if (req.url === "/events/forever") {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: hello\n\n");
      res.on("close", () => foreverClosed?.());
      return;
    }
    if (req.url !== "/events") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("plain");
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write("id: 1\ndata: one\n\n");
    // If the gateway held the first event back, the client would never acknowledge it: the guard then
    // sends event 2 anyway, marked, so the test fails with a message instead of hanging.
    let guard: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => (guard = setTimeout(() => r(true), 10_000)));
    void Promise.race([sseAck!.then(() => false), timedOut]).then((late) => {
      clearTimeout(guard);
      res.end(late ? "id: 2\ndata: two-after-guard\n\n" : "id: 2\ndata: two\n\n");
    });
  });
  upstream.on("upgrade", (req, socket, head) => {
    upgrades.push({ url: req.url ?? "", headers: req.headers });
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const pdp = regoPdp(
    compile({ modules: [{ file: "streaming.rego", source: POLICY }] }),
    "portcullis/authz/decision",
  );
  port = await start(pdp, upstreamUrl);
});

afterAll(async () => {
  await Promise.all(
    running.map((r) => new Promise((res) => (r.server.close(res), r.server.closeAllConnections()))),
  );
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(r));
  await new Promise((r) => (upstream.close(r), upstream.closeAllConnections()));
  rmSync(dir, { recursive: true, force: true });
});

function open(path: string, o: { token?: string; headers?: Record<string, string> } = {}): WebSocket {
  return new WebSocket(`wss://127.0.0.1:${port}${path}`, {
    ca: pki.ca.certPem,
    cert: pki.svids.agent.certPem,
    key: pki.svids.agent.keyPem,
    headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers },
  });
}

interface Refusal {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** The handshake's non-101 answer, read through ws's `unexpected-response`. */
function refusal(ws: WebSocket): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    ws.on("open", () => reject(new Error("handshake unexpectedly succeeded")));
    ws.on("error", (e) => reject(e));
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
  });
}

interface RawReply {
  text: string;
  /** True when the gateway closed the connection itself. */
  closed: boolean;
}

/** One raw exchange over TLS with the agent's certificate, for requests no client library would send. */
function rawExchange(lines: string[]): Promise<RawReply> {
  return new Promise((resolve) => {
    const s = connect(
      {
        host: "127.0.0.1",
        port,
        ca: pki.ca.certPem,
        cert: pki.svids.agent.certPem,
        key: pki.svids.agent.keyPem,
      },
      () => s.write(lines.join("\r\n") + "\r\n\r\n"),
    );
    let text = "";
    const guard = setTimeout(() => (s.destroy(), resolve({ text, closed: false })), 10_000);
    s.on("data", (d: Buffer) => (text += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => (clearTimeout(guard), resolve({ text, closed: true })));
  });
}

function handshake(path: string, extra: string[] = [], method = "GET"): string[] {
  return [
    `${method} ${path} HTTP/1.1`,
    "Host: 127.0.0.1",
    `Authorization: Bearer ${token}`,
    "Connection: Upgrade",
    "Upgrade: websocket",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ...extra,
  ];
}

/** Runs `fn` and returns how many upgrade requests reached the upstream meanwhile. */
async function upstreamUpgrades(fn: () => Promise<unknown>): Promise<number> {
  const before = upgrades.length;
  await fn();
  return upgrades.length - before;
}

function parseRaw(text: string): { status: number; headers: Record<string, string>; body: string } {
  const [head, ...rest] = text.split("\r\n\r\n");
  const [statusLine, ...fields] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const i = f.indexOf(":");
    headers[f.slice(0, i).toLowerCase()] = f.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: rest.join("\r\n\r\n") };
}

describe("WebSocket through the gateway", () => {
  it("an allowed handshake is proxied to the upstream and messages flow both ways", async () => {
    const ws = open("//ws//chat?room=a%20b", {
      token,
      headers: { "x-portcullis-subject": "user:root", "x-forwarded-client-cert": "By=evil" },
    });
    await new Promise<void>((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    const replies: string[] = [];
    const two = new Promise<void>((resolve) =>
      ws.on("message", (m) => {
        replies.push(String(m));
        if (replies.length === 2) resolve();
      }),
    );
    ws.send("hello");
    ws.send("again");
    await two;
    expect(replies).toEqual(["echo:hello", "echo:again"]);
    ws.close();

    const u = upgrades.at(-1)!;
    // The one normalised path the policy decided on, not what the client wrote.
    expect(u.url).toBe("/ws/chat?room=a%20b");
    expect(u.headers.upgrade).toBe("websocket");
    expect(u.headers["x-portcullis-subject"]).toBe(AGENT_ID);
    expect(u.headers["x-portcullis-caller-type"]).toBe("ai-agent");
    expect(u.headers["x-ws-route"]).toBe("chat");
    expect(u.headers["x-forwarded-proto"]).toBe("https");
    expect(u.headers["x-forwarded-client-cert"]).toBeUndefined();
  });

  it("binary frames pass unchanged", async () => {
    const ws = open("/ws/chat", { token });
    await new Promise<void>((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    const payload = Buffer.from([0, 1, 2, 253, 254, 255]);
    const got = new Promise<Buffer>((resolve) => ws.once("message", (m) => resolve(m as Buffer)));
    ws.send(payload);
    expect(Buffer.compare(await got, payload)).toBe(0);
    ws.close();
  });

  it("a policy deny is an HTTP error on the raw socket, then the connection closes; no upstream upgrade", async () => {
    let reply!: RawReply;
    expect(await upstreamUpgrades(async () => (reply = await rawExchange(handshake("/ws/denied"))))).toBe(0);
    const r = parseRaw(reply.text);
    expect(r.status).toBe(403);
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    expect(r.headers["connection"]).toBe("close");
    expect(JSON.parse(r.body)).toEqual({ error: "access_denied", error_description: "access denied" });
    expect(reply.closed).toBe(true);
  });

  it("a policy deny seen by a WebSocket client: 403, and no upstream upgrade", async () => {
    let r!: Refusal;
    expect(await upstreamUpgrades(async () => (r = await refusal(open("/ws/denied", { token }))))).toBe(0);
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).error).toBe("access_denied");
  });

  it("without credentials: 401 with a bare Bearer challenge, no upstream upgrade", async () => {
    let r!: Refusal;
    expect(await upstreamUpgrades(async () => (r = await refusal(open("/ws/chat"))))).toBe(0);
    expect(r.status).toBe(401);
    expect(String(r.headers["www-authenticate"])).toMatch(/^Bearer realm="payments"/);
    expect(String(r.headers["www-authenticate"])).not.toContain("error=");
  });

  it("adversarial: a forged token on the handshake → 401 invalid_token, no upstream upgrade", async () => {
    const forged = token.slice(0, -4) + (token.endsWith("AAAA") ? "BBBB" : "AAAA");
    let r!: Refusal;
    expect(await upstreamUpgrades(async () => (r = await refusal(open("/ws/chat", { token: forged }))))).toBe(
      0,
    );
    expect(r.status).toBe(401);
    expect(String(r.headers["www-authenticate"])).toContain('error="invalid_token"');
  });

  it("adversarial: a plain GET to the WebSocket route is denied (the policy sees no upgrade marker)", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/ws/chat",
          ca: pki.ca.certPem,
          cert: pki.svids.agent.certPem,
          key: pki.svids.agent.keyPem,
          headers: { authorization: `Bearer ${token}` },
          agent: false,
        },
        (res) => (res.resume(), resolve(res.statusCode ?? 0)),
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  const pathTricks = [
    ["encoded slash", "/ws%2fchat"],
    ["encoded slash in a dot-segment", "/x/..%2fws/chat"],
    ["backslash", "/x\\..\\ws/chat"],
    ["double encoding", "/x/%252e%252e/ws/chat"],
    ["encoded NUL", "/ws/chat%00"],
  ];
  it.each(pathTricks)(
    "adversarial: path trick (%s) on a handshake → 400, no upstream upgrade",
    async (_n, p) => {
      let reply!: RawReply;
      expect(await upstreamUpgrades(async () => (reply = await rawExchange(handshake(p))))).toBe(0);
      const r = parseRaw(reply.text);
      expect(r.status).toBe(400);
      expect(JSON.parse(r.body).error).toBe("invalid_request");
      expect(reply.closed).toBe(true);
    },
  );

  const notHandshakes: [string, string[]][] = [
    [
      "h2c upgrade",
      [
        "GET /ws/chat HTTP/1.1",
        "Host: 127.0.0.1",
        `Authorization: Bearer ${"x"}`,
        "Connection: Upgrade, HTTP2-Settings",
        "Upgrade: h2c",
        "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
      ],
    ],
    ["POST with Upgrade: websocket", handshake("/ws/chat", ["Content-Length: 0"], "POST")],
    ["handshake announcing a body", handshake("/ws/chat", ["Content-Length: 5"])],
    ["handshake with a chunked body", handshake("/ws/chat", ["Transfer-Encoding: chunked"])],
    ["two Upgrade tokens", handshake("/ws/chat", ["Upgrade: h2c"])],
  ];
  it.each(notHandshakes)("adversarial: %s → 400 before the gate, no upstream upgrade", async (_n, lines) => {
    let reply!: RawReply;
    expect(await upstreamUpgrades(async () => (reply = await rawExchange(lines)))).toBe(0);
    const r = parseRaw(reply.text);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error).toBe("invalid_request");
    expect(r.headers["connection"]).toBe("close");
    expect(reply.closed).toBe(true);
  });
});

describe("server-sent events through the gateway", () => {
  it("each event reaches the client as the upstream writes it (event 1 before event 2 exists)", async () => {
    let ack!: () => void;
    sseAck = new Promise<void>((r) => (ack = r));
    const r = await new Promise<{ headers: IncomingHttpHeaders; body: string; ackedEarly: boolean }>(
      (resolve, reject) => {
        const req = request(
          {
            host: "127.0.0.1",
            port,
            path: "/events",
            ca: pki.ca.certPem,
            cert: pki.svids.agent.certPem,
            key: pki.svids.agent.keyPem,
            headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
            agent: false,
          },
          (res) => {
            let body = "";
            let ackedEarly = false;
            res.on("data", (c: Buffer) => {
              body += c.toString();
              if (!ackedEarly && body.includes("data: one\n\n")) {
                // Only now may the upstream write event 2: it must not be in the stream yet.
                ackedEarly = !body.includes("data: two");
                ack();
              }
            });
            res.on("end", () => resolve({ headers: res.headers, body, ackedEarly }));
          },
        );
        req.on("error", reject);
        req.end();
      },
    );
    expect(r.ackedEarly).toBe(true);
    expect(r.body).toBe("id: 1\ndata: one\n\nid: 2\ndata: two\n\n");
    expect(r.headers["content-type"]).toBe("text/event-stream");
    expect(r.headers["content-encoding"]).toBeUndefined();
    expect(r.headers["content-length"]).toBeUndefined();
  });
});

describe("server-sent events: a client leaving", () => {
  it("closes the upstream's stream too, instead of leaving it open behind the gateway", async () => {
    const upstreamClosed = new Promise<void>((r) => (foreverClosed = r));
    await new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/events/forever",
          ca: pki.ca.certPem,
          cert: pki.svids.agent.certPem,
          key: pki.svids.agent.keyPem,
          headers: { authorization: `Bearer ${token}` },
          agent: false,
        },
        (res) => res.once("data", () => (req.destroy(), resolve())),
      );
      req.on("error", () => {});
      req.on("close", resolve);
      req.end();
      setTimeout(() => reject(new Error("no event arrived")), 10_000).unref();
    });
    let guard: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      upstreamClosed.then(() => true),
      new Promise<boolean>((r) => (guard = setTimeout(() => r(false), 10_000))),
    ]);
    clearTimeout(guard);
    expect(closed).toBe(true);
  });
});

describe("proxy errors", () => {
  it("an unreachable upstream answers 502 instead of hanging or crashing the process", async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const pdp = regoPdp(
      compile({ modules: [{ file: "streaming.rego", source: POLICY }] }),
      "portcullis/authz/decision",
    );
    const dead = await start(pdp, `http://127.0.0.1:${deadPort}`, "dead");
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: dead,
          path: "/events",
          ca: pki.ca.certPem,
          cert: pki.svids.agent.certPem,
          key: pki.svids.agent.keyPem,
          headers: { authorization: `Bearer ${token}` },
          agent: false,
        },
        (res) => (res.resume(), resolve(res.statusCode ?? 0)),
      );
      req.on("error", reject);
      req.end();
    });
    expect(status).toBe(502);
  });
});
