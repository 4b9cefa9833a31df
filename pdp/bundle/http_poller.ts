// Polling a bundle server the way OPA's downloader does (download/download.go):
//   - `If-None-Match` with the last ETag; 304 keeps what we have;
//   - between polls a delay drawn from [min_delay, max_delay] (jitter spreads a fleet of PDPs);
//   - long polling: with `long_polling_timeout_s` configured, `Prefer: modes=snapshot;wait=N` asks the
//     server to hold the request until the bundle changes; it stays on while the server answers with
//     `Content-Type: application/vnd.openpolicyagent.bundles` and the next request goes out at once;
//   - errors back off exponentially (OPA's DefaultBackoff: ×1.6 from 100 ms, ±20 % jitter, capped at
//     max_delay).
// Every request has a deadline; a body larger than the limit is cut off, never buffered whole.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { BundleError } from "./types.js";

export const LONG_POLL_CONTENT_TYPE = "application/vnd.openpolicyagent.bundles";

export interface HttpPollerOptions {
  url: string;
  minDelayMs: number;
  maxDelayMs: number;
  /** Enables long polling (seconds the server may hold a request). */
  longPollTimeoutS?: number;
  /** One request's deadline (a long poll gets its wait on top). */
  timeoutMs: number;
  /** Largest body accepted. */
  maxBytes: number;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** Sent as `Authorization: Bearer …`; called per request, so a rotated token file is picked up. */
  bearerToken?: () => string;
  userAgent?: string;
}

export interface PollHandlers {
  /** A new bundle arrived; resolves once it was activated or rejected. */
  onBundle(bytes: Buffer, etag: string): Promise<void>;
  onNotModified(): void;
  onError(e: BundleError): void;
}

interface Response {
  status: number;
  etag: string;
  contentType: string;
  body: Buffer;
}

/** OPA's util.DefaultBackoff. */
export function backoffMs(retries: number, maxMs: number): number {
  if (retries <= 0) return 0;
  let b = 100;
  for (let r = retries; b < maxMs && r > 0; r--) b *= 1.6;
  b = Math.min(b, maxMs);
  return Math.round(b * (1 + 0.2 * (Math.random() * 2 - 1)));
}

export class HttpPoller {
  private readonly url: URL;
  private readonly agent: HttpAgent | HttpsAgent;
  private etag = "";
  private longPoll: boolean;
  private stopped = true;
  private current: { destroy(err?: Error): void } | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(
    private readonly o: HttpPollerOptions,
    private readonly h: PollHandlers,
  ) {
    this.url = new URL(o.url);
    this.longPoll = o.longPollTimeoutS !== undefined;
    this.agent =
      this.url.protocol === "https:"
        ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ca: o.ca, cert: o.cert, key: o.key })
        : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  }

  /** The ETag sent with the next request. */
  get lastEtag(): string {
    return this.etag;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.destroy(new Error("stopped"));
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
    await this.loopDone;
    this.agent.destroy();
  }

  /** Polls now instead of at the end of the current delay. */
  poke(): void {
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
      this.sleepTimer = setTimeout(() => this.wake?.(), ms);
    });
  }

  private async loop(): Promise<void> {
    let retries = 0;
    while (!this.stopped) {
      const t0 = Date.now();
      let delay: number;
      try {
        const longPoll = this.longPoll;
        const r = await this.fetchOnce(longPoll);
        if (this.stopped) break;
        retries = 0;
        if (r.status === 304) {
          if (r.etag !== "") this.etag = r.etag;
          this.h.onNotModified();
        } else {
          this.longPoll = this.o.longPollTimeoutS !== undefined && r.contentType === LONG_POLL_CONTENT_TYPE;
          // Remembered even when the bundle is rejected: the same bad bundle is not fetched again.
          this.etag = r.etag;
          await this.h.onBundle(r.body, r.etag);
        }
        // A long-polling server answers when something changed (or its wait ran out): ask again at
        // once, but never more than once a second if it answers without holding.
        delay = this.longPoll ? Math.max(0, 1000 - (Date.now() - t0)) : this.jitter();
      } catch (e) {
        if (this.stopped) break;
        retries++;
        this.h.onError(e instanceof BundleError ? e : new BundleError("fetch", (e as Error).message));
        delay = backoffMs(retries, this.o.maxDelayMs);
      }
      if (!this.stopped) await this.sleep(delay);
    }
  }

  private jitter(): number {
    return this.o.minDelayMs + Math.random() * (this.o.maxDelayMs - this.o.minDelayMs);
  }

  private fetchOnce(longPoll: boolean): Promise<Response> {
    const o = this.o;
    const headers: Record<string, string> = {
      accept: `application/gzip, application/octet-stream, ${LONG_POLL_CONTENT_TYPE}`,
      prefer: longPoll ? `modes=snapshot;wait=${o.longPollTimeoutS}` : "modes=snapshot",
      "user-agent": o.userAgent ?? "portcullis-pdp",
    };
    if (this.etag !== "") headers["if-none-match"] = this.etag;
    if (o.bearerToken !== undefined) headers.authorization = `Bearer ${o.bearerToken()}`;
    const deadline = o.timeoutMs + (longPoll ? (o.longPollTimeoutS ?? 0) * 1000 : 0);
    const request = this.url.protocol === "https:" ? httpsRequest : httpRequest;

    return new Promise<Response>((resolve, reject) => {
      let settled = false;
      const done = (err: Error | undefined, r?: Response) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.current = undefined;
        if (err) reject(err);
        else resolve(r!);
      };
      const req = request(this.url, { method: "GET", headers, agent: this.agent }, (res) =>
        this.readResponse(res, done),
      );
      this.current = req;
      const timer = setTimeout(() => {
        req.destroy(new BundleError("fetch", `request timed out after ${deadline} ms`));
      }, deadline);
      req.on("error", (e) =>
        done(e instanceof BundleError ? e : new BundleError("fetch", `request failed: ${e.message}`)),
      );
      req.end();
    });
  }

  private readResponse(res: IncomingMessage, done: (err: Error | undefined, r?: Response) => void): void {
    const status = res.statusCode ?? 0;
    const etag = typeof res.headers.etag === "string" ? res.headers.etag : "";
    const contentType = (res.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (status !== 200) {
      res.resume();
      res.on("end", () => {
        if (status === 304) done(undefined, { status, etag, contentType, body: Buffer.alloc(0) });
        else {
          const hint = status >= 300 && status < 400 ? " (redirects are not followed)" : "";
          done(new BundleError("fetch", `server replied with ${status}${hint}`));
        }
      });
      res.on("error", (e) => done(new BundleError("fetch", `response failed: ${e.message}`)));
      res.on("close", () => {
        if (!res.complete)
          done(new BundleError("fetch", "connection closed before the response was complete"));
      });
      return;
    }
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > this.o.maxBytes) {
      res.destroy();
      done(
        new BundleError(
          "archive",
          `bundle of ${declared} bytes exceeds the limit of ${this.o.maxBytes} bytes`,
        ),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      size += c.length;
      if (size > this.o.maxBytes) {
        res.destroy();
        done(new BundleError("archive", `bundle exceeds the limit of ${this.o.maxBytes} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on("end", () => done(undefined, { status, etag, contentType, body: Buffer.concat(chunks) }));
    res.on("error", (e) => done(new BundleError("fetch", `response failed: ${e.message}`)));
    res.on("close", () => {
      if (!res.complete) done(new BundleError("fetch", "connection closed before the bundle was complete"));
    });
  }
}
