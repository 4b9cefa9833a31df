// The one contract every authenticator implements. The gateway builds RequestFacts once per request
// and hands them to the authenticators named by the segment's `authentication` expression (combine.ts).

/** What the TLS layer already verified about the peer; authenticators trust it as-is. */
export interface PeerFacts {
  /** The single `spiffe://` URI SAN of a chain-verified X.509-SVID. */
  spiffeId?: string;
  trustDomain?: string;
  /** base64url SHA-256 of the leaf certificate DER (RFC 8705 `x5t#S256`). */
  certThumbprint?: string;
}

export interface RequestFacts {
  method: string;
  path: string;
  /**
   * Lower-cased header names. Pass `req.headersDistinct` (arrays), not `req.headers`: Node silently drops
   * a second `Authorization` header in `req.headers`, and a duplicate credential must be a 400.
   */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  peer?: PeerFacts;
}

export interface Identity {
  /** Authenticator name (`bearer`, `mtls`, …), as recorded in `input.authn.methods`. */
  method: string;
  subject: string;
  tokenType?: "jwt" | "opaque";
  claims?: Record<string, unknown>;
  scopes?: string[];
  clientId?: string;
  /** RFC 8693 delegation claim, kept raw for the delegation-chain builder. */
  act?: unknown;
  cnf?: Record<string, unknown>;
  /**
   * RFC 7638 SHA-256 thumbprint of the key of a DPoP proof verified on this request (RFC 9449), equal to
   * the token's `cnf.jkt`. Set only by the DPoP authenticator: a bare `cnf.jkt` proves nothing.
   */
  dpopJkt?: string;
  /** Epoch seconds after which nothing derived from this identity (decision cache) may be reused. */
  expiresAt?: number;
}

/**
 * `missing` is not an RFC 6750 code: it asks for the bare challenge without `error`. `unavailable` is a
 * dependency outage (JWKS, introspection) that the gateway answers with 503 — fail closed, but not the
 * caller's fault.
 */
export type AuthnErrorCode =
  "missing" | "invalid_request" | "invalid_token" | "invalid_dpop_proof" | "unavailable";

const STATUS: Record<AuthnErrorCode, number> = {
  missing: 401,
  invalid_request: 400,
  invalid_token: 401,
  // RFC 9449 §7.1: a bad DPoP proof is a 401 with its own error code in the `DPoP` challenge.
  invalid_dpop_proof: 401,
  unavailable: 503,
};

/**
 * A challenge other than the default `Bearer` one: the DPoP authenticator answers with `DPoP` and the
 * `algs` it accepts (RFC 9449 §7.1), so the client learns which scheme and proof to retry with.
 */
export interface ChallengeHint {
  scheme: string;
  /** Auth-params after `error`/`error_description`, e.g. `{ algs: "ES256 PS256" }`. */
  params?: Readonly<Record<string, string>>;
}

export class AuthnError extends Error {
  readonly code: AuthnErrorCode;
  readonly status: number;
  /** Safe to show to the caller; internals go into `cause` for the logs only. */
  readonly description: string;
  readonly challenge?: ChallengeHint;

  constructor(
    code: AuthnErrorCode,
    description: string,
    options?: { cause?: unknown; challenge?: ChallengeHint },
  ) {
    super(`${code}: ${description}`, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = "AuthnError";
    this.code = code;
    this.status = STATUS[code];
    this.description = description;
    if (options?.challenge !== undefined) this.challenge = options.challenge;
  }
}

export type AuthnResult =
  { kind: "none" } | { kind: "ok"; identity: Identity } | { kind: "error"; error: AuthnError };

export interface Authenticator {
  readonly name: string;
  /** Never throws: every failure is a classified `error` result. */
  authenticate(facts: RequestFacts): Promise<AuthnResult>;
  /**
   * The same result as `authenticate` when it needs no I/O (a verified-token cache hit, the mTLS facts),
   * `undefined` when only the asynchronous path can answer. Lets the combiner skip its promises when every
   * authenticator answers at once, which is the common repeat request.
   */
  authenticateSync?(facts: RequestFacts): AuthnResult | undefined;
}

export const NONE: AuthnResult = Object.freeze({ kind: "none" });

export function ok(identity: Identity): AuthnResult {
  return { kind: "ok", identity };
}

export function fail(error: unknown): AuthnResult {
  if (error instanceof AuthnError) return { kind: "error", error };
  // An unexpected throw is a bug or an outage; either way nobody gets in.
  return { kind: "error", error: new AuthnError("unavailable", "authentication failed", { cause: error }) };
}
