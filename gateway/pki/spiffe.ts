// SPIFFE ID syntax (SPIFFE-ID standard): shared by the dev PKI and, later, the
// mTLS authenticator, so that what we issue and what we accept agree.

export interface SpiffeId {
  /** The ID exactly as given (already canonical: the syntax admits no alternative spellings). */
  id: string;
  trustDomain: string;
  /** `/a/b`, or "" for a trust-domain ID. */
  path: string;
  segments: string[];
}

const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Parses a SPIFFE ID; returns an error message instead when it is not one. */
export function parseSpiffeId(id: string): SpiffeId | string {
  if (Buffer.byteLength(id) > 2048) return "SPIFFE ID longer than 2048 bytes";
  if (!id.startsWith("spiffe://")) return 'SPIFFE ID must start with "spiffe://" (lower case)';
  const rest = id.slice("spiffe://".length);
  const slash = rest.indexOf("/");
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash);
  // Checking characters also rules out userinfo (@), ports (:), queries (?) and fragments (#).
  if (!TRUST_DOMAIN.test(trustDomain))
    return `invalid trust domain "${trustDomain}" (allowed: a-z 0-9 . - _)`;
  if (path === "") return { id, trustDomain, path, segments: [] };
  const segments = path.slice(1).split("/");
  for (const s of segments) {
    if (s === "") return "SPIFFE ID path has an empty segment or a trailing slash";
    if (s === "." || s === "..") return "SPIFFE ID path must not contain . or .. segments";
    if (!SEGMENT.test(s)) return `invalid SPIFFE ID path segment "${s}" (allowed: A-Z a-z 0-9 . - _)`;
  }
  return { id, trustDomain, path, segments };
}

/** Returns the trust domain name when it is valid, else an error message. */
export function checkTrustDomain(td: string): string | undefined {
  return TRUST_DOMAIN.test(td) ? undefined : `invalid trust domain "${td}" (allowed: a-z 0-9 . - _)`;
}
