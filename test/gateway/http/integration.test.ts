/**
 * A real node:http server on loopback, fed crafted bytes over raw sockets: which attacks Node's own parser
 * refuses, and that the hygiene functions, wired the way the gateway will wire them, refuse the rest.
 * The handler stands in for the upstream: `reached` counts requests that would have been proxied.
 */
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BoundedBody } from "../../../gateway/http/body_limit.js";
import { errorResponse, invalidRequest } from "../../../gateway/http/errors.js";
import { forwardedHeaders, sanitizeRequestHeaders } from "../../../gateway/http/headers.js";
import { checkRequestHead, resolveLimits } from "../../../gateway/http/limits.js";
import { normalizePath } from "../../../gateway/http/path.js";

const limits = resolveLimits({ maxHeaderCount: 30, maxBodyBytes: 64 });
let server: http.Server;
let port: number;
let reached = 0;

function fail(res: http.ServerResponse, err: unknown) {
  const r = errorResponse(err);
  if (!res.headersSent)
    res.writeHead(r.status, { ...r.headers, "content-length": Buffer.byteLength(r.body) }).end(r.body);
}

beforeAll(async () => {
  server = http.createServer({ maxHeaderSize: 8192 }, (req, res) => {
    try {
      checkRequestHead(req, limits);
      const target = normalizePath(req.url ?? "");
      const headers = {
        ...sanitizeRequestHeaders(req.headers),
        ...forwardedHeaders({
          remoteAddress: req.socket.remoteAddress ?? "",
          localPort: req.socket.localPort ?? 0,
          encrypted: false,
          host: req.headers.host,
        }),
      };
      let size = 0;
      // The gateway's own body bound (the one its proxy plugin streams chunked bodies through).
      const limited = req.pipe(
        new BoundedBody(limits.maxBodyBytes, {
          onExceeded: () => fail(res, invalidRequest("request body too large", 413)),
        }),
      );
      limited.on("data", (c: Buffer) => (size += c.length));
      limited.on("end", () => {
        if (limited.exceeded) return;
        reached++;
        const body = JSON.stringify({ target: target.upstreamTarget, path: target.path, headers, size });
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      });
    } catch (e) {
      fail(res, e);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

interface Reply {
  status: number;
  body: string;
  byNode: boolean;
}

/** One request per connection; a reply without a JSON body is Node's own parser error page. */
function send(raw: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.end(raw, "latin1"));
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (data += d));
    socket.on("error", reject);
    socket.on("close", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      const body = data.slice(data.indexOf("\r\n\r\n") + 4);
      resolve({ status, body, byNode: !body.startsWith("{") });
    });
  });
}

const HOST = "Host: gw.test\r\nConnection: close\r\n";
const req = (line: string, fields = "", body = "") => `${line}\r\n${HOST}${fields}\r\n${body}`;

// [what, raw request, status, rejected by Node's parser (true) or by the hygiene functions (false)]
const ATTACKS: [string, string, number, boolean][] = [
  [
    "CL.TE",
    req("POST / HTTP/1.1", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"),
    400,
    true,
  ],
  ["duplicate CL", req("POST / HTTP/1.1", "Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"), 400, true],
  ["CL list", req("POST / HTTP/1.1", "Content-Length: 5, 5\r\n", "hello"), 400, true],
  [
    "TE chunked, gzip",
    req("POST / HTTP/1.1", "Transfer-Encoding: chunked, gzip\r\n", "0\r\n\r\n"),
    400,
    true,
  ],
  ["obs-fold", req("GET / HTTP/1.1", "X-A: a\r\n b\r\n"), 400, true],
  ["space before colon", req("POST / HTTP/1.1", "Transfer-Encoding : chunked\r\n", "0\r\n\r\n"), 400, true],
  ["bare LF", "GET / HTTP/1.1\nHost: gw.test\nConnection: close\n\n", 400, true],
  ["oversized header", req("GET / HTTP/1.1", `X-A: ${"a".repeat(9000)}\r\n`), 431, true],
  ["raw non-ASCII target", req("GET /caf\u00e9 HTTP/1.1"), 400, true],
  [
    "TE gzip, chunked",
    req("POST / HTTP/1.1", "Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
    400,
    false,
  ],
  [
    "TE in HTTP/1.0",
    "POST / HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400,
    false,
  ],
  ["duplicate Host", "GET / HTTP/1.1\r\nHost: gw\r\nHost: admin\r\nConnection: close\r\n\r\n", 400, false],
  ["too many headers", req("GET / HTTP/1.1", "X-A: 1\r\n".repeat(40)), 431, false],
  [
    "chunked body too large",
    req("POST / HTTP/1.1", "Transfer-Encoding: chunked\r\n", "41\r\n" + "a".repeat(65) + "\r\n0\r\n\r\n"),
    413,
    false,
  ],
  ["declared body too large", req("POST / HTTP/1.1", "Content-Length: 65\r\n", "a".repeat(65)), 413, false],
  ["backslash", req("GET /a\\..\\admin HTTP/1.1"), 400, false],
  ["encoded slash", req("GET /%2e%2e%2fadmin HTTP/1.1"), 400, false],
  ["double encoding", req("GET /%252e%252e/admin HTTP/1.1"), 400, false],
  ["encoded NUL", req("GET /a%00.json HTTP/1.1"), 400, false],
  ["overlong UTF-8", req("GET /%c0%ae%c0%ae/admin HTTP/1.1"), 400, false],
  ["absolute-form", req("GET http://admin.internal/ HTTP/1.1"), 400, false],
  ["fragment", req("GET /a#/../admin HTTP/1.1"), 400, false],
  ["Tomcat path parameter", req("GET /public/..;/admin HTTP/1.1"), 400, false],
  [
    "Connection: content-length",
    req("POST / HTTP/1.1", "Connection: content-length\r\nContent-Length: 0\r\n"),
    400,
    false,
  ],
];

describe("hygiene over real sockets", () => {
  it(`no attack reaches the upstream (${ATTACKS.length} cases)`, async () => {
    const before = reached;
    const seen: string[] = [];
    for (const [what, raw, status, byNode] of ATTACKS) {
      const reply = await send(raw);
      seen.push(`${what}: ${reply.status} ${reply.byNode ? "node" : "hygiene"}`);
      expect(reply.status, what).toBe(status);
      expect(reply.byNode, `${what} rejected by ${byNode ? "Node" : "hygiene"}`).toBe(byNode);
      if (!reply.byNode) expect(JSON.parse(reply.body), what).toMatchObject({ error: "invalid_request" });
    }
    expect(reached - before, seen.join("\n")).toBe(0);
  });

  it("proxies a clean request with the canonical target and only gateway-set forwarding headers", async () => {
    const reply = await send(
      req(
        "POST /a/%2e%2e/b//c?x=1&y=a+b HTTP/1.1",
        "X-Portcullis-Spiffe-Id: spiffe://corp/admin\r\nX_Forwarded_For: 6.6.6.6\r\nTxn-Token: t\r\n" +
          "Forwarded: for=6.6.6.6\r\nKeep-Alive: 5\r\nContent-Length: 5\r\nAccept: */*\r\n",
        "hello",
      ),
    );
    expect(reply.status).toBe(200);
    const echo = JSON.parse(reply.body) as {
      target: string;
      path: string;
      headers: Record<string, string>;
      size: number;
    };
    expect(echo.path).toBe("/b/c");
    expect(echo.target).toBe("/b/c?x=1&y=a%20b");
    expect(echo.size).toBe(5);
    expect(echo.headers).toEqual({
      host: "gw.test",
      accept: "*/*",
      "content-length": "5",
      "x-forwarded-for": "127.0.0.1",
      "x-forwarded-proto": "http",
      "x-forwarded-port": String(port),
      "x-forwarded-host": "gw.test",
      forwarded: "for=127.0.0.1;proto=http;host=gw.test",
    });
  });

  it("streams a chunked body within the bound", async () => {
    const reply = await send(
      req("POST / HTTP/1.1", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n"),
    );
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ size: 5 });
  });
});
