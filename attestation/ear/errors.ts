// Why an attestation result was not accepted. Every code ends as `status: none` with the message as
// the reason; none of them can ever yield a better status.

export type EarErrorCode =
  /** Not a compact JWS, too large, bad base64url/JSON, or a claim of the wrong shape. */
  | "malformed"
  /** JOSE `alg` not on the allow-list (never `none` or HMAC). */
  | "algorithm"
  /** No key of this verifier has the token's `kid`/type (another verifier may own it). */
  | "unknown_key"
  /** The signature does not verify with the verifier's key. */
  | "signature"
  /** `eat_profile` missing, unknown, or not configured. */
  | "profile"
  /** `ear_verifier_id` not on the allow-list. */
  | "verifier"
  /** `exp` passed. */
  | "expired"
  /** `iat` older than the configured maximum age. */
  | "too_old"
  /** `iat` in the future beyond the allowed clock skew. */
  | "not_yet_valid"
  /** `eat_nonce` missing or different from the nonce we issued. */
  | "nonce"
  /** The verifier's keys could not be loaded. */
  | "keys_unavailable";

export class EarError extends Error {
  override name = "EarError";
  constructor(
    readonly code: EarErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
