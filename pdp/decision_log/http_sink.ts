// HTTP sink: OPA's decision-log upload. Each batch is one `POST` of a JSON array (gzip-compressed by
// default, `Content-Encoding: gzip`); any 2xx acknowledges it, anything else (or no answer within
// `timeout_ms`) is retried with exponential backoff and jitter until it is accepted or the logger closes.
// While a batch retries, new events queue behind it and, once the buffer is full, are dropped and
// counted: a receiver outage costs bounded memory and log events, never decisions.
import { readFileSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import type { DiagnosticLog, Sink } from "./sink.js";
import type { ServiceSinkConfig } from "./types.js";

const gzipAsync = promisify(gzip);

export class HttpSink implements Sink {
  readonly name = "service";
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly headers: Record<string, string>;
  private aborted = false;
  /** Wakes a backoff sleep and destroys the request in flight when the logger gives up. */
  private readonly abortListeners = new Set<() => void>();
  /** Upload attempts that failed, over the sink's life. */
  failedAttempts = 0;

  constructor(
    private readonly cfg: ServiceSinkConfig,
    private readonly log: DiagnosticLog = () => {},
  ) {
    this.url = new URL(cfg.url);
    const https = this.url.protocol === "https:";
    this.agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.headers = { ...cfg.headers };
    // Read once at start-up: a missing file is a configuration error, not a failing upload.
    if (cfg.bearer_token_file !== undefined) {
      this.headers.authorization = `Bearer ${readFileSync(cfg.bearer_token_file, "utf8").trim()}`;
    }
  }

  async write(batch: readonly string[]): Promise<void> {
    let body = "[";
    for (let i = 0; i < batch.length; i++) body += (i > 0 ? "," : "") + batch[i]!;
    body += "]";
    const payload = this.cfg.gzip ? await gzipAsync(body) : Buffer.from(body, "utf8");
    for (let attempt = 0; ; attempt++) {
      if (this.aborted) throw new Error("decision log upload abandoned (closing)");
      let problem: string;
      try {
        const status = await this.post(payload);
        if (status >= 200 && status < 300) {
          if (attempt > 0) {
            this.log({
              level: "info",
              msg: "decision log: upload succeeded after retrying",
              url: this.cfg.url,
              attempts: attempt + 1,
            });
          }
          return;
        }
        problem = `HTTP ${status}`;
      } catch (e) {
        if (this.aborted) throw new Error("decision log upload abandoned (closing)");
        problem = e instanceof Error ? e.message : String(e);
      }
      this.failedAttempts++;
      const delay = this.backoff(attempt);
      // Once per batch, not per attempt: a long outage is one line, then the drop reports.
      if (attempt === 0) {
        this.log({
          level: "warn",
          msg: "decision log: upload failed; retrying with backoff",
          url: this.cfg.url,
          events: batch.length,
          error: problem,
          retry_in_ms: delay,
        });
      }
      await this.sleep(delay);
    }
  }

  abort(): void {
    this.aborted = true;
    for (const l of [...this.abortListeners]) l();
  }

  close(): Promise<void> {
    this.agent.destroy();
    return Promise.resolve();
  }

  /** min · 2^attempt, capped at max, ±25 % so that many PEPs do not retry in step. */
  private backoff(attempt: number): number {
    const { min_retry_delay_ms: min, max_retry_delay_ms: max } = this.cfg;
    const base = Math.min(max, min * 2 ** Math.min(attempt, 30));
    return Math.max(1, Math.round(base * (0.75 + Math.random() * 0.5)));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.abortListeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.abortListeners.add(done);
    });
  }

  /** One attempt: the response status (its body is read and discarded). */
  private post(payload: Buffer): Promise<number> {
    const request = this.url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(this.url, {
        method: "POST",
        agent: this.agent,
        headers: {
          ...this.headers,
          "content-type": "application/json",
          "content-length": String(payload.length),
          ...(this.cfg.gzip ? { "content-encoding": "gzip" } : {}),
        },
      });
      const fail = (e: Error) => {
        cleanup();
        req.destroy();
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new Error(`no answer within ${this.cfg.timeout_ms} ms`)),
        this.cfg.timeout_ms,
      );
      const onAbort = () => fail(new Error("aborted"));
      this.abortListeners.add(onAbort);
      const cleanup = () => {
        clearTimeout(timer);
        this.abortListeners.delete(onAbort);
      };
      req.on("response", (res: IncomingMessage) => {
        res.resume();
        res.on("end", () => {
          cleanup();
          resolve(res.statusCode ?? 0);
        });
        res.on("error", fail);
      });
      req.on("error", fail);
      req.end(payload);
    });
  }
}
