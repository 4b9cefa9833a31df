// The shape of `portcullis serve --config FILE` after validation: defaults
// filled, file paths absolute. Key names follow the YAML exactly.

export type ClientAuth = "require" | "optional" | "none";

/** `authentication`: a method name, or `any`/`all` of sub-expressions. */
export type AuthExpr = string | { any: AuthExpr[] } | { all: AuthExpr[] };

export interface Config {
  /** Absolute path of the config file. */
  file: string;
  pdp: { policies: string; entrypoint: string };
  cache: { redis?: string; ttl_s: number; max_entries: number };
  segments: Segment[];
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
}

export interface SegmentTls {
  cert: string;
  key: string;
  /** Trust bundles (PEM files) for client certificates; a single YAML string becomes a one-element list. */
  client_ca: string[];
  client_auth: ClientAuth;
  /** Trust domains whose SVIDs are accepted; empty = any trust domain chained to a bundle. */
  trust_domains: string[];
}

export interface Limits {
  max_header_bytes: number;
  max_body_bytes: number;
}

export interface BearerConfig {
  issuer: string;
  audience: string[];
  jwks_uri?: string;
  jwks_file?: string;
  algorithms: string[];
  clock_skew_s: number;
  max_token_bytes: number;
}

export interface IntrospectionConfig {
  endpoint: string;
  client_id: string;
  client_secret_file: string;
  timeout_ms: number;
  cache_ttl_s: number;
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

export interface Authenticators {
  bearer?: BearerConfig;
  introspection?: IntrospectionConfig;
  api_key?: ApiKeyConfig;
  basic?: BasicConfig;
  psk?: PskConfig;
  jwt_assertion?: JwtAssertionConfig;
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
  browser_session?: boolean;
}

/** One problem in a config file. `path` is like `segments[0].tls.client_auth` ("" for the whole file). */
export interface ConfigIssue {
  file: string;
  path: string;
  message: string;
  line?: number;
  col?: number;
}
