/**
 * The streamed half of the body bound, and the framing of a chunked body towards the upstream.
 *
 * A `Content-Length` body is bounded before it is read (checkRequestHead) and its framing is exact, so only
 * a chunked body needs work here: its size is known only while it streams. http-proxy pipes
 * `options.buffer ?? req` into the upstream request, so handing it a counting stream as `buffer` puts the
 * count between every byte the client sends and the upstream; nothing past the bound is ever written.
 *
 * The same hook fixes the outbound framing. The client's `Transfer-Encoding` is a hop-by-hop field the
 * hygiene step strips, and Node's client only chunks a streamed body by default for methods such as POST:
 * a chunked GET would reach the upstream as raw bytes after a body-less head, which the upstream parses
 * as a second, pipelined request the policy never saw. So the upstream request says `chunked` again, and
 * one that would not (http-proxy rewrites DELETE/OPTIONS bodies to `Content-Length: 0`) is refused.
 */
import type { ClientRequest, IncomingMessage, ServerResponse } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import type { Plugin } from "http-proxy-middleware";
import { errorResponse, invalidRequest, type HygieneError } from "./errors.js";

/** Node decodes field lines as latin1; `checkRequestHead` already refused every TE other than one `chunked`. */
export function hasChunkedBody(rawHeaders: readonly string[]): boolean {
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i];
    // The length first: no lower-cased copy of every other field name on each request.
    if (name.length === 17 && name.toLowerCase() === "transfer-encoding") return true;
  }
  return false;
}

export interface BoundedBodyHooks {
  /** Runs once, for the chunk that would cross the bound (that chunk is dropped, not forwarded). */
  onExceeded(body: BoundedBody): void;
  /** Runs when the stream is piped somewhere; false refuses that destination (nothing is piped to it). */
  acceptDestination?(destination: NodeJS.WritableStream): boolean;
}

/** Counts the bytes flowing through it and remembers where it is piped, so the owner can abort that. */
export class BoundedBody extends Transform {
  seen = 0;
  exceeded = false;
  readonly destinations: NodeJS.WritableStream[] = [];

  constructor(
    readonly maxBytes: number,
    private readonly hooks: BoundedBodyHooks,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.exceeded) return callback();
    this.seen += chunk.length;
    if (this.seen > this.maxBytes) {
      this.exceeded = true;
      callback();
      this.hooks.onExceeded(this);
      return;
    }
    callback(null, chunk);
  }

  override pipe<T extends NodeJS.WritableStream>(destination: T, options?: { end?: boolean }): T {
    this.destinations.push(destination);
    if (this.hooks.acceptDestination && !this.hooks.acceptDestination(destination)) return destination;
    return super.pipe(destination, options);
  }
}

/** What the proxy hook reports when it cut a request off; the caller adds the segment and logs it. */
export interface BodyLimitEvent {
  event: "body_too_large" | "body_framing_refused";
  method: string;
  max_bytes: number;
  seen_bytes: number;
  /** True when the upstream had already answered, so the client connection was dropped instead of a 413. */
  response_started: boolean;
}

export interface BodyLimitOptions {
  maxBytes: number;
  log?: (e: BodyLimitEvent) => void;
}

/**
 * An upstream request we abandon on purpose: its late `error` (socket hang up) is expected, and must not
 * reach the proxy's error handler, which would tear down the client connection under the 413 it was sent.
 */
function abandon(upstream: NodeJS.WritableStream): void {
  const r = upstream as ClientRequest;
  if (typeof r.destroy !== "function") return;
  r.removeAllListeners("error");
  r.on("error", () => {});
  r.destroy();
}

/** 413/400 while the response has not started; otherwise the only honest signal left is a dropped connection. */
function refuse(res: ServerResponse, err: HygieneError): void {
  if (res.headersSent || res.writableEnded) {
    res.destroy();
    return;
  }
  // The upstream may already have set its own headers (a Content-Length among them) without sending them.
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  const r = errorResponse(err);
  res.writeHead(r.status, r.headers);
  res.end(r.body);
}

/**
 * http-proxy-middleware plugin: every chunked request body is streamed through a BoundedBody, and the
 * upstream request is made to declare chunked framing. Non-chunked requests pass untouched (no cost on
 * the body-less GET path the benchmark measures).
 */
export function bodyLimitPlugin<TReq extends IncomingMessage, TRes extends ServerResponse>(
  o: BodyLimitOptions,
): Plugin<TReq, TRes> {
  return (proxyServer) => {
    const web = proxyServer.web.bind(proxyServer);
    // http-proxy reads its arguments by position from the end, so an explicit `undefined` callback would
    // make it drop the options: pass on exactly what was given (`arguments`, so the body-less path
    // allocates no rest array).
    proxyServer.web = function (req, res, options, callback) {
      // eslint-disable-next-line prefer-rest-params
      if (!hasChunkedBody(req.rawHeaders)) return Reflect.apply(web, proxyServer, arguments) as void;
      const given = arguments.length;
      const report = (event: BodyLimitEvent["event"], seen: number): void =>
        o.log?.({
          event,
          method: req.method ?? "",
          max_bytes: o.maxBytes,
          seen_bytes: seen,
          response_started: res.headersSent,
        });

      const cutOff = (event: BodyLimitEvent["event"], seen: number, err: HygieneError): void => {
        req.unpipe(body);
        body.unpipe();
        for (const d of body.destinations) abandon(d);
        report(event, seen);
        refuse(res, err);
        // Whatever the client still sends is read and discarded until the connection closes.
        req.resume();
      };
      const body = new BoundedBody(o.maxBytes, {
        onExceeded: (b) => cutOff("body_too_large", b.seen, invalidRequest("request body too large", 413)),
        // http-proxy pipes `buffer` into the upstream request right after creating it, before any byte of
        // the body is written: the moment to check which framing that request will put on the wire.
        acceptDestination: (d) => {
          const upstream = d as ClientRequest;
          const te = typeof upstream.getHeader === "function" ? upstream.getHeader("transfer-encoding") : "";
          if (String(te).toLowerCase() === "chunked") return true;
          cutOff(
            "body_framing_refused",
            0,
            invalidRequest("chunked request body not supported for this method"),
          );
          return false;
        },
      });
      // The hygiene step stripped the client's (verified, single `chunked`) Transfer-Encoding as
      // hop-by-hop; this is the gateway's own framing for the next hop.
      req.headers["transfer-encoding"] = "chunked";
      delete req.headers["content-length"];
      req.pipe(body);
      const withBody = { ...options, buffer: body };
      if (given >= 4) web(req, res, withBody, callback);
      else web(req, res, withBody);
    };
  };
}
