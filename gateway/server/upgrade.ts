/**
 * WebSocket upgrades through the same gate as every other request.
 *
 * Node hands an `Upgrade` request to the server's `upgrade` event, outside Express. Rather than a second
 * copy of hygiene, authentication, policy and enforcement, the handler gives the request a response
 * object bound to its raw socket and runs it through the segment's own Express app: a deny is written by
 * the same code as for any request (status line, JSON body, `Connection: close`), and only when the gate
 * allowed it does the app's last stage hand the socket to the proxy instead of proxying a request.
 *
 * Only a WebSocket handshake is accepted. Any other upgrade (h2c above all: a tunnel of requests the
 * policy would never see) and any handshake carrying a body is refused before the gate.
 */
import { ServerResponse, STATUS_CODES, type IncomingMessage, type RequestListener } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { errorResponse, invalidRequest, type HygieneError } from "../http/errors.js";
import type { Logger } from "./app.js";

interface PendingUpgrade {
  socket: Socket;
  head: Buffer;
}

const pending = new WeakMap<IncomingMessage, PendingUpgrade>();

/** `"websocket"` for a handshake that arrived through the upgrade handler; what `input.request.upgrade` says. */
export function upgradeOf(req: IncomingMessage): "websocket" | undefined {
  return pending.has(req) ? "websocket" : undefined;
}

/** The proxy's upgrade entry point (http-proxy-middleware's `RequestHandler.upgrade`). */
export interface UpgradeProxy {
  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void;
}

/**
 * The app's last stage calls this for a request the gate allowed: true when it was a handshake, now handed
 * to the proxy (which writes the upstream's `101` or its refusal straight to the socket).
 */
export function proxyUpgrade(req: IncomingMessage, proxy: UpgradeProxy): boolean {
  const p = pending.get(req);
  if (!p) return false;
  pending.delete(req);
  proxy.upgrade(req, p.socket, p.head);
  return true;
}

function tokens(rawHeaders: readonly string[], name: string): string[][] {
  const lines: string[][] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() !== name) continue;
    lines.push(
      rawHeaders[i + 1]
        .split(",")
        .map((t) => t.trim().toLowerCase())
        .filter((t) => t !== ""),
    );
  }
  return lines;
}

/** RFC 6455 §4.1 handshake shape; a reason when the request is not one the gateway will consider. */
function notAWebSocketHandshake(req: IncomingMessage): string | undefined {
  if (req.method !== "GET" || req.httpVersion !== "1.1") return "upgrade needs GET over HTTP/1.1";
  const upgrade = tokens(req.rawHeaders, "upgrade");
  if (upgrade.length !== 1 || upgrade[0].length !== 1 || upgrade[0][0] !== "websocket") {
    return "unsupported upgrade";
  }
  if (!tokens(req.rawHeaders, "connection").some((l) => l.includes("upgrade"))) return "unsupported upgrade";
  // A handshake has no body: bytes announced after it would reach the upstream as WebSocket frames.
  if (tokens(req.rawHeaders, "transfer-encoding").length > 0) return "body on an upgrade request";
  const length = tokens(req.rawHeaders, "content-length");
  if (length.length > 0 && !(length.length === 1 && length[0].join() === "0")) {
    return "body on an upgrade request";
  }
  return undefined;
}

/** For refusals before the gate, where there is no response object yet. */
function writeRaw(socket: Socket, err: HygieneError): void {
  const r = errorResponse(err);
  const head = [`HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ""}`];
  for (const [k, v] of Object.entries({ ...r.headers, "content-length": String(Buffer.byteLength(r.body)) }))
    head.push(`${k}: ${v}`);
  socket.write(`${head.join("\r\n")}\r\n\r\n${r.body}`);
  // Closed once the answer is flushed, whether or not the client ever closes its side.
  socket.destroySoon();
}

export interface UpgradeHandlerOptions {
  segment: string;
  log?: Logger;
}

/** `server.on("upgrade", upgradeHandler(app, …))`: the app is the segment's Express app. */
export function upgradeHandler(
  app: RequestListener,
  o: UpgradeHandlerOptions,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const log: Logger = o.log ?? ((e) => console.error(JSON.stringify(e)));
  return (req, duplex, head) => {
    const socket = duplex as Socket;
    // Node removed its own listeners when it handed the socket over: without one, a reset kills the process.
    socket.on("error", () => socket.destroy());
    const reason = notAWebSocketHandshake(req);
    if (reason !== undefined) {
      log({ segment: o.segment, event: "upgrade_refused", reason });
      writeRaw(socket, invalidRequest(reason));
      return;
    }
    const res = new ServerResponse(req);
    // One handshake per connection: after a deny the socket is closed, never read for a next request.
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.on("finish", () => socket.destroySoon());
    pending.set(req, { socket, head });
    app(req, res);
  };
}
