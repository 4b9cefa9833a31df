// The reference verifier's HTTP API, shaped like Veraison's challenge-response API:
//   POST   /challenge-response/v1/newSession?nonceSize=N | ?nonce=<base64>  → 201, Location, session
//   POST   /challenge-response/v1/session/{id}   (Content-Type: evidence media type) → 200, session + EAR
//   GET    /challenge-response/v1/session/{id}   → the session
//   DELETE /challenge-response/v1/session/{id}   → 204
//   GET    /.well-known/veraison/verification    → EAR verification key, media types, endpoints
//   GET    /.well-known/jwks.json                → the EAR signing key as a JWK Set
//   GET    /health
// Errors are RFC 9457 problem+json. Sessions are single-use: evidence is accepted once per session.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { nonceBytes } from "../nonce.js";
import { appraise } from "./appraise.js";
import type { AttesterConfig, VerifierConfig } from "./config.js";
import { EvidenceError, MAX_EVIDENCE_BYTES, verifyEvidence } from "./evidence.js";
import { signEar } from "./issue.js";
import { SessionTable, type Session } from "./sessions.js";

const SESSION_MEDIA_TYPE = "application/rats-challenge-response-session+json";
const BASE = "/challenge-response/v1";

export type VerifierLog = (event: Record<string, unknown>) => void;

export interface RunningVerifier {
  /** `http(s)://host:port` */
  url: string;
  port: number;
  jwks: { keys: Record<string, unknown>[] };
  close(): Promise<void>;
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly code?: string,
  ) {
    super(detail ?? title);
  }
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  type = "application/json",
  extra: Record<string, string> = {},
) {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined
      ? {}
      : { "content-type": type, "content-length": String(Buffer.byteLength(text)) }),
    "cache-control": "no-store",
    ...extra,
  });
  res.end(text);
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > max) {
      reject(new HttpProblem(413, "Payload Too Large", `evidence is limited to ${max} bytes`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new HttpProblem(413, "Payload Too Large", `evidence is limited to ${max} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function sessionView(s: Session, mediaType: string): Record<string, unknown> {
  return {
    nonce: s.nonce,
    expiry: new Date(s.expiresMs).toISOString(),
    accept: [mediaType],
    state: s.state,
    ...(s.evidence ? { evidence: s.evidence } : {}),
    ...(s.result !== undefined ? { result: s.result } : {}),
  };
}

/** Identifies the reference values an appraisal used, so a relying party can pin them. */
function policyId(a: AttesterConfig): string {
  const digest = createHash("sha256").update(JSON.stringify(a.reference_values)).digest("hex").slice(0, 16);
  return `urn:portcullis:verifier:policy:${digest}`;
}

export async function startVerifier(
  config: VerifierConfig,
  log: VerifierLog = () => {},
): Promise<RunningVerifier> {
  const sessions = new SessionTable(config.session_ttl_s * 1000, config.max_sessions);
  const byKid = new Map(config.attesters.map((a) => [a.key.kid, a]));
  const jwk = config.signing_key.publicJwk;
  const jwks = { keys: [jwk] };

  async function newSession(url: URL, res: http.ServerResponse): Promise<void> {
    let nonce: Buffer;
    const given = url.searchParams.get("nonce");
    if (given !== null) {
      const b = nonceBytes(given);
      if (!b || b.length < 8 || b.length > 64) {
        throw new HttpProblem(400, "Bad Request", "nonce must be 8 to 64 bytes of base64");
      }
      nonce = b;
    } else {
      const sizeText = url.searchParams.get("nonceSize") ?? "32";
      const size = /^\d{1,3}$/.test(sizeText) ? Number(sizeText) : NaN;
      if (!(size >= 8 && size <= 64))
        throw new HttpProblem(400, "Bad Request", "nonceSize must be from 8 to 64");
      nonce = randomBytes(size);
    }
    const s = sessions.create(nonce);
    if (!s) throw new HttpProblem(503, "Service Unavailable", "too many open sessions");
    send(res, 201, sessionView(s, config.media_type), SESSION_MEDIA_TYPE, {
      location: `${BASE}/session/${s.id}`,
    });
  }

  async function submitEvidence(
    s: Session,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== config.media_type) {
      throw new HttpProblem(415, "Unsupported Media Type", `evidence must be ${config.media_type}`);
    }
    if (s.state !== "waiting")
      throw new HttpProblem(409, "Conflict", "evidence was already submitted to this session");
    const body = await readBody(req, MAX_EVIDENCE_BYTES);
    // Single use from here on, whatever the outcome.
    s.state = "processing";
    s.evidence = { type, value: body.toString("base64") };
    let attester: AttesterConfig;
    let measurements;
    try {
      const v = await verifyEvidence(body.toString("utf8"), (kid) => byKid.get(kid)?.key, {
        nonce: s.nonce,
        nowMs: Date.now(),
        maxAgeS: config.evidence_max_age_s,
        skewS: config.clock_skew_s,
      });
      attester = byKid.get(v.kid)!;
      measurements = v.claims;
    } catch (e) {
      s.state = "failed";
      if (e instanceof EvidenceError) {
        log({ msg: "evidence rejected", session: s.id, code: e.code, detail: e.message });
        throw new HttpProblem(400, "Bad Request", e.message, e.code);
      }
      throw e;
    }
    const a = appraise(measurements, attester.reference_values);
    const iat = Math.floor(Date.now() / 1000);
    const ear = await signEar(config.signing_key, {
      profile: config.profile,
      verifierId: config.verifier_id,
      status: a.status,
      nonce: s.nonce,
      ...(attester.id !== undefined ? { sub: attester.id } : {}),
      // The certificate when the attester was registered by one (mTLS binding), else its key (DPoP).
      cnf: attester.key.cert ? { "x5t#S256": attester.key.cert.x5tS256 } : { jwk: attester.key.jwk },
      submods: {
        [attester.name]: {
          status: a.status,
          vector: a.vector,
          policyId: policyId(attester),
          nonce: measurements.eat_nonce,
        },
      },
      iat,
      ttl_s: config.ear_ttl_s,
    });
    s.state = "complete";
    s.result = ear;
    log({
      msg: "evidence appraised",
      session: s.id,
      attester: attester.name,
      status: a.status,
      notes: a.notes,
    });
    send(res, 200, sessionView(s, config.media_type), SESSION_MEDIA_TYPE);
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://verifier.invalid");
    const method = req.method ?? "GET";
    const path = url.pathname;
    if (path === `${BASE}/newSession`) {
      if (method !== "POST") throw new HttpProblem(405, "Method Not Allowed");
      return newSession(url, res);
    }
    const m = /^\/challenge-response\/v1\/session\/([0-9a-f]{32})$/.exec(path);
    if (m) {
      const s = sessions.get(m[1]!);
      if (!s) throw new HttpProblem(404, "Not Found", "no such session (or it expired)");
      if (method === "POST") return submitEvidence(s, req, res);
      if (method === "GET") return send(res, 200, sessionView(s, config.media_type), SESSION_MEDIA_TYPE);
      if (method === "DELETE") {
        sessions.delete(s.id);
        return send(res, 204, undefined);
      }
      throw new HttpProblem(405, "Method Not Allowed");
    }
    if (method !== "GET") throw new HttpProblem(405, "Method Not Allowed");
    if (path === "/.well-known/jwks.json") return send(res, 200, jwks, "application/jwk-set+json");
    if (path === "/.well-known/veraison/verification") {
      return send(res, 200, {
        "ear-verification-key": jwk,
        "media-types": [config.media_type],
        "ear-profile": config.profile,
        "service-state": "READY",
        "api-endpoints": { newChallengeResponseSession: `${BASE}/newSession` },
      });
    }
    if (path === "/health") return send(res, 200, { status: "ok" });
    throw new HttpProblem(404, "Not Found");
  }

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch((e: unknown) => {
      const p =
        e instanceof HttpProblem ? e : new HttpProblem(500, "Internal Server Error", "the verifier failed");
      if (!(e instanceof HttpProblem)) log({ msg: "verifier error", error: (e as Error).message });
      if (res.headersSent) return void res.destroy();
      send(
        res,
        p.status,
        {
          type: "about:blank",
          title: p.title,
          status: p.status,
          ...(p.detail ? { detail: p.detail } : {}),
          ...(p.code ? { code: p.code } : {}),
        },
        "application/problem+json",
      );
    });
  };

  const server = config.tls
    ? https.createServer({ cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) }, listener)
    : http.createServer(listener);
  server.headersTimeout = 5_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.listen.port, config.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.listen.host.includes(":") ? `[${config.listen.host}]` : config.listen.host;
  return {
    url: `${config.tls ? "https" : "http"}://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
    port,
    jwks,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
