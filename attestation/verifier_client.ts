// The background-check model's client: asks a remote verifier to appraise evidence over the
// challenge-response API shaped like Veraison's —
//   POST {base}/challenge-response/v1/newSession?nonceSize=N  (or ?nonce=…)  → 201 + Location, {nonce, …}
//   POST {session}  Content-Type: <evidence media type>, body = evidence  → 200 {state: "complete", result: <EAR>}
//   (a 202 is polled with GET {session} until complete or failed)
// Keep-alive connections, one deadline for the whole exchange, bounded concurrency. Every problem
// comes back as a typed VerifierFailure, which the caller turns into `status: none` — never into a
// better status. The EAR it returns is NOT verified here; EarVerifier does that.
import http from "node:http";
import https from "node:https";
import { nonceBytes, sameNonce } from "./nonce.js";

export const SESSION_MEDIA_TYPE = "application/rats-challenge-response-session+json";
const NEW_SESSION_PATH = "/challenge-response/v1/newSession";

export type VerifierFailureKind =
  /** Connection refused, reset, DNS failure. */
  | "unreachable"
  /** The exchange did not finish within timeout_ms. */
  | "timeout"
  /** Too many exchanges in flight and queued. */
  | "overloaded"
  /** The verifier refused the evidence (4xx, or the session ended `failed`). */
  | "rejected"
  /** The verifier failed (5xx). */
  | "verifier_error"
  /** A response we cannot use (bad JSON, missing Location, nonce changed, result missing …). */
  | "protocol";

export class VerifierFailure extends Error {
  override name = "VerifierFailure";
  constructor(
    readonly kind: VerifierFailureKind,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Evidence, or a builder that produces it over the session nonce. */
export type Evidence = string | Uint8Array | ((nonce: string) => Promise<string | Uint8Array>);

export type AppraiseOutcome =
  { ok: true; ear: string; nonce: string; session: string } | { ok: false; failure: VerifierFailure };

export interface VerifierClientOptions {
  /** The verifier's base URL (or its full newSession URL). https, or http on loopback. */
  url: string;
  /** Content-Type of the evidence. */
  media_type: string;
  /** Deadline of one whole exchange (default 2000 ms). */
  timeout_ms?: number;
  /** Nonce size asked for when we bring no nonce (default 32 bytes). */
  nonce_size?: number;
  /** Exchanges in flight at once (default 32); more wait in a queue of max_queue (default 256). */
  max_concurrent?: number;
  max_queue?: number;
  /** Response body bound (default 64 KiB). */
  max_response_bytes?: number;
  /** PEM CA certificate(s) for an https verifier with a private CA. */
  ca?: string;
}

interface Response {
  status: number;
  location?: string;
  body: Buffer;
}

export class VerifierClient {
  private readonly newSessionUrl: URL;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private readonly nonceSize: number;
  private readonly maxConcurrent: number;
  private readonly maxQueue: number;
  private readonly maxBytes: number;
  private readonly mediaType: string;
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(o: VerifierClientOptions) {
    const u = new URL(o.url);
    const loopback =
      u.hostname === "localhost" || u.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(u.hostname);
    if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
      throw new Error("verifier url must be https (plain http only on loopback)");
    }
    if (!u.pathname.endsWith("/newSession")) u.pathname = u.pathname.replace(/\/+$/, "") + NEW_SESSION_PATH;
    u.search = "";
    u.hash = "";
    this.newSessionUrl = u;
    this.mediaType = o.media_type;
    this.timeoutMs = o.timeout_ms ?? 2000;
    this.nonceSize = o.nonce_size ?? 32;
    if (this.nonceSize < 8 || this.nonceSize > 64) throw new Error("nonce_size must be from 8 to 64");
    this.maxConcurrent = o.max_concurrent ?? 32;
    this.maxQueue = o.max_queue ?? 256;
    this.maxBytes = o.max_response_bytes ?? 64 * 1024;
    const agentOptions = { keepAlive: true, maxSockets: this.maxConcurrent, maxFreeSockets: 8 };
    this.agent =
      u.protocol === "https:"
        ? new https.Agent({ ...agentOptions, ...(o.ca !== undefined ? { ca: o.ca } : {}) })
        : new http.Agent(agentOptions);
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  /**
   * Runs one exchange. `nonce` (base64 or base64url, 8..64 bytes) is the nonce the evidence carries,
   * e.g. one the gateway issued; without it the verifier picks one, and `evidence` should be a
   * builder that produces the evidence over that nonce (as Veraison's client's EvidenceBuilder).
   */
  async appraise(evidence: Evidence, o: { nonce?: string } = {}): Promise<AppraiseOutcome> {
    const deadline = Date.now() + this.timeoutMs;
    try {
      await this.acquire(deadline);
    } catch (e) {
      return { ok: false, failure: e as VerifierFailure };
    }
    try {
      return { ok: true, ...(await this.exchange(evidence, o.nonce, deadline)) };
    } catch (e) {
      const failure =
        e instanceof VerifierFailure
          ? e
          : new VerifierFailure("protocol", (e as Error).message, undefined, { cause: e });
      return { ok: false, failure };
    } finally {
      this.release();
    }
  }

  private async exchange(
    evidence: Evidence,
    nonce: string | undefined,
    deadline: number,
  ): Promise<{ ear: string; nonce: string; session: string }> {
    const u = new URL(this.newSessionUrl);
    if (nonce !== undefined) {
      const bytes = nonceBytes(nonce);
      if (!bytes || bytes.length < 8 || bytes.length > 64) {
        throw new VerifierFailure("rejected", "the evidence nonce is not 8 to 64 bytes of base64");
      }
      // Veraison's API takes the nonce in standard base64.
      u.searchParams.set("nonce", bytes.toString("base64"));
    } else {
      u.searchParams.set("nonceSize", String(this.nonceSize));
    }
    const created = await this.request("POST", u, deadline);
    if (created.status !== 201 && created.status !== 200) throw statusFailure(created, "newSession");
    if (!created.location) throw new VerifierFailure("protocol", "newSession answered without a Location");
    const session = new URL(created.location, u);
    // The session must live on the verifier we trust: a Location elsewhere would send evidence away.
    if (session.origin !== u.origin)
      throw new VerifierFailure("protocol", "session Location is on another origin");
    const info = parseSession(created.body);
    if (typeof info.nonce !== "string") throw new VerifierFailure("protocol", "session has no nonce");
    if (nonce !== undefined && !sameNonce(info.nonce, nonce)) {
      throw new VerifierFailure("protocol", "the verifier replaced our nonce");
    }
    if (Array.isArray(info.accept) && !info.accept.includes(this.mediaType)) {
      throw new VerifierFailure("rejected", `the verifier does not accept ${this.mediaType}`);
    }

    let body: string | Uint8Array;
    try {
      body = typeof evidence === "function" ? await evidence(info.nonce) : evidence;
    } catch (e) {
      throw new VerifierFailure("rejected", `cannot build evidence: ${(e as Error).message}`, undefined, {
        cause: e,
      });
    }
    let res = await this.request("POST", session, deadline, body);
    let delay = 20;
    while (res.status === 202 || (res.status === 200 && parseSession(res.body).state === "processing")) {
      if (Date.now() + delay >= deadline)
        throw new VerifierFailure("timeout", "verifier did not finish in time");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 250);
      res = await this.request("GET", session, deadline);
    }
    if (res.status !== 200) throw statusFailure(res, "evidence");
    const done = parseSession(res.body);
    if (done.state === "failed")
      throw new VerifierFailure("rejected", "the verifier could not appraise the evidence");
    if (done.state !== "complete" || typeof done.result !== "string" || done.result === "") {
      throw new VerifierFailure("protocol", "session is not complete or has no result");
    }
    return { ear: done.result, nonce: info.nonce, session: session.href };
  }

  private request(method: string, url: URL, deadline: number, body?: string | Uint8Array): Promise<Response> {
    const remaining = deadline - Date.now();
    if (remaining <= 0)
      return Promise.reject(new VerifierFailure("timeout", "verifier did not answer in time"));
    const mod = url.protocol === "https:" ? https : http;
    return new Promise<Response>((resolve, reject) => {
      const headers: Record<string, string> = { accept: SESSION_MEDIA_TYPE };
      if (body !== undefined) {
        headers["content-type"] = this.mediaType;
        headers["content-length"] = String(Buffer.byteLength(body));
      } else if (method === "POST") {
        headers["content-length"] = "0";
      }
      const req = mod.request(url, { method, headers, agent: this.agent });
      // Why we destroyed the request, so the socket errors that follow are reported as that.
      let cause: VerifierFailure | undefined;
      const abort = (f: VerifierFailure) => {
        cause ??= f;
        req.destroy(f);
      };
      const timer = setTimeout(
        () => abort(new VerifierFailure("timeout", "verifier did not answer in time")),
        remaining,
      );
      const fail = (e: Error) => {
        clearTimeout(timer);
        if (cause) return reject(cause);
        reject(
          e instanceof VerifierFailure
            ? e
            : new VerifierFailure("unreachable", `verifier unreachable: ${e.message}`, undefined, {
                cause: e,
              }),
        );
      };
      req.on("error", fail);
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > this.maxBytes)
            return abort(new VerifierFailure("protocol", "verifier response too large"));
          chunks.push(c);
        });
        res.on("error", fail);
        res.on("aborted", () => fail(new Error("response aborted")));
        res.on("end", () => {
          clearTimeout(timer);
          if (cause) return reject(cause);
          const location = res.headers.location;
          resolve({
            status: res.statusCode ?? 0,
            ...(location ? { location } : {}),
            body: Buffer.concat(chunks),
          });
        });
      });
      req.end(body);
    });
  }

  private acquire(deadline: number): Promise<void> {
    if (this.active < this.maxConcurrent) {
      this.active++;
      return Promise.resolve();
    }
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new VerifierFailure("overloaded", "too many verifier calls in flight"));
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        this.active++;
        resolve();
      };
      const timer = setTimeout(
        () => {
          const i = this.queue.indexOf(grant);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new VerifierFailure("timeout", "no verifier connection free in time"));
        },
        Math.max(0, deadline - Date.now()),
      );
      this.queue.push(grant);
    });
  }

  private release(): void {
    this.active--;
    this.queue.shift()?.();
  }
}

interface SessionBody {
  nonce?: unknown;
  state?: unknown;
  accept?: unknown;
  result?: unknown;
}

function parseSession(body: Buffer): SessionBody {
  let v: unknown;
  try {
    v = JSON.parse(body.toString("utf8"));
  } catch {
    throw new VerifierFailure("protocol", "verifier answered with invalid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new VerifierFailure("protocol", "verifier answered with a non-object");
  }
  return v as SessionBody;
}

/** A non-success status as a failure, with the verifier's problem detail when it sent one. */
function statusFailure(res: Response, step: string): VerifierFailure {
  let detail = "";
  try {
    const p = JSON.parse(res.body.toString("utf8")) as { detail?: unknown; title?: unknown };
    const d = typeof p.detail === "string" ? p.detail : typeof p.title === "string" ? p.title : "";
    detail = d ? `: ${d.slice(0, 200)}` : "";
  } catch {
    // Not problem+json; the status says enough.
  }
  const kind = res.status >= 500 ? "verifier_error" : "rejected";
  return new VerifierFailure(kind, `verifier ${step} HTTP ${res.status}${detail}`, res.status);
}
