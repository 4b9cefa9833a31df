// A Pdp answered by a remote `portcullis pdp` (or OPA) over its Data API: `POST {url}/v1/data/{entrypoint}`
// with `{"input": …}`. Fail closed: a PDP that is down, slow, overloaded or answers anything but a 200
// with JSON makes decide() reject, which enforce() turns into a 503 with Retry-After (never an allow); a
// 200 without `result` (an undefined decision) is undefined, which enforce() denies as it does in-process.
//
// Revision: the gateway cannot know which policy revision a remote PDP will answer with before it asks,
// and a revision learnt from an earlier answer goes stale when the PDP reloads. So this Pdp names no
// revision, and the gateway's decision cache passes its decisions through uncached (cachedPdp bypasses a
// Pdp without a revision); the PDP's own cache (`cache:` in its config) keys on the revision it serves.
import { readFileSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { RemotePdpConfig } from "../config/index.js";
import type { Pdp } from "./enforce.js";

/** Why a call got no decision; all of them are outages for the caller (503). */
export type RemotePdpFailure = "unreachable" | "timeout" | "overloaded" | "status" | "malformed";

export class RemotePdpError extends Error {
  constructor(
    readonly failure: RemotePdpFailure,
    message: string,
  ) {
    super(message);
    this.name = "RemotePdpError";
  }
}

export interface RemotePdpOptions {
  /** Base URL of the PDP (`https://pdp:8181`; http only where the caller allows it). */
  url: string;
  /** Slash-separated rule path, e.g. `portcullis/authz/decision`. */
  entrypoint: string;
  /** One call, waiting for a slot included. */
  timeoutMs: number;
  /** Calls in flight at most; also the keep-alive agent's socket limit. */
  maxConcurrency: number;
  /** Calls waiting for a slot at most; one more fails at once. */
  maxQueue: number;
  /** The bearer token to send, read per call (a token file that rotates). */
  bearerToken?: () => string | undefined;
  /** https only: client certificate and key (mTLS) and the CAs the PDP's certificate must chain to. */
  tls?: { cert?: string | Buffer; key?: string | Buffer; ca?: (string | Buffer)[] };
  /** Largest response body accepted; a bigger one is a malformed answer. Default 1 MiB. */
  maxResponseBytes?: number;
}

export interface RemotePdpStats {
  calls: number;
  failures: Record<RemotePdpFailure, number>;
  /** Calls in flight right now / waiting for a slot right now. */
  inFlight: number;
  queued: number;
}

export interface RemotePdp extends Pdp {
  decide(input: Record<string, unknown>): Promise<unknown>;
  readonly stats: RemotePdpStats;
  /** Closes the keep-alive sockets; calls after it fail. */
  close(): void;
}

interface Waiter {
  start: () => void;
  fail: (e: Error) => void;
}

export function remotePdp(o: RemotePdpOptions): RemotePdp {
  const base = new URL(o.url);
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new TypeError(`pdp url must be http(s), got ${o.url}`);
  }
  const entrypoint = o.entrypoint.split("/").filter((s) => s !== "");
  // Each segment escaped on its own, so a `/` can never come from inside a segment.
  const path = base.pathname.replace(/\/+$/, "") + "/v1/data/" + entrypoint.map(encodeURIComponent).join("/");
  const https = base.protocol === "https:";
  const agentOptions = {
    keepAlive: true,
    maxSockets: o.maxConcurrency,
    maxFreeSockets: o.maxConcurrency,
    // LIFO keeps a few sockets warm instead of touching all of them, so idle ones time out cleanly.
    scheduling: "lifo" as const,
  };
  const agent = https
    ? new HttpsAgent({
        ...agentOptions,
        ...(o.tls?.cert !== undefined ? { cert: o.tls.cert } : {}),
        ...(o.tls?.key !== undefined ? { key: o.tls.key } : {}),
        ...(o.tls?.ca !== undefined ? { ca: o.tls.ca } : {}),
      })
    : new HttpAgent(agentOptions);
  const send = https ? httpsRequest : httpRequest;
  const maxBytes = o.maxResponseBytes ?? 1024 * 1024;
  const stats: RemotePdpStats = {
    calls: 0,
    failures: { unreachable: 0, timeout: 0, overloaded: 0, status: 0, malformed: 0 },
    inFlight: 0,
    queued: 0,
  };
  const queue: Waiter[] = [];
  let closed = false;

  const release = () => {
    stats.inFlight--;
    const next = queue.shift();
    if (next) {
      stats.queued--;
      next.start();
    }
  };

  const call = (body: string, deadline: AbortSignal): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const token = o.bearerToken?.();
      const req = send(
        {
          protocol: base.protocol,
          hostname: base.hostname.replace(/^\[|\]$/g, ""),
          port: base.port,
          path,
          method: "POST",
          agent,
          signal: deadline,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            accept: "application/json",
            ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
          },
        },
        (res) =>
          readAnswer(res, maxBytes).then(resolve, (e: Error) =>
            reject(
              deadline.aborted ? new RemotePdpError("timeout", `no answer within ${o.timeoutMs} ms`) : e,
            ),
          ),
      );
      req.on("error", (e: Error & { code?: string }) => {
        if (deadline.aborted) reject(new RemotePdpError("timeout", `no answer within ${o.timeoutMs} ms`));
        else reject(e instanceof RemotePdpError ? e : new RemotePdpError("unreachable", e.message));
      });
      req.end(body);
    });

  return {
    entrypoint: entrypoint.join("/"),
    stats,
    close() {
      closed = true;
      for (const w of queue.splice(0)) w.fail(new RemotePdpError("unreachable", "remote pdp client closed"));
      stats.queued = 0;
      agent.destroy();
    },
    async decide(input) {
      stats.calls++;
      try {
        if (closed) throw new RemotePdpError("unreachable", "remote pdp client closed");
        // Before any waiting: an input that is not JSON (a bigint) fails here, not at the PDP.
        const body = JSON.stringify({ input });
        const deadline = AbortSignal.timeout(o.timeoutMs);
        await acquire(deadline);
        try {
          return await call(body, deadline);
        } finally {
          release();
        }
      } catch (e) {
        const err =
          e instanceof RemotePdpError
            ? e
            : new RemotePdpError("malformed", (e as Error).message ?? String(e));
        stats.failures[err.failure]++;
        throw err;
      }
    },
  };

  /** A slot among maxConcurrency, waiting in a bounded queue until the call's deadline. */
  function acquire(deadline: AbortSignal): Promise<void> {
    if (stats.inFlight < o.maxConcurrency) {
      stats.inFlight++;
      return Promise.resolve();
    }
    if (queue.length >= o.maxQueue) {
      return Promise.reject(
        new RemotePdpError(
          "overloaded",
          `pdp client queue full (${o.maxConcurrency} in flight, ${o.maxQueue} waiting)`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        start: () => {
          deadline.removeEventListener("abort", onAbort);
          stats.inFlight++;
          resolve();
        },
        fail: (e) => {
          deadline.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        const i = queue.indexOf(w);
        if (i >= 0) {
          queue.splice(i, 1);
          stats.queued--;
        }
        reject(new RemotePdpError("timeout", `no pdp slot within ${o.timeoutMs} ms`));
      };
      deadline.addEventListener("abort", onAbort, { once: true });
      queue.push(w);
      stats.queued++;
    });
  }
}

/** The `result` of a 200 Data API answer (undefined when the document is undefined); anything else throws. */
function readAnswer(res: IncomingMessage, maxBytes: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        res.destroy(new RemotePdpError("malformed", `pdp answer larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on("error", reject);
    res.on("aborted", () => reject(new RemotePdpError("unreachable", "pdp connection lost mid-answer")));
    res.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        reject(new RemotePdpError("status", `pdp answered ${status}${opaMessage(text)}`));
        return;
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        reject(new RemotePdpError("malformed", "pdp answer is not JSON"));
        return;
      }
      if (body === null || typeof body !== "object" || Array.isArray(body)) {
        reject(new RemotePdpError("malformed", "pdp answer is not a JSON object"));
        return;
      }
      resolve((body as { result?: unknown }).result);
    });
  });
}

/** `: code: message` from an OPA error body, for the log; empty when the body is not one. */
function opaMessage(text: string): string {
  try {
    const b = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof b.code === "string")
      return `: ${b.code}${typeof b.message === "string" ? `: ${b.message}` : ""}`;
  } catch {
    // not an OPA error body
  }
  return "";
}

/**
 * The token in `file`, re-read when the file changes (checked at most every `checkMs`, off the request
 * path): a rotated short-lived token is picked up without a restart. Read once synchronously at start so
 * a missing file is a start-up error.
 */
export function tokenFile(file: string, checkMs = 5_000): () => string | undefined {
  let token = readToken(readFileSync(file, "utf8"), file);
  let mtimeMs = 0;
  let checkedAt = Date.now();
  let checking = false;
  void stat(file).then(
    (s) => (mtimeMs = s.mtimeMs),
    () => undefined,
  );
  return () => {
    const now = Date.now();
    if (!checking && now - checkedAt >= checkMs) {
      checking = true;
      checkedAt = now;
      stat(file)
        .then(async (s) => {
          if (s.mtimeMs === mtimeMs) return;
          token = readToken(await readFile(file, "utf8"), file);
          mtimeMs = s.mtimeMs;
        })
        // A file being replaced or briefly unreadable keeps the last token; the PDP rejects it once stale.
        .catch(() => undefined)
        .finally(() => (checking = false));
    }
    return token;
  };
}

function readToken(text: string, file: string): string {
  const t = text.trim();
  if (t === "" || /\s/.test(t)) throw new Error(`${file}: must hold one bearer token`);
  return t;
}

/** The remote Pdp `pdp: { url: … }` configures. Reads its files now (a missing one fails the start). */
export function remotePdpFromConfig(c: RemotePdpConfig): RemotePdp {
  const { auth } = c;
  return remotePdp({
    url: c.url,
    entrypoint: c.entrypoint,
    timeoutMs: c.timeout_ms,
    maxConcurrency: c.max_concurrency,
    maxQueue: c.max_queue,
    ...(auth.bearer_token_file !== undefined ? { bearerToken: tokenFile(auth.bearer_token_file) } : {}),
    tls: {
      ...(auth.cert !== undefined ? { cert: readFileSync(auth.cert) } : {}),
      ...(auth.key !== undefined ? { key: readFileSync(auth.key) } : {}),
      ...(auth.ca !== undefined ? { ca: auth.ca.map((f) => readFileSync(f)) } : {}),
    },
  });
}
