// The shape of `portcullis serve --config FILE` after validation: defaults
// filled, file paths absolute. Key names follow the YAML exactly.

import type { AttestationConfig } from "../../attestation/config.js";
import type { DecisionLogConfig } from "../../pdp/decision_log/index.js";

export type ClientAuth = "require" | "optional" | "none";

/** `authentication`: a method name, or `any`/`all` of sub-expressions. */
export type AuthExpr = string | { any: AuthExpr[] } | { all: AuthExpr[] };

export interface Config {
  /** Absolute path of the config file. */
  file: string;
  /** In-process policies (`policies`) or a remote PDP's Data API (`url`): exactly one of them. */
  pdp: LocalPdpConfig | RemotePdpConfig;
  cache: {
    /** The L2: a redis(s):// URL, a Sentinel group, or Cluster seed nodes (`host:port`). */
    redis?: string | { sentinels: string[]; name: string } | { cluster: string[] };
    /** Prefix of every L2 key and of the invalidation channel (default `portcullis:`). */
    key_prefix?: string;
    /** Bound of each L2 call on the request path, ms (default 50); past it the call is a miss. */
    timeout_ms?: number;
    ttl_s: number;
    max_entries: number;
  };
  segments: Segment[];
  /** One event per policy decision (docs/decision-logs.md); absent = off, as in OPA. */
  decision_logs?: DecisionLogConfig;
}

export interface LocalPdpConfig {
  policies: string;
  entrypoint: string;
  url?: undefined;
}

/** `pdp.url`: decisions from `POST {url}/v1/data/{entrypoint}` (gateway/server/remote_pdp.ts). */
export interface RemotePdpConfig {
  url: string;
  entrypoint: string;
  policies?: undefined;
  /** One decision call, queueing included; past it the request is a 503. */
  timeout_ms: number;
  /** Calls in flight to the PDP at most (also its keep-alive sockets). */
  max_concurrency: number;
  /** Calls waiting for a slot at most; beyond it a call fails at once (503). */
  max_queue: number;
  auth: {
    /** A bearer token (JWT) for the PDP, re-read when the file changes. */
    bearer_token_file?: string;
    /** mTLS client certificate and key (PEM). */
    cert?: string;
    key?: string;
    /** CA bundle(s) the PDP's server certificate must chain to; default: the system roots. */
    ca?: string[];
  };
}

export interface Segment {
  name: string;
  /** As written (`host:port`); `host`/`port` are its parts (IPv6 without brackets). */
  listen: string;
  host: string;
  port: number;
  upstream: string;
  tls: SegmentTls;
  authentication: AuthExpr;
  authenticators: Authenticators;
  caller_types: CallerTypeRule[];
  limits: Limits;
  /**
   * This segment's own trust domain: workload IDs in it are local and become `input.authn.local_id` as
   * they are. Unset: the only entry of `tls.trust_domains`, if there is exactly one.
   */
  local_trust_domain?: string;
  /** Foreign workload IDs → local IDs (`input.authn.local_id`); first matching rule wins. */
  identity_translation?: TranslationRule[];
  /** Attestation results as policy input (docs/attestation.md); absent: `input.attestation` is `none`. */
  attestation?: SegmentAttestation;
}

/**
 * `attestation:` — the attestation module's own config (trusted verifiers, background check, nonces) plus
 * where this segment's requests carry results and evidence, and where agents fetch nonces.
 */
export interface SegmentAttestation extends AttestationConfig {
  /** Request header of a passport EAR (lower case); default `attestation-result`. */
  result_header: string;
  /** Request header of background-check evidence (lower case); default `attestation-evidence`. */
  evidence_header: string;
  /** Path of the nonce endpoint; default `/.well-known/portcullis/attestation-nonce`. */
  nonce_path: string;
  /**
   * Where nonces and verified results live: `redis` (the gateway's `cache.redis`, shared by every replica)
   * or `memory` (this process). Absent: `redis` when `cache.redis` is set (the loader fills it in), else
   * `memory`.
   */
  store?: "memory" | "redis";
  /** Filled in by the loader when `store` is `redis`: not a YAML key. */
  redis?: AttestationRedis;
}

/** The Redis an attestation store uses: `cache.redis`, under a key prefix of the segment's own. */
export interface AttestationRedis {
  endpoint: NonNullable<Config["cache"]["redis"]>;
  /** `<cache.key_prefix>att:<segment name>:` */
  key_prefix: string;
  /** `cache.timeout_ms` (default 50): bound of each Redis call. */
  timeout_ms: number;
}

/** `{ pattern, local_id }`: `*` captures one path segment, a final `**` one or more, as {1}, {2}, … */
export interface PatternTranslation {
  /** `spiffe://<trust-domain>/<path>` or `wimse://…`; the trust domain is literal (no wildcards). */
  pattern: string;
  /** Template: literal text and `{N}` for the N-th wildcard of `pattern`. */
  local_id: string;
  /** The pattern's trust domain. */
  trust_domain: string;
}

/** `{ map_file }`: exact workload ID → local ID, read and validated when the config is loaded. */
export interface MapTranslation {
  map_file: string;
  /** When set, every ID in the file must be in this trust domain. */
  trust_domain?: string;
  /** The file's entries (a null-prototype record). */
  ids: Record<string, string>;
}

export type TranslationRule = PatternTranslation | MapTranslation;

export interface SegmentTls {
  cert: string;
  key: string;
  /** Trust bundles (PEM files) for client certificates; a single YAML string becomes a one-element list. */
  client_ca: string[];
  client_auth: ClientAuth;
  /** Trust domains whose SVIDs are accepted; empty = any trust domain chained to a bundle. */
  trust_domains: string[];
  /**
   * SPIFFE trust bundles: trust domain → PEM files of its CA certificates. An SVID must chain to the
   * bundle of the trust domain in its own ID; `client_ca` then only anchors domains without an entry here.
   */
  trust_bundles?: Record<string, string[]>;
}

export interface Limits {
  max_header_bytes: number;
  max_body_bytes: number;
}

/** The settings of a local JWT verifier against an issuer's JWKS (`bearer`, `dpop`, `session`). */
export interface JwtVerifierConfig<Audience extends string | string[] = string[]> {
  issuer: string;
  audience: Audience;
  jwks_uri?: string;
  jwks_file?: string;
  algorithms: string[];
  clock_skew_s: number;
}

export interface BearerConfig extends JwtVerifierConfig {
  max_token_bytes: number;
}

/**
 * `authenticators.dpop`: RFC 9449 DPoP-bound RFC 9068 access tokens (gateway/authn/dpop.ts); the
 * access-token keys are those of `bearer` (`algorithms`: the access token's signature algorithms).
 */
export interface DpopConfig extends BearerConfig {
  /** Proof signature algorithms (asymmetric only), advertised as `algs` in DPoP challenges. */
  proof_algorithms: string[];
  /** A proof's `iat` may be at most this far from now, either way. */
  proof_max_age_s: number;
  /** Origins clients reach the segment at (the proof's `htu`); absent: the listen address. */
  external_origins?: string[];
  /** Proof `jti`s remembered for replay detection at most. */
  replay_cache_max_entries: number;
}

export interface IntrospectionConfig {
  endpoint: string;
  client_id: string;
  client_secret_file: string;
  timeout_ms: number;
  cache_ttl_s: number;
  /** If set, an answer's `iss` must equal it; also listed in the RFC 9728 metadata. */
  issuer?: string;
}

export interface ApiKeyConfig {
  header: string;
  keys_file: string;
}

export interface BasicConfig {
  users_file: string;
  realm?: string;
}

export interface PskConfig {
  header: string;
  secrets_file: string;
}

export interface AssertionIssuer {
  issuer: string;
  jwks_uri?: string;
  jwks_file?: string;
}

export interface JwtAssertionConfig {
  issuers: AssertionIssuer[];
  audience: string[];
  algorithms: string[];
  clock_skew_s: number;
}

export interface SessionConfig extends JwtVerifierConfig<string> {
  /** Cookie carrying the session JWT; default `__Host-portcullis-session`. */
  cookie: string;
  max_cookie_bytes: number;
  /** Origins besides the gateway's own allowed to send state-changing requests with the cookie (CSRF). */
  allowed_origins: string[];
}

export interface Authenticators {
  bearer?: BearerConfig;
  dpop?: DpopConfig;
  introspection?: IntrospectionConfig;
  api_key?: ApiKeyConfig;
  basic?: BasicConfig;
  psk?: PskConfig;
  jwt_assertion?: JwtAssertionConfig;
  session?: SessionConfig;
}

/** First matching rule wins; every condition given must hold. */
export interface CallerTypeRule {
  type: string;
  /** Glob on the SPIFFE ID path, `*` = one segment, a trailing `/**` = any depth. */
  spiffe_path?: string;
  trust_domain?: string;
  client_id?: string;
  /** Token claims that must equal the given values. */
  claims?: Record<string, string | number | boolean>;
  /** `true`: the `session` authenticator succeeded (a human in a browser); `false`: it did not. */
  browser_session?: boolean;
  /** `true`: a verified token carries an RFC 8693 `act` claim (someone acts for the subject). */
  delegated?: boolean;
}

/** One problem in a config file (lib/yaml_config.ts). */
export type { ConfigIssue } from "../../lib/yaml_config.js";
