// One segment's Express app: hygiene → authentication → policy input → decision → enforcement → proxy.
// Every stage before the proxy answers by itself on failure, so a request the gateway did not allow has
// no code path to the upstream.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Agent } from "node:http";
import type { TLSSocket } from "node:tls";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import {
  createProxyMiddleware,
  debugProxyErrorsPlugin,
  proxyEventsPlugin,
  type Plugin,
} from "http-proxy-middleware";
import { AuthnCombiner, type CombinedResult } from "../authn/combine.js";
import type { RequestFacts } from "../authn/types.js";
import { challengeFor } from "../authn/www_authenticate.js";
import type { Segment } from "../config/index.js";
import { bodyLimitPlugin } from "../http/body_limit.js";
import { errorResponse } from "../http/errors.js";
import { forwardedHeaders, policyHeaders, sanitizeRequestHeaders } from "../http/headers.js";
import { checkRequestHead, resolveLimits } from "../http/limits.js";
import { normalizePath, type NormalizedTarget } from "../http/path.js";
import { requestSpan } from "../telemetry/index.js";
import {
  basicChallenge,
  buildAuthenticators,
  dpopChallenge,
  stripBasicCredentials,
  tokenIssuers,
} from "./authenticators.js";
import { requestedBy, type DecisionHook } from "../../pdp/decision_log/index.js";
import { decisionCacheOf, GatewayAttestation } from "./attestation.js";
import { segmentCredentialHeaders } from "./credential_headers.js";
import type { DecisionKeyMemo } from "../../pdp/cache/index.js";
import { decisionContext, enforce, type EnforceOptions, type Pdp } from "./enforce.js";
import { buildInput, callerType, type Caller } from "./input.js";
import { isRepeatable, RepeatMemo } from "./repeat.js";
import { peerFromSocket, type VerifiedPeer } from "./tls.js";
import { compileTranslation } from "./translate.js";
import { proxyUpgrade, upgradeOf } from "./upgrade.js";

export const METADATA_PATH = "/.well-known/oauth-protected-resource";

export interface Logger {
  (event: Record<string, unknown>): void;
}

export interface AppOptions {
  segment: Segment;
  pdp: Pdp;
  log?: Logger;
  /** Told every policy decision, allowed or denied (decision logs: PepDecisionLog.hook); must not throw. */
  onDecision?: DecisionHook;
  /** Receives what the app holds open beyond requests (attestation stores), to close with the listener. */
  onClose?: (close: () => Promise<void>) => void;
}

function send(res: Response, status: number, headers: Record<string, string>, body: string): void {
  res.status(status).set(headers).send(body);
}

/** What the gate derives from one authentication outcome without the request (see `derivedFor`). */
interface Derived {
  peer: VerifiedPeer | undefined;
  caller: Caller;
  localId: string | undefined;
  /** Enforcement options with the decision context, for requests without an attestation result. */
  enforceOptions: EnforceOptions;
  /** The verified identity headers for the upstream (frozen: copied into each request's own map). */
  identityHeaders: Readonly<Record<string, string>>;
}

type Authenticated = Extract<CombinedResult, { ok: true }>;

/** What an allowed request's head yielded, for the connection's next request with the same head (repeat.ts). */
interface Prepared {
  target: NormalizedTarget;
  facts: RequestFacts;
  /** The (frozen) outcome those facts authenticated to; the rest holds only while they still give it. */
  authn: Authenticated;
  /** Derived for that outcome and the connection's peer (`derived.peer`). */
  derived: Derived;
  input: Record<string, unknown>;
  keyMemo: DecisionKeyMemo;
  /** The policy headers the upstream headers were built with: a different decision rebuilds them. */
  policyHeaders: Readonly<Record<string, string>>;
  /** The upstream headers as the gate built them; each repeat gets its own copy. */
  outbound: Readonly<Record<string, string | string[]>>;
}

/** The repeated request's input: the same document, with this request's time. */
function inputAgain(input: Record<string, unknown>): Record<string, unknown> {
  const request = input.request as Record<string, unknown>;
  return { ...input, request: { ...request, time_ns: Date.now() * 1_000_000 } };
}

/**
 * The forwarding headers of a connection's last request: address and port are fixed per socket, so a
 * keep-alive connection recomputes them only when the Host changes. Read-only for callers (Object.assign
 * copies them into each request's own map).
 */
const forwardingBySocket = new WeakMap<
  TLSSocket,
  { host: string | undefined; headers: Record<string, string> }
>();

function forwardingFor(socket: TLSSocket, host: string | undefined, port: number): Record<string, string> {
  const known = forwardingBySocket.get(socket);
  if (known !== undefined && known.host === host) return known.headers;
  const headers = forwardedHeaders({
    remoteAddress: socket.remoteAddress ?? "",
    localPort: socket.localPort ?? port,
    encrypted: true,
    host,
  });
  forwardingBySocket.set(socket, { host, headers });
  return headers;
}

export function createSegmentApp(o: AppOptions): Express {
  const { segment, pdp } = o;
  const log: Logger = o.log ?? ((e) => console.error(JSON.stringify(e)));
  const combiner = new AuthnCombiner(segment.authentication, buildAuthenticators(segment));
  const translate = compileTranslation(segment);
  const limits = resolveLimits({
    maxHeaderBytes: segment.limits.max_header_bytes,
    maxBodyBytes: segment.limits.max_body_bytes,
  });
  const origin = `https://${segment.host.includes(":") ? `[${segment.host}]` : segment.host}:${segment.port}`;
  const realm = segment.name;
  const resourceMetadata = `${origin}${METADATA_PATH}`;
  const issuers = tokenIssuers(segment);
  const extraChallenge = basicChallenge(segment);
  // RFC 9449 §7.2: a segment taking DPoP offers `DPoP algs=…` next to every challenge but a DPoP one.
  const dpopOffer = dpopChallenge(segment);
  // Built now, so a bad verifier key file or profile fails start-up, not the first request.
  const attestation = segment.attestation
    ? new GatewayAttestation(segment.attestation, {
        cache: decisionCacheOf(pdp),
        log: (e) => log({ segment: segment.name, ...e }),
      })
    : undefined;
  if (attestation) o.onClose?.(() => attestation.close());
  // One list for both: masked in the policy input and stripped before proxying (credential_headers.ts).
  const credentialHeaders = segmentCredentialHeaders(segment);
  // Per-request option objects that never change.
  const policyHeaderOptions = { secretHeaders: credentialHeaders };
  const plainRequest = { allowWebSocketUpgrade: false, stripHeaders: credentialHeaders };
  const keepWebSocket = { allowWebSocketUpgrade: true, stripHeaders: credentialHeaders };

  /**
   * Caller type, local ID and decision context depend only on the authentication outcome and the peer.
   * The combiner returns the same frozen outcome for a repeat of the same identities (a keep-alive
   * connection reusing its token), so they are computed once per outcome, not per request.
   */
  const derived = new WeakMap<CombinedResult, Derived>();
  function derivedFor(authn: Authenticated, peer: VerifiedPeer | undefined): Derived {
    const known = derived.get(authn);
    if (known !== undefined && known.peer === peer) return known;
    const caller = callerType(segment.caller_types, peer, authn);
    const d: Derived = {
      peer,
      caller,
      localId: translate(authn.identity.subject),
      enforceOptions: { realm, resourceMetadata, context: decisionContext(authn, peer, undefined) },
      identityHeaders: Object.freeze({
        "x-portcullis-subject": authn.identity.subject,
        "x-portcullis-caller-type": caller.type,
      }),
    };
    if (Object.isFrozen(authn)) derived.set(authn, d);
    return d;
  }

  /** The connection's verified peer, undefined without one (what the request path below records as `peer`). */
  function currentPeer(socket: TLSSocket): VerifiedPeer | undefined {
    if (segment.tls.client_auth === "none") return undefined;
    const p = peerFromSocket(socket);
    return typeof p === "string" ? undefined : p;
  }

  // An attestation result is appraised per request (its age, a nonce, the evidence headers): no reuse there.
  const repeats = attestation ? undefined : new RepeatMemo<Prepared>();

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  // One layer for the gate and the proxy (forward): a router hop less per request, and the proxy is
  // reached only from the gate's allow path.
  app.use((req: Request, res: Response, next: NextFunction) => {
    // gate answers its own errors: its promise never rejects, so no handler (and no microtask) per request.
    void gate(req, res, next);
  });

  async function gate(req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      // Undefined unless tracing is on (gateway/telemetry); the span ends by itself when `res` closes.
      const span = requestSpan(req, res, segment.name);
      const socket = req.socket as TLSSocket;
      // The same head as the connection's previous allowed request, on a connection whose peer still holds:
      // its hygiene, path and authentication facts stand (repeat.ts).
      const prev = repeats?.lookup(socket, req);
      let target: NormalizedTarget;
      let peer: VerifiedPeer | undefined;
      let facts: RequestFacts;
      if (prev !== undefined && currentPeer(socket) === prev.derived.peer) {
        ({ target, facts } = prev);
        peer = prev.derived.peer;
        span?.record({ path: target.path });
        if (peer) span?.record({ peerSpiffeId: peer.facts.spiffeId });
      } else {
        try {
          checkRequestHead(req, limits);
          target = normalizePath(req.url);
        } catch (e) {
          const r = errorResponse(e);
          span?.deny("request", r.body);
          send(res, r.status, r.headers, r.body);
          return;
        }
        span?.record({ path: target.path });
        if (target.path === METADATA_PATH && (req.method === "GET" || req.method === "HEAD")) {
          // RFC 9728 §3: public by design, so clients can discover how to get a token before they have one.
          res.status(200).json({
            resource: origin,
            authorization_servers: issuers,
            bearer_methods_supported: ["header"],
            resource_name: segment.name,
            ...(segment.authenticators.dpop
              ? { dpop_signing_alg_values_supported: segment.authenticators.dpop.proof_algorithms }
              : {}),
          });
          return;
        }

        if (segment.tls.client_auth !== "none") {
          const p = peerFromSocket(socket);
          if (typeof p === "string") {
            // `require` refused non-SVIDs in the handshake; what is left expired or lost its anchor since.
            if (segment.tls.client_auth === "require") {
              log({ segment: segment.name, event: "peer_rejected", reason: p });
              span?.deny("peer", undefined, p);
              socket.destroy();
              return;
            }
          } else {
            peer = p;
            span?.record({ peerSpiffeId: p.facts.spiffeId });
          }
        }

        if (attestation && target.path === attestation.noncePath) {
          // Authenticated by the mTLS peer alone: an agent fetches a nonce before it can show anything else.
          const r = await attestation.nonce(req.method, peer);
          if (r.status !== 200) span?.deny("request", undefined, `attestation nonce: ${r.status}`);
          send(res, r.status, r.headers, r.body);
          return;
        }

        facts = {
          method: req.method,
          path: target.path,
          headers: req.headersDistinct,
          peer: peer?.facts,
        };
      }
      // A repeat request (cached token, mTLS) is answered without a promise per authenticator.
      const authn = combiner.authenticateSync(facts) ?? (await combiner.authenticate(facts));
      if (!authn.ok) {
        const c = challengeFor(authn.error, { realm, resourceMetadata });
        const headers: Record<string, string> = {
          "content-type": "application/json",
          "cache-control": "no-store",
        };
        if (c.wwwAuthenticate) {
          const offer = authn.error.challenge?.scheme === "DPoP" ? undefined : dpopOffer;
          headers["www-authenticate"] = [c.wwwAuthenticate, offer, extraChallenge]
            .filter((v) => v !== undefined)
            .join(", ");
        }
        if (c.status === 503) headers["retry-after"] = "5";
        // RFC 6750 §3.1: no error code when the request carried no credentials; the body only says why.
        const body = c.body ?? { error: "unauthorized", error_description: "authentication required" };
        log({
          segment: segment.name,
          event: "authn_failed",
          code: authn.error.code,
          cause: String(authn.error.cause ?? ""),
        });
        span?.deny("authn", body, authn.error.code);
        send(res, c.status, headers, JSON.stringify(body));
        return;
      }

      // The previous request's derivations hold as long as its facts still authenticate to the same outcome.
      const again = prev !== undefined && prev.facts === facts && prev.authn === authn ? prev : undefined;
      const d = again?.derived ?? derivedFor(authn, peer);
      const caller = d.caller;
      span?.record({ authnMethods: authn.methods, callerType: caller.type });
      // After authentication, because a result counts only when bound to the identity this request proved.
      const attested = attestation ? await attestation.appraise(req.headersDistinct, peer, authn) : undefined;
      const upgrade = upgradeOf(req);
      const input =
        again !== undefined
          ? inputAgain(again.input)
          : buildInput({
              segment: segment.name,
              method: req.method,
              upgrade,
              host: req.headers.host,
              headers: policyHeaders(req.headersDistinct, policyHeaderOptions),
              target,
              remoteAddr: socket.remoteAddress ?? "",
              peer,
              authn,
              caller,
              localId: d.localId,
              ...(attested ? { attestation: attested } : {}),
            });
      // Where this request's derivations are kept for the connection's next one (repeat.ts); a repeat is
      // repeatable by construction.
      const keeper =
        repeats !== undefined && upgrade === undefined && (again !== undefined || isRepeatable(req))
          ? repeats
          : undefined;
      const keyMemo: DecisionKeyMemo | undefined = again?.keyMemo ?? (keeper ? {} : undefined);
      // The context lets a decision cache bound the entry by the credentials' expiry and index it by subject.
      const decidedFrom = o.onDecision ? process.hrtime.bigint() : 0n;
      const decided = enforce(
        pdp,
        input,
        attested
          ? { realm, resourceMetadata, context: decisionContext(authn, peer, attested) }
          : d.enforceOptions,
        keyMemo,
      );
      // An in-process policy or a cache hit answers synchronously: no microtask hop for those.
      const verdict = decided instanceof Promise ? await decided : decided;
      if (o.onDecision) {
        const decisionId = o.onDecision({
          input,
          allowed: verdict.kind === "allow",
          ...(verdict.kind === "deny" ? { status: verdict.status, reason: verdict.log } : {}),
          durationNs: Number(process.hrtime.bigint() - decidedFrom),
          requestedBy: requestedBy(socket.remoteAddress, socket.remotePort),
        });
        if (decisionId !== undefined) span?.record({ decisionId });
      }
      if (verdict.kind === "deny") {
        log({
          segment: segment.name,
          event: "deny",
          status: verdict.status,
          subject: authn.identity.subject,
          reason: verdict.log,
        });
        span?.deny("policy", verdict.body, verdict.log);
        send(res, verdict.status, verdict.headers, verdict.body);
        return;
      }

      let outbound: Record<string, string | string[]>;
      if (again !== undefined && again.policyHeaders === verdict.headers) {
        outbound = Object.assign({}, again.outbound);
      } else {
        try {
          // Filled into the fresh sanitized map in order, later wins (half the cost of spreading into a new one).
          outbound = Object.assign(
            // `req.headers`, not headersDistinct: single-valued fields must stay strings on the way out.
            stripBasicCredentials(
              segment,
              sanitizeRequestHeaders(req.headers, upgrade !== undefined ? keepWebSocket : plainRequest),
            ),
            forwardingFor(socket, req.headers.host, segment.port),
            verdict.headers,
            // Last, so neither the client nor a policy header can replace the verified identity.
            d.identityHeaders,
          );
        } catch (e) {
          const r = errorResponse(e);
          span?.deny("request", r.body);
          send(res, r.status, r.headers, r.body);
          return;
        }
        if (keeper !== undefined && keyMemo !== undefined) {
          keeper.remember(socket, req, {
            target,
            facts,
            authn,
            derived: d,
            input,
            keyMemo,
            policyHeaders: verdict.headers,
            // Kept as handed upstream: http-proxy copies a GET's headers and changes none of them; the
            // tracer adds its own `traceparent`, so with a span the kept map is a copy taken before that.
            outbound: span ? { ...outbound } : outbound,
          });
        }
      }
      span?.forward(outbound);
      // http-proxy copies `req.headers` to the upstream request: replacing it is what makes the stripping
      // stick. `req.url` is what it requests upstream: the normalised target, exactly what the policy decided on.
      req.headers = outbound as IncomingMessage["headers"];
      req.url = target.upstreamTarget;
      forward(req, res, next);
    } catch (e) {
      log({ segment: segment.name, event: "internal_error", error: String(e) });
      const r = errorResponse(e);
      if (!res.headersSent) send(res, r.status, r.headers, r.body);
      else res.destroy();
    }
  }

  const proxy = createProxyMiddleware<Request, Response>({
    target: segment.upstream,
    agent: new Agent({ keepAlive: true, maxSockets: 256 }),
    xfwd: false,
    changeOrigin: false,
    ejectPlugins: true,
    // Ejecting drops the stock plugins that register `on` and guard sockets: without them `on.error` never
    // runs, an upstream outage throws out of http-proxy, and a client leaving an SSE stream leaves the
    // upstream one open. (They are typed for node:http messages, which Express's extend.) The body limit
    // bounds chunked bodies as they stream (body_limit.ts).
    plugins: [
      ...([debugProxyErrorsPlugin, proxyEventsPlugin] as unknown as Plugin<Request, Response>[]),
      bodyLimitPlugin({
        maxBytes: limits.maxBodyBytes,
        log: (e) => log({ segment: segment.name, ...e }),
      }),
    ],
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
  /** The gate's allow path, its only caller: no other route leads to the proxy. */
  function forward(req: Request, res: Response, next: NextFunction): void {
    // An allowed WebSocket handshake (upgrade.ts) is handed to the proxy as a socket, not a request.
    if (proxyUpgrade(req, proxy)) return;
    void proxy(req, res, next);
  }
  // Express's default error page would show a stack trace to the caller.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    log({ segment: segment.name, event: "internal_error", error: String(err) });
    const r = errorResponse(err);
    if (!res.headersSent) send(res, r.status, r.headers, r.body);
    else res.destroy();
  });
  return app;
}
