/**
 * Header hygiene at the edge: what a client sends is never trusted to carry identity, routing or
 * connection management to the upstream. The gateway re-adds its own verified identity and forwarding
 * headers after these functions ran, so anything in those families that arrives from a client is forged.
 */
import { isIP } from "node:net";
import { invalidRequest } from "./errors.js";

export type InboundHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;
export type OutboundHeaders = Record<string, string | string[]>;

/** Exact names a client could use to impersonate a verified peer, a proxy hop or a different request. */
const FORGEABLE = new Set([
  "x-forwarded-client-cert", // Envoy XFCC
  "txn-token",
  "forwarded",
  "x-real-ip",
  "x-client-ip",
  "true-client-ip",
  "cf-connecting-ip",
  "x-cluster-client-ip",
  "client-cert", // RFC 9440
  "client-cert-chain", // RFC 9440
  "x-arr-clientcert", // Azure
  // Path and method overrides let a client rewrite, after the policy decided, what the upstream serves.
  "x-original-url",
  "x-rewrite-url",
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
]);

const FORGEABLE_PREFIXES = [
  "x-portcullis-",
  "x-forwarded-",
  "x-client-cert",
  "ssl-client",
  "x-ssl-",
  "x-amzn-mtls-",
  "x-envoy-",
];

/**
 * RFC 9110 §7.6.1 hop-by-hop fields, plus the legacy ones proxies still meet. `http2-settings` goes with
 * `upgrade`: an `h2c` upgrade forwarded to the upstream would tunnel requests past the policy.
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
  "proxy-authorization",
  "proxy-authenticate",
]);

/** A `Connection` option naming one of these would strip framing or routing from the upstream request. */
const NOT_NOMINATABLE = new Set(["host", "content-length", "content-type", "content-encoding"]);

/**
 * CGI/WSGI-style upstreams map `x_portcullis_subject` and `x-portcullis-subject` to the same variable, so
 * the forgery checks compare names with `_` read as `-`.
 */
function canonicalName(name: string): string {
  return name.toLowerCase().replace(UNDERSCORES, "-");
}

const UNDERSCORES = /_/g;

/**
 * Per-name answers that never change, remembered because the same few header names arrive on every
 * request. Names are client-chosen, so the memo stops growing at a bound and then just computes.
 */
function memo<T>(compute: (name: string) => T, max = 2048): (name: string) => T {
  const seen = new Map<string, T>();
  return (name) => {
    let v = seen.get(name);
    if (v === undefined && !seen.has(name)) {
      v = compute(name);
      if (seen.size < max) seen.set(name, v);
    }
    return v as T;
  };
}

const canonicalNameOf = memo(canonicalName);

const forgeableCanonical = memo(
  (n: string) => FORGEABLE.has(n) || FORGEABLE_PREFIXES.some((p) => n.startsWith(p)),
);

/**
 * The canonical names of a caller's extra list, computed once per list: the lists are per-segment
 * constants built at start-up (readonly, never changed after they are passed here).
 */
const canonicalLists = new WeakMap<readonly string[], ReadonlySet<string>>();
function canonicalSet(list: readonly string[]): ReadonlySet<string> {
  let set = canonicalLists.get(list);
  if (!set) canonicalLists.set(list, (set = new Set(list.map(canonicalName))));
  return set;
}

export function isForgeableHeader(name: string, extra: readonly string[] = []): boolean {
  const n = canonicalNameOf(name);
  return forgeableCanonical(n) || (extra.length > 0 && canonicalSet(extra).has(n));
}

function values(v: string | readonly string[] | undefined): string[] {
  return v === undefined ? [] : typeof v === "string" ? [v] : [...v];
}

function joined(v: string | readonly string[]): string {
  return typeof v === "string" ? v : v.length === 1 ? v[0] : v.join(", ");
}

const NO_TOKENS: readonly string[] = Object.freeze([]);

function tokens(v: string | readonly string[] | undefined): readonly string[] {
  // Absent on nearly every request: no arrays for it.
  if (v === undefined) return NO_TOKENS;
  if (typeof v === "string" && !v.includes(",")) {
    const t = v.trim().toLowerCase();
    return t === "" ? NO_TOKENS : [t];
  }
  return values(v)
    .flatMap((s) => s.split(","))
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== "");
}

const NONE_NOMINATED: ReadonlySet<string> = new Set();

export interface SanitizeOptions {
  /** Keep `Upgrade: websocket` (and `Connection: upgrade`); every other upgrade is dropped. */
  allowWebSocketUpgrade?: boolean;
  /** More header names to strip (e.g. a segment's own identity headers). */
  stripHeaders?: readonly string[];
}

/**
 * Returns a new lower-cased header map for the upstream request without forgeable identity headers and
 * without hop-by-hop headers. Throws a 400 when `Connection` nominates an end-to-end framing header.
 */
export function sanitizeRequestHeaders(
  headers: InboundHeaders,
  options: SanitizeOptions = {},
): OutboundHeaders {
  const lower = new Map<string, string | readonly string[]>();
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value !== undefined) lower.set(name.toLowerCase(), value);
  }
  const connection = tokens(lower.get("connection"));
  const nominated = connection.length === 0 ? NONE_NOMINATED : new Set(connection);
  for (const n of nominated) {
    if (NOT_NOMINATABLE.has(n)) throw invalidRequest("connection header nominates an end-to-end header");
  }
  const upgrade = tokens(lower.get("upgrade"));
  const keepWebSocket =
    options.allowWebSocketUpgrade === true &&
    upgrade.length === 1 &&
    upgrade[0] === "websocket" &&
    nominated.has("upgrade");
  // `TE: trailers` is the one TE value that is end-to-end meaningful (gRPC needs it upstream).
  const keepTeTrailers = tokens(lower.get("te")).includes("trailers");

  const out: OutboundHeaders = {};
  for (const [name, value] of lower) {
    if (HOP_BY_HOP.has(name) || nominated.has(name)) continue;
    if (isForgeableHeader(name, options.stripHeaders)) continue;
    out[name] = typeof value === "string" ? value : [...value];
  }
  if (keepTeTrailers) out["te"] = "trailers";
  if (keepWebSocket) {
    out["connection"] = "upgrade";
    out["upgrade"] = "websocket";
  }
  return out;
}

export interface HostParts {
  /** Lower-cased host as sent (IPv6 keeps its brackets). */
  hostname: string;
  port?: number;
}

/** RFC 9110 §7.2 / RFC 3986 authority without userinfo; IDNs must arrive as A-labels. */
export function parseHostHeader(host: string): HostParts {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::([0-9]{1,5}))?$/.exec(host);
  if (!m) throw invalidRequest("invalid host header");
  if (m[1].startsWith("[") && isIP(m[1].slice(1, -1)) !== 6) throw invalidRequest("invalid host header");
  const port = m[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && (port < 1 || port > 65535)) throw invalidRequest("invalid host header");
  return { hostname: m[1].toLowerCase(), ...(port === undefined ? {} : { port }) };
}

export interface ForwardingFacts {
  /** `socket.remoteAddress` of the TCP peer (the only client address the gateway can vouch for). */
  remoteAddress: string;
  /** `socket.localPort` of the listener the request arrived on. */
  localPort: number;
  /** True for TLS listeners. */
  encrypted: boolean;
  /** The request's `Host` header, already the single value (duplicates are rejected by the limits check). */
  host: string | undefined;
  /** Optional RFC 7239 `by=` identifier of this gateway (an obfuscated token such as `_portcullis`). */
  by?: string;
}

/** `::ffff:10.0.0.7` is how a dual-stack listener reports an IPv4 peer; upstreams expect `10.0.0.7`. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address;
}

/** RFC 7239 §6: IPv6 nodes are bracketed, and anything outside `token` must be a quoted-string. */
function forwardedNode(address: string): string {
  return isIP(address) === 6 ? `"[${address}]"` : address;
}

function forwardedValue(value: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? value : `"${value.replace(/(["\\])/g, "\\$1")}"`;
}

/**
 * The forwarding headers the gateway sets on the upstream request, describing only this hop: the
 * client's own `X-Forwarded-*`/`Forwarded` were stripped, because at a zero-trust edge nobody before us
 * is trusted to have written them.
 */
export function forwardedHeaders(facts: ForwardingFacts): Record<string, string> {
  const address = plainAddress(facts.remoteAddress);
  if (isIP(address) === 0) throw new TypeError("remoteAddress is not an IP address");
  const proto = facts.encrypted ? "https" : "http";
  const out: Record<string, string> = {
    "x-forwarded-for": address,
    "x-forwarded-proto": proto,
    "x-forwarded-port": String(facts.localPort),
  };
  const forwarded = [`for=${forwardedNode(address)}`];
  if (facts.by !== undefined) forwarded.push(`by=${forwardedValue(facts.by)}`);
  forwarded.push(`proto=${proto}`);
  if (facts.host !== undefined) {
    parseHostHeader(facts.host);
    out["x-forwarded-host"] = facts.host;
    forwarded.push(`host=${forwardedValue(facts.host)}`);
  }
  out["forwarded"] = forwarded.join(";");
  return out;
}

/** Credential-bearing headers: the policy may test that they are present, never read them. */
const SECRET_HEADERS = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "x-api-key",
  "api-key",
  "x-auth-token",
  "x-amz-security-token",
  "dpop",
  "txn-token",
  "x-csrf-token",
  "x-xsrf-token",
]);

/**
 * Attestation evidence and results are signed, replayable artefacts; the policy gets the appraised result
 * in `input.attestation`, so the raw headers are masked like credentials.
 */
const SECRET_PREFIXES = ["attestation-", "x-attestation-"];

export const MASKED = "[masked]";

export interface PolicyHeaderOptions {
  /** The segment's own secret headers (e.g. a configured PSK or API-key header name). */
  secretHeaders?: readonly string[];
}

/**
 * The header map for `input.request.headers`: lower-cased names, repeated fields joined with `, `, and the
 * values of credential headers replaced by `[masked]`. `Authorization` keeps its scheme (`Bearer [masked]`)
 * because "which scheme was used" is a legitimate policy question; the credential itself never is.
 */
export function policyHeaders(
  headers: InboundHeaders,
  options: PolicyHeaderOptions = {},
): Record<string, string> {
  const secrets = options.secretHeaders?.length ? canonicalSet(options.secretHeaders) : undefined;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const rawName of Object.keys(headers)) {
    const value = headers[rawName];
    if (value === undefined) continue;
    const name = rawName.toLowerCase();
    const text = joined(value);
    // `x_api_key` reaches a CGI-style upstream as the API key too, so it is masked like `x-api-key`.
    const canon = canonicalNameOf(name);
    const secret = secretCanonical(canon) || (secrets !== undefined && secrets.has(canon));
    if (!secret) {
      out[name] = text;
    } else if (name === "authorization" || name === "proxy-authorization") {
      const scheme = AUTH_SCHEME.exec(text);
      out[name] = scheme ? `${scheme[1]} ${MASKED}` : MASKED;
    } else {
      out[name] = MASKED;
    }
  }
  return out;
}

const AUTH_SCHEME = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) /;

const secretCanonical = memo(
  (canon: string) => SECRET_HEADERS.has(canon) || SECRET_PREFIXES.some((p) => canon.startsWith(p)),
);
