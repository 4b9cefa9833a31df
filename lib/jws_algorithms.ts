// The JWS algorithms a configuration may allow for signatures checked with public keys. One list for
// every loader and authenticator, so a new algorithm is allowed (or not) everywhere at once.

/** Asymmetric only: `none` and HMAC would let anyone who reads a public key, or no one, forge tokens. */
export const ASYMMETRIC_JWS_ALGORITHMS: readonly string[] = Object.freeze([
  "ES256",
  "ES384",
  "ES512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "EdDSA",
]);
