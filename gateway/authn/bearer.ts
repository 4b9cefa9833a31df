// RFC 9068 JWT access tokens in `Authorization: Bearer`, verified locally against the AS's JWKS.
import { authorizationCredential } from "./headers.js";
import { jwksFromConfig, type JwksSource } from "./jwks.js";
import {
  checkAlgorithms,
  DEFAULT_ALGORITHMS,
  looksLikeJwt,
  normaliseTyp,
  parseCompactJwt,
  verifyJwt,
  type ParsedJwt,
  type VerifyOptions,
} from "./jwt_common.js";
import type { JWTPayload } from "jose";
import { checkConfirmation, parseScopes, sha256, TtlCache } from "./token_common.js";
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

export interface BearerConfig {
  issuer: string;
  /** This resource's identifiers; the token's `aud` must contain at least one of them. */
  audience: string | string[];
  jwks_file?: string;
  jwks_uri?: string;
  jwks_max_age_s?: number;
  jwks_refetch_cooldown_s?: number;
  jwks_timeout_ms?: number;
  algorithms?: string[];
  clock_skew_s?: number;
  /** Dev only: also accept `typ: JWT`. Never in production — it lets ID tokens pass as access tokens. */
  accept_jwt_typ?: boolean;
  max_token_bytes?: number;
  /** RFC 9068 §2.2 makes all of these mandatory; loosen only for an AS that cannot comply. */
  required_claims?: string[];
  /** Upper bound for reusing a verification; the token's `exp` bounds it too. */
  cache_max_s?: number;
  cache_max_entries?: number;
  /**
   * What to do with a non-JWT bearer token: `reject` (invalid_token) unless an introspection
   * authenticator handles opaque tokens, then `skip` (no credential of this kind).
   */
  opaque_tokens?: "reject" | "skip";
  now?: () => number;
}

const RFC9068_CLAIMS = ["iss", "exp", "aud", "sub", "client_id", "iat", "jti"];
const MAX_SKEW_S = 300;

export class BearerAuthenticator implements Authenticator {
  readonly name: string;
  /** Signature verifications performed (cache misses), for tests and metrics. */
  verifications = 0;
  cacheHits = 0;
  readonly jwks: JwksSource;
  private readonly cfg: BearerConfig;
  private readonly algorithms: string[];
  private readonly skew: number;
  private readonly cache: TtlCache<Identity>;
  private readonly now: () => number;
  private readonly requiredClaims: string[];
  private lastToken: string | undefined;
  private lastKey = "";

  constructor(cfg: BearerConfig, name = "bearer") {
    if (!cfg.issuer) throw new Error("bearer: issuer is required");
    if ([cfg.audience].flat().every((a) => !a)) throw new Error("bearer: audience is required");
    this.name = name;
    this.cfg = cfg;
    this.now = cfg.now ?? Date.now;
    this.algorithms = checkAlgorithms(cfg.algorithms ?? DEFAULT_ALGORITHMS);
    // `exp` stays mandatory whatever the config says: it bounds the verification cache.
    this.requiredClaims = [...new Set(["exp", ...(cfg.required_claims ?? RFC9068_CLAIMS)])];
    this.skew = Math.min(Math.max(cfg.clock_skew_s ?? 30, 0), MAX_SKEW_S);
    this.cache = new TtlCache(cfg.cache_max_entries ?? 10_000);
    this.jwks = jwksFromConfig(cfg, this.now);
  }

  async authenticate(facts: RequestFacts): Promise<AuthnResult> {
    try {
      const token = this.credential(facts);
      if (token === undefined) return NONE;
      const identity = await this.verify(token);
      checkConfirmation(identity.cnf, facts);
      return ok(identity);
    } catch (e) {
      return fail(e);
    }
  }

  /** A repeat of a verified token (or a request without one) needs no signature check and no await. */
  authenticateSync(facts: RequestFacts): AuthnResult | undefined {
    try {
      const token = authorizationCredential(facts, "Bearer");
      if (token === undefined) return NONE;
      // The previous request's token (already hashed) is looked up before its shape is checked: only a
      // verified JWT is ever cached, and the shape check only sorts out opaque tokens.
      const repeat = token === this.lastToken;
      if (!repeat && this.skipped(token)) return NONE;
      const identity = this.cached(this.keyOf(token), this.now());
      if (!identity) return repeat && this.skipped(token) ? NONE : undefined;
      checkConfirmation(identity.cnf, facts);
      return ok(identity);
    } catch (e) {
      return fail(e);
    }
  }

  /** The bearer token this authenticator handles, `undefined` when none (or an opaque one to skip). */
  private credential(facts: RequestFacts): string | undefined {
    const token = authorizationCredential(facts, "Bearer");
    if (token === undefined || this.skipped(token)) return undefined;
    return token;
  }

  /** An opaque token this authenticator leaves to another one (`opaque_tokens: skip`). */
  private skipped(token: string): boolean {
    return (
      this.cfg.opaque_tokens === "skip" &&
      !looksLikeJwt(token) &&
      token.length <= (this.cfg.max_token_bytes ?? 8192)
    );
  }

  /**
   * The cache key of a token. A fresh token is looked up twice in a row (the combiner's synchronous try,
   * then verify), so the last one is remembered rather than hashed again.
   */
  private keyOf(token: string): string {
    if (this.lastToken !== token) {
      this.lastKey = sha256(token);
      this.lastToken = token;
    }
    return this.lastKey;
  }

  private cached(key: string, nowMs: number): Identity | undefined {
    const identity = this.cache.get(key, nowMs);
    if (identity) this.cacheHits++;
    return identity;
  }

  /** The identity of a valid token; throws AuthnError otherwise. Exposed for DPoP/WIMSE wrappers. */
  async verify(token: string): Promise<Identity> {
    const nowMs = this.now();
    const key = this.keyOf(token);
    const cached = this.cached(key, nowMs);
    if (cached) return cached;
    const jwt = this.parse(token);
    this.verifications++;
    return this.remember(key, await verifyJwt(jwt, this.jwks, this.options(nowMs)), nowMs);
  }

  private parse(token: string): ParsedJwt {
    const jwt = parseCompactJwt(token, this.cfg.max_token_bytes ?? 8192);
    // typ first (RFC 9068 §4): an ID token signed by the same AS must never pass as an access token.
    const typ = normaliseTyp(jwt.header.typ);
    if (typ !== "at+jwt" && !(this.cfg.accept_jwt_typ && typ === "jwt")) {
      throw new AuthnError("invalid_token", "token is not a JWT access token (typ)");
    }
    return jwt;
  }

  private options(nowMs: number): VerifyOptions {
    return {
      issuer: this.cfg.issuer,
      audience: this.cfg.audience,
      algorithms: this.algorithms,
      clockSkewS: this.skew,
      requiredClaims: this.requiredClaims,
      nowMs,
    };
  }

  /** The identity of a verified payload, kept for reuse until the token's `exp` (or the cache bound). */
  private remember(key: string, payload: JWTPayload, nowMs: number): Identity {
    if (typeof payload.sub !== "string" || payload.sub === "") {
      throw new AuthnError("invalid_token", "token has no subject");
    }
    if (payload.client_id !== undefined && typeof payload.client_id !== "string") {
      throw new AuthnError("invalid_token", "invalid client_id claim");
    }
    if (payload.scope !== undefined && typeof payload.scope !== "string") {
      throw new AuthnError("invalid_token", "invalid scope claim");
    }
    const exp = payload.exp!;
    const identity: Identity = Object.freeze({
      method: this.name,
      subject: payload.sub,
      tokenType: "jwt" as const,
      claims: Object.freeze({ ...payload }),
      scopes: parseScopes(payload.scope) ?? [],
      clientId: payload.client_id as string | undefined,
      act: payload.act,
      cnf: payload.cnf as Record<string, unknown> | undefined,
      expiresAt: exp,
    });
    const maxMs = (this.cfg.cache_max_s ?? 60) * 1000;
    if (maxMs > 0) this.cache.set(key, identity, Math.min(exp * 1000, nowMs + maxMs));
    return identity;
  }
}
