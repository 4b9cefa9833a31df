// From a segment's `authenticators` config to the Authenticator instances its `authentication` expression
// combines, plus the facts about them the rest of the app needs: which token issuers to advertise
// (RFC 9728), which extra challenge to send, and which credentials must not travel to the upstream.
import { ApiKeyAuthenticator } from "../authn/api_key.js";
import { BasicAuthenticator } from "../authn/basic.js";
import { BearerAuthenticator } from "../authn/bearer.js";
import { DpopAuthenticator } from "../authn/dpop.js";
import { IntrospectionAuthenticator } from "../authn/introspection.js";
import { JwtAssertionAuthenticator } from "../authn/jwt_assertion.js";
import { MtlsAuthenticator } from "../authn/mtls.js";
import { PskAuthenticator } from "../authn/psk.js";
import { SessionAuthenticator } from "../authn/session.js";
import type { Authenticator } from "../authn/types.js";
import { quote } from "../authn/www_authenticate.js";
import type { Authenticators, JwtVerifierConfig, Segment } from "../config/index.js";
import type { OutboundHeaders } from "../http/headers.js";

/** The header `jwt_assertion` reads; the config has no key for it yet. */
export const JWT_ASSERTION_HEADER = "x-jwt-assertion";

type Kind = keyof Authenticators;

/** The JWT verifier settings `bearer`, `dpop` and `session` share (config JwtVerifierConfig). */
function jwtVerifierSettings<A extends string | string[]>(c: JwtVerifierConfig<A>): JwtVerifierConfig<A> {
  return {
    issuer: c.issuer,
    audience: c.audience,
    jwks_file: c.jwks_file,
    jwks_uri: c.jwks_uri,
    algorithms: c.algorithms,
    clock_skew_s: c.clock_skew_s,
  };
}

/** The access-token verifier settings `bearer` and `dpop` share (config accessToken()). */
function accessTokenSettings(c: NonNullable<Authenticators["bearer"]>) {
  return { ...jwtVerifierSettings(c), max_token_bytes: c.max_token_bytes };
}

const builders: {
  [K in Kind]-?: (
    cfg: NonNullable<Authenticators[K]>,
    all: Authenticators,
    segment: Segment,
  ) => Authenticator;
} = {
  bearer: (c, all) =>
    new BearerAuthenticator({
      ...accessTokenSettings(c),
      // An opaque token is introspection's to judge when it is configured; otherwise it is invalid here.
      opaque_tokens: all.introspection ? "skip" : "reject",
    }),
  dpop: (c, _all, segment) =>
    new DpopAuthenticator({
      ...accessTokenSettings(c),
      proof_algorithms: c.proof_algorithms,
      proof_max_age_s: c.proof_max_age_s,
      replay_cache_max_entries: c.replay_cache_max_entries,
      external_origins: c.external_origins ?? [listenOrigin(segment)],
    }),
  introspection: (c, all) =>
    new IntrospectionAuthenticator({
      endpoint: c.endpoint,
      client_id: c.client_id,
      client_secret_file: c.client_secret_file,
      timeout_ms: c.timeout_ms,
      // The authenticator bounds each entry by the token's own `exp` as well.
      cache_max_s: c.cache_ttl_s,
      ...(c.issuer !== undefined ? { issuer: c.issuer } : {}),
      // With bearer configured a JWT is verified locally; without it the AS is the only judge.
      jwt_tokens: all.bearer ? "skip" : "introspect",
    }),
  api_key: (c) => new ApiKeyAuthenticator({ header: c.header, keys_file: c.keys_file }),
  basic: (c) => new BasicAuthenticator({ users_file: c.users_file }),
  psk: (c) => new PskAuthenticator({ header: c.header, secrets_file: c.secrets_file }),
  jwt_assertion: (c) =>
    new JwtAssertionAuthenticator({
      header: JWT_ASSERTION_HEADER,
      audience: c.audience,
      issuers: c.issuers.map((i) => ({
        issuer: i.issuer,
        jwks_file: i.jwks_file,
        jwks_uri: i.jwks_uri,
        algorithms: c.algorithms,
      })),
      clock_skew_s: c.clock_skew_s,
    }),
  session: (c) =>
    new SessionAuthenticator({
      cookie: c.cookie,
      ...jwtVerifierSettings(c),
      max_cookie_bytes: c.max_cookie_bytes,
      allowed_origins: c.allowed_origins,
    }),
};

/**
 * Every authenticator the segment configures (and `mtls` unless client auth is off). Files are read now,
 * so a missing keys file or a bad hash fails start-up with the segment and key named, never a request.
 */
export function buildAuthenticators(segment: Segment): Authenticator[] {
  const out: Authenticator[] = [];
  if (segment.tls.client_auth !== "none") out.push(new MtlsAuthenticator());
  const all = segment.authenticators;
  for (const kind of Object.keys(builders) as Kind[]) {
    const cfg = all[kind];
    if (cfg === undefined) continue;
    try {
      const build = builders[kind] as (c: typeof cfg, a: Authenticators, s: Segment) => Authenticator;
      out.push(build(cfg, all, segment));
    } catch (e) {
      throw new Error(`segment ${segment.name}: authenticators.${kind}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  return out;
}

/** The issuers whose tokens this segment accepts, for `authorization_servers` in the RFC 9728 metadata. */
export function tokenIssuers(segment: Segment): string[] {
  const a = segment.authenticators;
  const list = [
    a.bearer?.issuer,
    a.dpop?.issuer,
    a.introspection?.issuer,
    ...(a.jwt_assertion?.issuers.map((i) => i.issuer) ?? []),
  ];
  return [...new Set(list.filter((i): i is string => i !== undefined))];
}

/**
 * RFC 7617 §2: a segment that takes Basic says so, or no client will ever send a password. Sent after the
 * Bearer challenge in the same header (RFC 9110 §11.6.1 allows a list of challenges).
 */
export function basicChallenge(segment: Segment): string | undefined {
  const b = segment.authenticators.basic;
  if (!b) return undefined;
  return `Basic realm=${quote(b.realm ?? segment.name)}, charset="UTF-8"`;
}

/**
 * The origin a client names in a DPoP proof's `htu` when `external_origins` is not configured: the listen
 * address, as the RFC 9728 metadata names it. An address no client can call (all interfaces, port 0) is a
 * start-up error rather than a segment on which every proof fails.
 */
export function listenOrigin(segment: Segment): string {
  if (segment.port === 0 || segment.host === "0.0.0.0" || segment.host === "::") {
    throw new Error(`external_origins is required when listening on ${segment.listen}`);
  }
  return `https://${segment.host.includes(":") ? `[${segment.host}]` : segment.host}:${segment.port}`;
}

/** RFC 9449 §7.1/§7.2: `DPoP algs="…"` next to the Bearer challenge, so a client learns it may use DPoP. */
export function dpopChallenge(segment: Segment): string | undefined {
  const d = segment.authenticators.dpop;
  if (!d) return undefined;
  return `DPoP realm=${quote(segment.name)}, algs=${quote(d.proof_algorithms.join(" "))}`;
}

/**
 * Headers carrying credentials that only the gateway may see — API keys, pre-shared secrets, JWT
 * assertions — to strip before proxying: forwarding them would hand the upstream a secret it could replay
 * here. Bearer access tokens do travel on: they are meant for the resource and carry its audience.
 */
export function gatewayCredentialHeaders(segment: Segment): string[] {
  const a = segment.authenticators;
  const names = [
    a.api_key?.header,
    a.psk?.header,
    a.jwt_assertion ? JWT_ASSERTION_HEADER : undefined,
    // A spent DPoP proof is of no use upstream, and another replica has not seen its jti.
    a.dpop ? "dpop" : undefined,
  ];
  return names.filter((n): n is string => n !== undefined);
}

/** `Authorization: Basic …` carries a password (by value, not by name, so not in the strip list). */
export function stripBasicCredentials(segment: Segment, headers: OutboundHeaders): OutboundHeaders {
  if (segment.authenticators.basic) {
    const auth = headers.authorization;
    const values = auth === undefined ? [] : Array.isArray(auth) ? auth : [auth];
    if (values.some((v) => /^\s*basic(\s|$)/i.test(v))) delete headers.authorization;
  }
  return headers;
}
