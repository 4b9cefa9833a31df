// One SERVER span per request, loaded only when tracing is on. The client's trace context is untrusted
// input: it may name the parent (so the caller's trace continues through the gateway), but nothing the
// client sends becomes an attribute, and the upstream receives the gateway's own span as its parent.
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  defaultTextMapGetter,
  defaultTextMapSetter,
  trace,
  type Span,
  type TextMapPropagator,
  type Tracer,
} from "@opentelemetry/api";
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from "@opentelemetry/semantic-conventions";
import type { DenyStage, ErrorBody, GateFacts, RequestSpan, SpanFactory } from "./span.js";

/** Portcullis's own attributes (the HTTP ones are the stable semantic conventions). */
export const ATTR = {
  segment: "portcullis.segment",
  decision: "portcullis.decision",
  denyStage: "portcullis.deny.stage",
  denyError: "portcullis.deny.error",
  denyReason: "portcullis.deny.reason",
  decisionId: "portcullis.decision_id",
  callerType: "portcullis.caller.type",
  authnMethods: "portcullis.authn.methods",
  peerSpiffeId: "portcullis.peer.spiffe_id",
} as const;

/** Semantic conventions: other methods are `_OTHER`, so a client cannot mint span names. */
const KNOWN_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);
/** Policy reasons and SPIFFE IDs are bounded elsewhere too; this keeps one span bounded regardless. */
const MAX_TEXT = 512;
const ERROR_CODE = /^[a-z_]{1,64}$/;

function text(s: string): string {
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
}

/** The `error` member of the standard error body; anything else is not an error code. */
function errorCode(body: ErrorBody): string | undefined {
  let error: unknown;
  try {
    error = typeof body === "string" ? (JSON.parse(body) as { error?: unknown }).error : body.error;
  } catch {
    return undefined;
  }
  return typeof error === "string" && ERROR_CODE.test(error) ? error : undefined;
}

class ServerSpan implements RequestSpan {
  private readonly span: Span;
  private readonly propagator: TextMapPropagator;
  private denied = false;
  /** An allowed WebSocket handshake: the proxy answers on the raw socket, so `res` never sends anything. */
  private upgraded = false;

  constructor(
    tracer: Tracer,
    propagator: TextMapPropagator,
    req: IncomingMessage,
    res: ServerResponse,
    segment: string,
  ) {
    this.propagator = propagator;
    const method = req.method ?? "";
    const known = KNOWN_METHODS.has(method);
    // The W3C propagator validates `traceparent` strictly and bounds `tracestate`; a malformed one is
    // ignored and the span starts a new trace.
    const parent = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    this.span = tracer.startSpan(
      known ? method : "HTTP",
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: known ? method : "_OTHER",
          ...(known ? {} : { [ATTR_HTTP_REQUEST_METHOD_ORIGINAL]: text(method) }),
          [ATTR_URL_SCHEME]: "https",
          ...(req.socket.localPort !== undefined ? { [ATTR_SERVER_PORT]: req.socket.localPort } : {}),
          ...(req.socket.remoteAddress !== undefined
            ? { [ATTR_CLIENT_ADDRESS]: req.socket.remoteAddress }
            : {}),
          [ATTR.segment]: segment,
        },
      },
      parent,
    );
    res.once("close", () => this.end(res));
  }

  record(f: GateFacts): void {
    const s = this.span;
    if (f.path !== undefined) s.setAttribute(ATTR_URL_PATH, text(f.path));
    if (f.peerSpiffeId !== undefined) s.setAttribute(ATTR.peerSpiffeId, text(f.peerSpiffeId));
    if (f.authnMethods !== undefined) s.setAttribute(ATTR.authnMethods, [...f.authnMethods]);
    if (f.callerType !== undefined) s.setAttribute(ATTR.callerType, text(f.callerType));
    if (f.decisionId !== undefined) s.setAttribute(ATTR.decisionId, text(f.decisionId));
  }

  deny(stage: DenyStage, body?: ErrorBody, reason?: string): void {
    this.denied = true;
    this.span.setAttribute(ATTR.decision, "deny");
    this.span.setAttribute(ATTR.denyStage, stage);
    const code = body === undefined ? undefined : errorCode(body);
    if (code !== undefined) this.span.setAttribute(ATTR.denyError, code);
    if (reason !== undefined && reason !== "") this.span.setAttribute(ATTR.denyReason, text(reason));
  }

  forward(headers: Record<string, string | string[]>): void {
    this.span.setAttribute(ATTR.decision, "allow");
    this.upgraded = headers["upgrade"] === "websocket";
    // The client's own values would otherwise survive wherever the propagator writes nothing
    // (an empty `tracestate`), and the upstream would see the client, not the gateway, as its parent.
    delete headers["traceparent"];
    delete headers["tracestate"];
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), headers, defaultTextMapSetter);
  }

  private end(res: ServerResponse): void {
    const s = this.span;
    if (res.headersSent) {
      s.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
      if (res.statusCode >= 500) {
        s.setAttribute(ATTR_ERROR_TYPE, String(res.statusCode));
        s.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    // A deny may close the connection without a response (a non-SVID peer), and an upgraded connection
    // ends when the WebSocket session does; anything else that ends before the response did (upstream
    // failure mid-stream, client gone) is an error of this request.
    if (!res.writableFinished && !this.denied && !this.upgraded) {
      if (!(res.headersSent && res.statusCode >= 500)) s.setAttribute(ATTR_ERROR_TYPE, "response_incomplete");
      s.setStatus({ code: SpanStatusCode.ERROR, message: "connection closed before the response ended" });
    }
    s.end();
  }
}

export function serverSpans(tracer: Tracer, propagator: TextMapPropagator): SpanFactory {
  return (req, res, segment) => new ServerSpan(tracer, propagator, req, res, segment);
}
