// Browser sessions ("human via browser"): a JWT in a cookie, signed by the configured IdP / session
// issuer and verified here against its JWKS. The gateway only verifies; login, refresh and logout belong
// to the IdP and the web front end.
//
// A cookie is sent by the browser on its own, so two things matter beyond the signature: which cookie
// counts (exactly one of our name, or the request is ambiguous → 400) and who made the browser send it
// (a state-changing cross-site request is refused, the CSRF defence a bearer header does not need).
import { jwksFromConfig, type JwksSource } from "./jwks.js";
import {
  checkAlgorithms,
  DEFAULT_ALGORITHMS,
  normaliseTyp,
  parseCompactJwt,
  verifyJwt,
} from "./jwt_common.js";
import { checkConfirmation, sha256, TtlCache } from "./token_common.js";
import { singleHeader } from "./headers.js";
import {
  AuthnError,
  fail,
  NONE,
  ok,
  type Authenticator,
  type AuthnResult,
  type Identity,
  type RequestFacts,
} from "./types.js";

export const DEFAULT_SESSION_COOKIE = "__Host-portcullis-session";
/** Browsers keep at most 4096 bytes per cookie (RFC 6265 §6.1), so more cannot be a browser's session. */
export const DEFAULT_MAX_COOKIE_BYTES = 4096;

export interface SessionConfig {
  /** Cookie name; `__Host-` makes browsers refuse it from sibling subdomains and over plain HTTP. */
  cookie?: string;
  issuer: string;
  /** The session's audience (usually the web app's client_id); `aud` must contain it. */
  audience: string;
  jwks_file?: string;
  jwks_uri?: string;
  jwks_max_age_s?: number;
  jwks_refetch_cooldown_s?: number;
  jwks_timeout_ms?: number;
  algorithms?: string[];
  clock_skew_s?: number;
  max_cookie_bytes?: number;
  /**
   * Origins (`https://app.example`) besides the gateway's own that may send state-changing requests
   * carrying the cookie. Same-origin requests always may.
   */
  allowed_origins?: string[];
  /** Upper bound for reusing a verification; the session's `exp` bounds it too. */
  cache_max_s?: number;
  cache_max_entries?: number;
  now?: () => number;
}

const MAX_SKEW_S = 300;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// RFC 6265 §4.1.1 cookie-octet: no whitespace, DQUOTE, comma, semicolon or backslash.
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;
/** Typed JWTs minted for another purpose must not become a session by being put in a cookie. */
const SESSION_TYPS = new Set([undefined, "jwt"]);

/**
 * The value of the one cookie called `name`; `undefined` when absent or empty (a logged-out browser may
 * still send `name=`). Several `Cookie` fields are joined first (HTTP/2 splits them, RFC 9113 §8.2.3).
 * Only our cookie is held to the grammar: other cookies belong to the upstream application.
 */
export function sessionCookie(facts: RequestFacts, name: string, maxBytes: number): string | undefined {
  const raw = facts.headers.cookie;
  if (raw === undefined) return undefined;
  const header = typeof raw === "string" ? raw : raw.join("; ");
  let found: string | undefined;
  let count = 0;
  for (const piece of header.split(";")) {
    const pair = piece.replace(/^[ \t]+|[ \t]+$/g, "");
    const eq = pair.indexOf("=");
    const pairName = (eq < 0 ? pair : pair.slice(0, eq)).replace(/[ \t]+$/, "");
    if (pairName !== name) continue;
    // Counted before any other check: a second copy is ambiguous however well-formed either one is.
    if (++count > 1) throw new AuthnError("invalid_request", "duplicate session cookie");
    if (eq < 0 || pair.slice(0, eq) !== name) {
      throw new AuthnError("invalid_request", "malformed session cookie");
    }
    found = pair.slice(eq + 1);
  }
  if (found === undefined) return undefined;
  if (found.length > maxBytes) throw new AuthnError("invalid_request", "session cookie too large");
  const value =
    found.length >= 2 && found.startsWith('"') && found.endsWith('"') ? found.slice(1, -1) : found;
  if (!COOKIE_VALUE.test(value)) throw new AuthnError("invalid_request", "malformed session cookie");
  return value === "" ? undefined : value;
}

/**
 * CSRF: a browser attaches the cookie to cross-site requests too. Fetch Metadata and `Origin` (which a
 * page cannot forge) say who made it send them; a state-changing request from an origin that is neither
 * the gateway's own (`https://` + Host) nor allowed is refused. A request with neither header did not
 * come from a current browser, so there is no confused deputy to protect.
 */
export function checkSameOrigin(facts: RequestFacts, allowedOrigins: readonly string[]): void {
  if (SAFE_METHODS.has(facts.method.toUpperCase())) return;
  const site = singleHeader(facts, "sec-fetch-site");
  const origin = singleHeader(facts, "origin");
  if (site === "same-origin" || site === "none") return;
  if (site === undefined && origin === undefined) return;
  if (origin !== undefined) {
    const host = singleHeader(facts, "host");
    if ((host !== undefined && origin === `https://${host}`) || allowedOrigins.includes(origin)) return;
  }
  throw new AuthnError("invalid_request", "cross-site request with a session cookie");
}

export class SessionAuthenticator implements Authenticator {
  readonly name: string;
  /** Signature verifications performed (cache misses), for tests and metrics. */
  verifications = 0;
  readonly jwks: JwksSource;
  private readonly cfg: SessionConfig;
  private readonly cookie: string;
  private readonly maxBytes: number;
  private readonly algorithms: string[];
  private readonly skew: number;
  private readonly cache: TtlCache<Identity>;
  private readonly now: () => number;

  constructor(cfg: SessionConfig, name = "session") {
    if (!cfg.issuer) throw new Error("session: issuer is required");
    if (!cfg.audience) throw new Error("session: audience is required");
    this.cookie = cfg.cookie ?? DEFAULT_SESSION_COOKIE;
    if (!COOKIE_NAME.test(this.cookie)) throw new Error(`session: invalid cookie name ${this.cookie}`);
    this.name = name;
    this.cfg = cfg;
    this.now = cfg.now ?? Date.now;
    this.maxBytes = cfg.max_cookie_bytes ?? DEFAULT_MAX_COOKIE_BYTES;
    this.algorithms = checkAlgorithms(cfg.algorithms ?? DEFAULT_ALGORITHMS);
    this.skew = Math.min(Math.max(cfg.clock_skew_s ?? 30, 0), MAX_SKEW_S);
    this.cache = new TtlCache(cfg.cache_max_entries ?? 10_000);
    this.jwks = jwksFromConfig(cfg, this.now);
  }

  async authenticate(facts: RequestFacts): Promise<AuthnResult> {
    try {
      const token = sessionCookie(facts, this.cookie, this.maxBytes);
      if (token === undefined) return NONE;
      checkSameOrigin(facts, this.cfg.allowed_origins ?? []);
      const identity = await this.verify(token);
      checkConfirmation(identity.cnf, facts);
      return ok(identity);
    } catch (e) {
      return fail(e);
    }
  }

  /** The identity of a valid session JWT; throws AuthnError otherwise. */
  async verify(token: string): Promise<Identity> {
    const nowMs = this.now();
    const key = sha256(token);
    const cached = this.cache.get(key, nowMs);
    if (cached) return cached;
    const jwt = parseCompactJwt(token, this.maxBytes);
    if (!SESSION_TYPS.has(normaliseTyp(jwt.header.typ))) {
      throw new AuthnError("invalid_token", "token is not a session token (typ)");
    }
    this.verifications++;
    const payload = await verifyJwt(jwt, this.jwks, {
      issuer: this.cfg.issuer,
      audience: this.cfg.audience,
      algorithms: this.algorithms,
      clockSkewS: this.skew,
      // `exp` bounds the session and the verification cache; a session without one never ends.
      requiredClaims: ["exp", "sub"],
      nowMs,
    });
    if (typeof payload.sub !== "string" || payload.sub === "") {
      throw new AuthnError("invalid_token", "session has no subject");
    }
    const exp = payload.exp!;
    const identity: Identity = Object.freeze({
      method: this.name,
      subject: payload.sub,
      claims: Object.freeze({ ...payload }),
      act: payload.act,
      cnf: payload.cnf as Record<string, unknown> | undefined,
      expiresAt: exp,
    });
    const maxMs = (this.cfg.cache_max_s ?? 60) * 1000;
    if (maxMs > 0) this.cache.set(key, identity, Math.min(exp * 1000, nowMs + maxMs));
    return identity;
  }
}
