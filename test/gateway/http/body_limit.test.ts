// The request body bound as it streams: the counting stream on its own, then end to end through the
// gateway over real TLS (dev PKI, real JWKS file) to a real upstream that records every byte it receives.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request, type RequestOptions } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { BoundedBody, hasChunkedBody } from "../../../gateway/http/body_limit.js";
import { compile } from "../../../pdp/rego/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startSegment, type RunningSegment } from "../../../gateway/server/serve.js";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";

describe("BoundedBody", () => {
  async function through(chunks: Buffer[], max: number) {
    let exceeded = 0;
    const body = new BoundedBody(max, { onExceeded: () => exceeded++ });
    let forwarded = 0;
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        forwarded += chunk.length;
        cb();
      },
    });
    await pipeline(Readable.from(chunks), body, sink);
    return { forwarded, exceeded, seen: body.seen };
  }

  it("forwards a body of exactly the bound, unchanged in size", async () => {
    expect(await through([Buffer.alloc(4), Buffer.alloc(6)], 10)).toEqual({
      forwarded: 10,
      exceeded: 0,
      seen: 10,
    });
  });

  it("adversarial: one byte past the bound drops the crossing chunk and everything after, once", async () => {
    const r = await through([Buffer.alloc(4), Buffer.alloc(7), Buffer.alloc(100)], 10);
    expect(r.forwarded).toBe(4);
    expect(r.exceeded).toBe(1);
  });

  it("a refused destination gets nothing piped to it", () => {
    const body = new BoundedBody(10, { onExceeded: () => {}, acceptDestination: () => false });
    const dest = new PassThrough();
    body.pipe(dest);
    expect(body.destinations).toEqual([dest]);
    expect(body.listenerCount("data")).toBe(0);
  });

  it("hasChunkedBody reads the raw field lines", () => {
    expect(hasChunkedBody(["Host", "a", "Transfer-Encoding", "chunked"])).toBe(true);
    expect(hasChunkedBody(["Host", "a", "Content-Length", "5"])).toBe(false);
    expect(hasChunkedBody([])).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------
// End to end
// ---------------------------------------------------------------------------------------------------------

const AGENT_ID = "spiffe://demo.portcullis/agent/planner";
const LIMIT = 64 * 1024;
const BIG_LIMIT = 8 * 1024 * 1024;

const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied", "reasons": ["default"]}
decision := {"allow": true} if {
  input.request.path in {"/upload", "/ok", "/early"}
  input.caller.type == "ai-agent"
  "bearer" in input.authn.methods
}
`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bytes: number;
  sha256: string;
  body: Buffer;
  /** The body arrived complete; false when the gateway cut the upstream request off. */
  complete: boolean;
}

let dir: string;
let pki: DevPki;
let token: string;
let upstream: Server;
let port: number;
let bigPort: number;
const running: RunningSegment[] = [];
const seen: Seen[] = [];
let inFlight = 0;
/** Called by the upstream on the first body bytes of any request (the streaming test waits on it). */
let onFirstBytes: (() => void) | undefined;

async function start(pdp: Pdp, upstreamUrl: string, name: string, maxBody: number): Promise<number> {
  const s = demoSegment(dir, upstreamUrl, 0, {
    name,
    limits: { max_header_bytes: 16384, max_body_bytes: maxBody },
  });
  const r = await startSegment(s, pdp, (e) => {
    if (process.env.GW_DEBUG) console.log(e);
  });
  running.push(r);
  return r.port;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-body-"));
  pki = await ensureDevPki({ dir, svids: [{ name: "agent", spiffeId: AGENT_ID }], tokens: [] });
  token = await signAccessToken(pki.issuer, { iss: DEV_ISSUER, aud: "payments", sub: AGENT_ID });
  upstream = createServer((req, res) => {
    inFlight++;
    const chunks: Buffer[] = [];
    let first = true;
    if (req.url === "/early") {
      // Answers before reading the body, so the gateway's response has started when the bound is crossed.
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("started\n");
    }
    req.on("data", (c: Buffer) => {
      chunks.push(c);
      if (first) {
        first = false;
        onFirstBytes?.();
      }
    });
    const record = (complete: boolean) => {
      const body = Buffer.concat(chunks);
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        bytes: body.length,
        sha256: createHash("sha256").update(body).digest("hex"),
        body,
        complete,
      });
    };
    req.on("end", () => {
      record(true);
      inFlight--;
      if (!res.headersSent) res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ bytes: Buffer.concat(chunks).length }));
    });
    req.on("close", () => {
      if (!req.complete) {
        record(false);
        inFlight--;
      }
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const pdp = regoPdp(
    compile({ modules: [{ file: "body.rego", source: POLICY }] }),
    "portcullis/authz/decision",
  );
  port = await start(pdp, upstreamUrl, "payments", LIMIT);
  bigPort = await start(pdp, upstreamUrl, "bulk", BIG_LIMIT);
});

afterAll(async () => {
  await Promise.all(
    running.map((r) => new Promise((res) => (r.server.close(res), r.server.closeAllConnections()))),
  );
  await new Promise((r) => (upstream.close(r), upstream.closeAllConnections()));
  rmSync(dir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** The response body arrived in full (false when the gateway dropped the connection mid-response). */
  complete: boolean;
}

interface Upload {
  path?: string;
  port?: number;
  method?: string;
  chunks: Buffer[];
  /** Omitted: chunked. */
  contentLength?: number;
  /** Awaited after the first chunk is written, before the rest. */
  afterFirst?: (gotResponse: Promise<void>) => Promise<void>;
  /** Keep sending after the response started (by default the first response stops the upload). */
  sendPastResponse?: boolean;
}

/**
 * Streams `chunks` to the gateway one at a time and stops as soon as a response arrives. A reset after
 * the response is expected (the gateway closes a connection whose body it refused), not a failure.
 */
function upload(u: Upload): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let reply: Reply | undefined;
    let responded!: () => void;
    const gotResponse = new Promise<void>((r) => (responded = r));
    const opts: RequestOptions = {
      host: "127.0.0.1",
      port: u.port ?? port,
      path: u.path ?? "/upload",
      method: u.method ?? "POST",
      ca: pki.ca.certPem,
      cert: pki.svids.agent.certPem,
      key: pki.svids.agent.keyPem,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/octet-stream",
        ...(u.contentLength !== undefined ? { "content-length": String(u.contentLength) } : {}),
      },
      agent: false,
    };
    const req = request(opts, (res) => {
      let body = "";
      reply = { status: res.statusCode ?? 0, headers: res.headers, body: "", complete: false };
      responded();
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ ...reply!, body, complete: res.complete }));
      res.on("error", () => resolve({ ...reply!, body, complete: false }));
      res.on("close", () => resolve({ ...reply!, body, complete: res.complete }));
    });
    req.on("error", (e) => (reply ? resolve({ ...reply, complete: false }) : reject(e)));
    void (async () => {
      for (let i = 0; i < u.chunks.length; i++) {
        if ((reply && !u.sendPastResponse) || req.destroyed) return;
        if (!req.write(u.chunks[i])) await new Promise((r) => req.once("drain", r).once("close", r));
        if (i === 0 && u.afterFirst) await u.afterFirst(gotResponse);
      }
      if ((!reply || u.sendPastResponse) && !req.destroyed) req.end();
    })();
  });
}

function split(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Waits until the upstream has no request open, so what it received can be read in full. */
async function upstreamSettled(): Promise<void> {
  await vi.waitFor(() => expect(inFlight).toBe(0), { timeout: 10_000, interval: 20 });
}

/** Resolves on `p`, or fails the test with `what` if it does not happen (a deadlock guard, not a timing check). */
function within<T>(p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_r, reject) => (t = setTimeout(() => reject(new Error(what)), 10_000))),
  ]);
}

describe("chunked request bodies through the gateway", () => {
  it("a chunked body of exactly the limit reaches the upstream intact, chunked", async () => {
    const body = randomBytes(LIMIT);
    const before = seen.length;
    const r = await upload({ chunks: split(body, 10_000) });
    expect(r.status).toBe(200);
    await upstreamSettled();
    const s = seen.slice(before);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ bytes: LIMIT, sha256: sha256(body), complete: true });
    expect(s[0].headers["transfer-encoding"]).toBe("chunked");
    expect(s[0].headers["content-length"]).toBeUndefined();
  });

  it("adversarial: a chunked body over the limit → 413, and the upstream receives at most the limit", async () => {
    const before = seen.length;
    const r = await upload({ chunks: split(randomBytes(LIMIT * 4), 8 * 1024) });
    expect(r.status).toBe(413);
    expect(r.headers["connection"]).toBe("close");
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    expect(JSON.parse(r.body)).toEqual({
      error: "invalid_request",
      error_description: "request body too large",
    });
    await upstreamSettled();
    for (const s of seen.slice(before)) {
      expect(s.bytes).toBeLessThanOrEqual(LIMIT);
      // Cut off mid-body: the upstream never gets a request it could mistake for complete.
      expect(s.complete).toBe(false);
    }
  });

  it("adversarial: one byte over the limit in a single chunk → 413", async () => {
    const before = seen.length;
    const r = await upload({ chunks: [randomBytes(LIMIT + 1)] });
    expect(r.status).toBe(413);
    await upstreamSettled();
    for (const s of seen.slice(before)) {
      expect(s.bytes).toBeLessThanOrEqual(LIMIT);
      expect(s.complete).toBe(false);
    }
  });

  it("adversarial: over the limit after the upstream answered → the connection is dropped mid-response", async () => {
    const before = seen.length;
    const r = await upload({
      path: "/early",
      chunks: split(randomBytes(LIMIT * 4), 8 * 1024),
      // Hold the rest of the body until the response has started, so the bound is crossed after it.
      afterFirst: (gotResponse) => within(gotResponse, "the early response never arrived"),
      sendPastResponse: true,
    });
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    await upstreamSettled();
    const s = seen.slice(before);
    expect(s).toHaveLength(1);
    expect(s[0].bytes).toBeLessThanOrEqual(LIMIT);
    expect(s[0].complete).toBe(false);
  });

  it("a large allowed body streams: the upstream has the first chunk before the client sends the second", async () => {
    const body = randomBytes(4 * 1024 * 1024);
    const before = seen.length;
    let firstBytes!: () => void;
    const upstreamHasFirst = new Promise<void>((r) => (firstBytes = r));
    onFirstBytes = firstBytes;
    const r = await upload({
      port: bigPort,
      chunks: split(body, 64 * 1024),
      // A gateway that buffered the body would never pass the first chunk on while the client waits here.
      afterFirst: () =>
        within(upstreamHasFirst, "the upstream did not get the first chunk while the client waited"),
    });
    onFirstBytes = undefined;
    expect(r.status).toBe(200);
    await upstreamSettled();
    const s = seen.slice(before);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ bytes: body.length, sha256: sha256(body), complete: true });
  });

  it("a large Content-Length body under the limit streams the same way", async () => {
    const body = randomBytes(2 * 1024 * 1024);
    const before = seen.length;
    let firstBytes!: () => void;
    const upstreamHasFirst = new Promise<void>((r) => (firstBytes = r));
    onFirstBytes = firstBytes;
    const r = await upload({
      port: bigPort,
      chunks: split(body, 64 * 1024),
      contentLength: body.length,
      afterFirst: () =>
        within(upstreamHasFirst, "the upstream did not get the first chunk while the client waited"),
    });
    onFirstBytes = undefined;
    expect(r.status).toBe(200);
    await upstreamSettled();
    expect(seen.slice(before)[0]).toMatchObject({ bytes: body.length, sha256: sha256(body), complete: true });
  });
});

interface RawReply {
  text: string;
  closed: boolean;
}

/** `done` ends the exchange early for a response on a connection the gateway keeps open. */
function rawExchange(data: string, done?: (text: string) => boolean): Promise<RawReply> {
  return new Promise((resolve) => {
    const s = connect(
      {
        host: "127.0.0.1",
        port,
        ca: pki.ca.certPem,
        cert: pki.svids.agent.certPem,
        key: pki.svids.agent.keyPem,
      },
      () => s.write(data),
    );
    let text = "";
    const guard = setTimeout(() => (s.destroy(), resolve({ text, closed: false })), 10_000);
    s.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      if (!done?.(text)) return;
      clearTimeout(guard);
      s.destroy();
      resolve({ text, closed: false });
    });
    s.on("error", () => {});
    s.on("close", () => (clearTimeout(guard), resolve({ text, closed: true })));
  });
}

function chunk(s: string): string {
  return `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
}

const smuggled = "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n";

describe("declared and smuggled bodies", () => {
  it("adversarial: Content-Length over the limit → 413 before anything reaches the upstream", async () => {
    const before = seen.length;
    const reply = await rawExchange(
      [
        "POST /upload HTTP/1.1",
        "Host: 127.0.0.1",
        `Authorization: Bearer ${token}`,
        `Content-Length: ${LIMIT + 1}`,
      ].join("\r\n") + "\r\n\r\nabc",
    );
    expect(reply.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply.text.toLowerCase()).toContain("connection: close");
    expect(reply.closed).toBe(true);
    await upstreamSettled();
    expect(seen.length).toBe(before);
  });

  it("adversarial: a chunked GET whose body is a request reaches the upstream as a body, never as a request", async () => {
    const before = seen.length;
    const reply = await rawExchange(
      [
        "GET /ok HTTP/1.1",
        "Host: 127.0.0.1",
        `Authorization: Bearer ${token}`,
        "Transfer-Encoding: chunked",
      ].join("\r\n") +
        "\r\n\r\n" +
        chunk(smuggled) +
        "0\r\n\r\n",
      (text) => text.endsWith("\r\n0\r\n\r\n"),
    );
    expect(reply.text).toMatch(/^HTTP\/1\.1 200 /);
    await upstreamSettled();
    const s = seen.slice(before);
    expect(s.map((x) => `${x.method} ${x.url}`)).toEqual(["GET /ok"]);
    expect(s[0].body.toString()).toBe(smuggled);
  });

  it.each(["DELETE", "OPTIONS"])(
    "adversarial: a chunked %s body (which the proxy would re-frame as Content-Length: 0) → 400, upstream untouched",
    async (method) => {
      const before = seen.length;
      const reply = await rawExchange(
        [
          `${method} /ok HTTP/1.1`,
          "Host: 127.0.0.1",
          `Authorization: Bearer ${token}`,
          "Transfer-Encoding: chunked",
        ].join("\r\n") +
          "\r\n\r\n" +
          chunk(smuggled) +
          "0\r\n\r\n",
      );
      expect(reply.text).toMatch(/^HTTP\/1\.1 400 /);
      expect(reply.text).toContain('"error":"invalid_request"');
      expect(reply.closed).toBe(true);
      await upstreamSettled();
      expect(seen.length).toBe(before);
    },
  );

  it("a Content-Length DELETE body is still proxied as declared", async () => {
    const before = seen.length;
    const r = await upload({
      method: "DELETE",
      path: "/ok",
      chunks: [Buffer.from("gone")],
      contentLength: 4,
    });
    expect(r.status).toBe(200);
    await upstreamSettled();
    expect(seen.slice(before).map((s) => [s.method, s.body.toString()])).toEqual([["DELETE", "gone"]]);
  });
});
