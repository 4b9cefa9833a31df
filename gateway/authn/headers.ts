import { AuthnError, type RequestFacts } from "./types.js";

/** The single value of a header, `undefined` when absent; a repeated credential header is a 400. */
export function singleHeader(facts: RequestFacts, name: string): string | undefined {
  const value = facts.headers[name.toLowerCase()];
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (value.length === 0) return undefined;
  if (value.length > 1) throw new AuthnError("invalid_request", `multiple ${name} headers`);
  return value[0];
}

const SCHEME = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:[ ]+(.*))?$/s;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The credential of `Authorization: <scheme> <token68>` when the scheme matches (case-insensitively),
 * `undefined` when the header is absent or uses another scheme — that scheme belongs to another
 * authenticator (Basic vs Bearer vs DPoP).
 */
export function authorizationCredential(facts: RequestFacts, scheme: string): string | undefined {
  const header = singleHeader(facts, "authorization");
  if (header === undefined) return undefined;
  const m = SCHEME.exec(header.trim());
  if (!m) {
    throw new AuthnError("invalid_request", "malformed Authorization header");
  }
  if (m[1].toLowerCase() !== scheme.toLowerCase()) return undefined;
  const credential = m[2]?.trim() ?? "";
  if (!TOKEN68.test(credential)) {
    throw new AuthnError("invalid_request", `malformed ${scheme} credential`);
  }
  return credential;
}
