/**
 * OAuth-style error responses for request-hygiene failures (malformed target, forged framing, oversized
 * head or body). They happen before authentication, so they carry no `WWW-Authenticate` challenge: RFC 6750
 * §3.1 only asks for one when the failure concerns the access token, and the authn layer owns that.
 */

/**
 * 400 is the RFC 6750 status for `invalid_request`; the size failures use the more precise HTTP statuses
 * (413, 414, 431) so clients and load balancers can tell "too big" from "malformed", but keep the OAuth
 * error code so every Portcullis error body has one shape.
 */
export type HygieneStatus = 400 | 413 | 414 | 431;

export class HygieneError extends Error {
  readonly status: HygieneStatus;
  readonly error = "invalid_request" as const;
  /** Shown to the caller: a fixed phrase chosen by the rule, never echoing attacker-controlled input. */
  readonly description: string;

  constructor(description: string, status: HygieneStatus = 400) {
    super(`invalid_request: ${description}`);
    this.name = "HygieneError";
    this.status = status;
    this.description = description;
  }
}

export function invalidRequest(description: string, status: HygieneStatus = 400): HygieneError {
  return new HygieneError(description, status);
}

export function isHygieneError(err: unknown): err is HygieneError {
  return err instanceof HygieneError;
}

export interface ErrorBody {
  error: string;
  error_description: string;
}

export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * RFC 6749 §5.2 restricts `error_description` to printable ASCII without `"` and `\`; anything else is
 * replaced so a description can never break a JSON consumer or a future `WWW-Authenticate` parameter.
 */
export function safeDescription(text: string): string {
  return text.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "?").slice(0, 200);
}

/**
 * Anything that is not a HygieneError is a bug in the gateway, not the caller's fault: it becomes a
 * generic 500 so a stack trace or internal message can never reach the client.
 */
export function errorResponse(err: unknown): ErrorResponse {
  const [status, body]: [number, ErrorBody] = isHygieneError(err)
    ? [err.status, { error: err.error, error_description: safeDescription(err.description) }]
    : [500, { error: "server_error", error_description: "internal error" }];
  return {
    status,
    headers: {
      "content-type": "application/json",
      // Error bodies are per-request and must never be cached by an intermediary (RFC 6749 §5.1 spirit).
      "cache-control": "no-store",
      // A hygiene failure leaves the connection in an unknown framing state; never reuse it.
      ...(isHygieneError(err) ? { connection: "close" } : {}),
    },
    body: JSON.stringify(body),
  };
}
