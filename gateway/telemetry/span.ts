// The hook the segment app calls for every request. It has no runtime imports on purpose: with tracing
// off no span factory is installed, `requestSpan` returns undefined, and the request path loads and runs
// nothing from OpenTelemetry at all.
import type { IncomingMessage, ServerResponse } from "node:http";

/** Where the gateway refused the request, in the order of the gate. */
export type DenyStage = "request" | "peer" | "authn" | "policy";

/** Verified facts the gate learns as it goes; every member is optional and later calls add to earlier. */
export interface GateFacts {
  /** The normalised path (what the policy sees and the upstream receives); never the query. */
  path?: string;
  /** The peer's SPIFFE ID from a chain-verified X.509-SVID. */
  peerSpiffeId?: string;
  /** `input.authn.methods`. */
  authnMethods?: readonly string[];
  /** `input.caller.type`. */
  callerType?: string;
  /** The PDP's decision id, when the PDP reports one. */
  decisionId?: string;
}

/** The gateway's standard error body (`{error, error_description}`), as sent or as a JSON string. */
export type ErrorBody = string | { error?: string };

export interface RequestSpan {
  record(facts: GateFacts): void;
  /**
   * The request ends here. `body` is the error body the caller receives (its `error` becomes the error
   * code attribute); `reason` is for operators (policy reasons, authn error code), never a credential.
   */
  deny(stage: DenyStage, body?: ErrorBody, reason?: string): void;
  /**
   * The request goes upstream with `headers`: records the allow and replaces any client-sent
   * `traceparent`/`tracestate` in `headers` with this span's context.
   */
  forward(headers: Record<string, string | string[]>): void;
}

/** Starts the request's span; the span ends by itself when `res` closes. */
export type SpanFactory = (req: IncomingMessage, res: ServerResponse, segment: string) => RequestSpan;

let factory: SpanFactory | undefined;

/** The request's span, or undefined when tracing is off. Call once, at the start of the gate. */
export function requestSpan(
  req: IncomingMessage,
  res: ServerResponse,
  segment: string,
): RequestSpan | undefined {
  return factory?.(req, res, segment);
}

/** Installed by startTelemetry when tracing is on; undefined uninstalls. */
export function setSpanFactory(f: SpanFactory | undefined): void {
  factory = f;
}

export function spanFactoryInstalled(): boolean {
  return factory !== undefined;
}
