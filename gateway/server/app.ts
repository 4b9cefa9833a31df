// One segment's Express app: hygiene → authentication → policy input → decision → enforcement → proxy.
// Every stage before the proxy answers by itself on failure, so a request the gateway did not allow has
// no code path to the upstream.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Agent } from "node:http";
import type { TLSSocket } from "node:tls";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { createProxyMiddleware } from "http-proxy-middleware";
import { AuthnCombiner } from "../authn/combine.js";
import { BearerAuthenticator } from "../authn/bearer.js";
import { MtlsAuthenticator } from "../authn/mtls.js";
import type { Authenticator } from "../authn/types.js";
import { challengeFor } from "../authn/www_authenticate.js";
import type { Segment } from "../config/index.js";
import { errorResponse } from "../http/errors.js";
import { forwardedHeaders, policyHeaders, sanitizeRequestHeaders } from "../http/headers.js";
import { checkRequestHead, resolveLimits } from "../http/limits.js";
import { normalizePath } from "../http/path.js";
import { enforce, type Pdp } from "./enforce.js";
import { buildInput, callerType } from "./input.js";
import { peerFromSocket, type VerifiedPeer } from "./tls.js";

export const METADATA_PATH = "/.well-known/oauth-protected-resource";

export interface Logger {
  (event: Record<string, unknown>): void;
}

export interface AppOptions {
  segment: Segment;
  pdp: Pdp;
  log?: Logger;
}

/** The authenticators the segment's config names; ones not wired into the server yet fail start-up. */
export function buildAuthenticators(segment: Segment): Authenticator[] {
  const out: Authenticator[] = [];
  if (segment.tls.client_auth !== "none") out.push(new MtlsAuthenticator());
  const a = segment.authenticators;
  if (a.bearer) {
    out.push(
      new BearerAuthenticator({
        issuer: a.bearer.issuer,
        audience: a.bearer.audience[0],
        jwks_file: a.bearer.jwks_file,
        jwks_uri: a.bearer.jwks_uri,
        algorithms: a.bearer.algorithms,
        clock_skew_s: a.bearer.clock_skew_s,
        max_token_bytes: a.bearer.max_token_bytes,
      }),
    );
  }
  for (const name of ["introspection", "api_key", "basic", "psk", "jwt_assertion"] as const) {
    if (a[name])
      throw new Error(`segment ${segment.name}: authenticator ${name} is not supported by serve yet`);
  }
  return out;
}

function send(res: Response, status: number, headers: Record<string, string>, body: string): void {
  res.status(status).set(headers).send(body);
}

interface Allowed {
  upstreamTarget: string;
}

const allowed = new WeakMap<IncomingMessage, Allowed>();

export function createSegmentApp(o: AppOptions): Express {
  const { segment, pdp } = o;
  const log: Logger = o.log ?? ((e) => console.error(JSON.stringify(e)));
  const combiner = new AuthnCombiner(segment.authentication, buildAuthenticators(segment));
  const limits = resolveLimits({
    maxHeaderBytes: segment.limits.max_header_bytes,
    maxBodyBytes: segment.limits.max_body_bytes,
  });
  const origin = `https://${segment.host.includes(":") ? `[${segment.host}]` : segment.host}:${segment.port}`;
  const realm = segment.name;
  const resourceMetadata = `${origin}${METADATA_PATH}`;
  const issuers = segment.authenticators.bearer ? [segment.authenticators.bearer.issuer] : [];

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    gate(req, res, next).catch((e: unknown) => {
      log({ segment: segment.name, event: "internal_error", error: String(e) });
      const r = errorResponse(e);
      if (!res.headersSent) send(res, r.status, r.headers, r.body);
      else res.destroy();
    });
  });

  async function gate(req: Request, res: Response, next: NextFunction): Promise<void> {
    let target;
    try {
      checkRequestHead(req, limits);
      target = normalizePath(req.url);
    } catch (e) {
      const r = errorResponse(e);
      send(res, r.status, r.headers, r.body);
      return;
    }
    if (target.path === METADATA_PATH && (req.method === "GET" || req.method === "HEAD")) {
      // RFC 9728 §3: public by design, so clients can discover how to get a token before they have one.
      res.status(200).json({
        resource: origin,
        authorization_servers: issuers,
        bearer_methods_supported: ["header"],
        resource_name: segment.name,
      });
      return;
    }

    const socket = req.socket as TLSSocket;
    let peer: VerifiedPeer | undefined;
    if (segment.tls.client_auth !== "none") {
      const p = peerFromSocket(socket, segment.tls.trust_domains);
      if (typeof p === "string") {
        // `require` already refused unverified chains in the handshake; what is left is a non-SVID leaf.
        if (segment.tls.client_auth === "require") {
          log({ segment: segment.name, event: "peer_rejected", reason: p });
          socket.destroy();
          return;
        }
      } else {
        peer = p;
      }
    }

    const authn = await combiner.authenticate({
      method: req.method,
      path: target.path,
      headers: req.headersDistinct,
      ...(peer ? { peer: peer.facts } : {}),
    });
    if (!authn.ok) {
      const c = challengeFor(authn.error, { realm, resourceMetadata });
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "cache-control": "no-store",
      };
      if (c.wwwAuthenticate) headers["www-authenticate"] = c.wwwAuthenticate;
      if (c.status === 503) headers["retry-after"] = "5";
      // RFC 6750 §3.1: no error code when the request carried no credentials; the body only says why.
      const body = c.body ?? { error: "unauthorized", error_description: "authentication required" };
      log({
        segment: segment.name,
        event: "authn_failed",
        code: authn.error.code,
        cause: String(authn.error.cause ?? ""),
      });
      send(res, c.status, headers, JSON.stringify(body));
      return;
    }

    const caller = callerType(segment.caller_types, peer, authn.identity);
    const input = buildInput({
      segment: segment.name,
      method: req.method,
      host: req.headers.host,
      headers: policyHeaders(req.headersDistinct),
      target,
      remoteAddr: socket.remoteAddress ?? "",
      peer,
      authn,
      caller,
    });
    const verdict = enforce(pdp, input, { realm, resourceMetadata });
    if (verdict.kind === "deny") {
      log({
        segment: segment.name,
        event: "deny",
        status: verdict.status,
        subject: authn.identity.subject,
        reason: verdict.log,
      });
      send(res, verdict.status, verdict.headers, verdict.body);
      return;
    }

    let outbound;
    try {
      outbound = {
        // `req.headers`, not headersDistinct: single-valued fields must stay strings on the way out.
        ...sanitizeRequestHeaders(req.headers),
        ...forwardedHeaders({
          remoteAddress: socket.remoteAddress ?? "",
          localPort: socket.localPort ?? segment.port,
          encrypted: true,
          host: req.headers.host,
        }),
        ...verdict.headers,
        // Last, so neither the client nor a policy header can replace the verified identity.
        "x-portcullis-subject": authn.identity.subject,
        "x-portcullis-caller-type": caller.type,
      };
    } catch (e) {
      const r = errorResponse(e);
      send(res, r.status, r.headers, r.body);
      return;
    }
    // http-proxy copies `req.headers` to the upstream request: replacing it is what makes the stripping stick.
    req.headers = outbound as IncomingMessage["headers"];
    allowed.set(req, { upstreamTarget: target.upstreamTarget });
    next();
  }

  const proxy = createProxyMiddleware<Request, Response>({
    target: segment.upstream,
    agent: new Agent({ keepAlive: true, maxSockets: 256 }),
    xfwd: false,
    changeOrigin: false,
    ejectPlugins: true,
    // The normalised target, not `req.url`: the upstream must serve exactly what the policy decided on.
    pathRewrite: (_path, req) => allowed.get(req)?.upstreamTarget ?? "/",
    on: {
      error: (err, _req, res) => {
        log({ segment: segment.name, event: "upstream_error", error: err.message });
        const r = res as ServerResponse;
        if ("writeHead" in r && !r.headersSent) {
          r.writeHead(502, { "content-type": "application/json", "cache-control": "no-store" });
          r.end(JSON.stringify({ error: "bad_gateway", error_description: "upstream unavailable" }));
        } else {
          r.destroy();
        }
      },
    },
  });
  app.use((req: Request, res: Response, next: NextFunction) => {
    // Defence in depth: only requests the gate marked as allowed may reach the proxy.
    if (!allowed.has(req)) {
      send(
        res,
        403,
        { "content-type": "application/json" },
        JSON.stringify({ error: "access_denied", error_description: "access denied" }),
      );
      return;
    }
    void proxy(req, res, next);
  });
  // Express's default error page would show a stack trace to the caller.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    log({ segment: segment.name, event: "internal_error", error: String(err) });
    const r = errorResponse(err);
    if (!res.headersSent) send(res, r.status, r.headers, r.body);
    else res.destroy();
  });
  return app;
}
