// RFC 7523-style JWT assertions in a dedicated header (never `Authorization: Bearer`, which carries
// access tokens): a workload signs a short-lived JWT about itself with a key its issuer publishes.
import { singleHeader } from "./headers.js";
import { JwksSource } from "./jwks.js";
import {
  checkAlgorithms,
  DEFAULT_ALGORITHMS,
  normaliseTyp,
  parseCompactJwt,
  verifyJwt,
} from "./jwt_common.js";
import { parseScopes } from "./token_common.js";
import {
  AuthnError,
  fail,
  NONE,
  ok,
  type Authenticator,
  type AuthnResult,
  type RequestFacts,
} from "./types.js";

export interface AssertionIssuer {
  issuer: string;
  jwks_file?: string;
  jwks_uri?: string;
  algorithms?: string[];
}

export interface JwtAssertionConfig {
  header?: string;
  /** The `aud` every assertion must carry: one of this gateway's identifiers. */
  audience: string | string[];
  issuers: AssertionIssuer[];
  clock_skew_s?: number;
  /** Longest accepted `exp - iat` (or `exp - now`): assertions are one-shot, not sessions. */
  max_lifetime_s?: number;
  max_token_bytes?: number;
  /** Bound of the replay cache; when full of live entries new assertions are refused (fail closed). */
  replay_cache_entries?: number;
  jwks_refetch_cooldown_s?: number;
  now?: () => number;
}

export class JwtAssertionAuthenticator implements Authenticator {
  readonly name: string;
  private readonly cfg: JwtAssertionConfig;
  private readonly header: string;
  private readonly issuers = new Map<string, { jwks: JwksSource; algorithms: string[] }>();
  /** `iss` + `jti` → `exp` in ms. */
  private readonly seen = new Map<string, number>();
  private readonly now: () => number;

  constructor(cfg: JwtAssertionConfig, name = "jwt_assertion") {
    if ([cfg.audience].flat().every((a) => !a)) throw new Error("jwt_assertion: audience is required");
    if (!cfg.issuers?.length) throw new Error("jwt_assertion: at least one issuer is required");
    this.name = name;
    this.cfg = cfg;
    this.header = (cfg.header ?? "x-jwt-assertion").toLowerCase();
    if (this.header === "authorization") throw new Error("jwt_assertion: header must not be authorization");
    this.now = cfg.now ?? Date.now;
    for (const i of cfg.issuers) {
      if (this.issuers.has(i.issuer)) throw new Error(`jwt_assertion: duplicate issuer ${i.issuer}`);
      this.issuers.set(i.issuer, {
        jwks: new JwksSource({
          jwks_file: i.jwks_file,
          jwks_uri: i.jwks_uri,
          refetch_cooldown_s: cfg.jwks_refetch_cooldown_s,
          now: this.now,
        }),
        algorithms: checkAlgorithms(i.algorithms ?? DEFAULT_ALGORITHMS),
      });
    }
  }

  async authenticate(facts: RequestFacts): Promise<AuthnResult> {
    try {
      const token = singleHeader(facts, this.header);
      if (token === undefined) return NONE;
      const jwt = parseCompactJwt(token.trim(), this.cfg.max_token_bytes ?? 8192);
      const { header, payload } = jwt;
      // An access token replayed as an assertion would let any resource server impersonate its client.
      if (normaliseTyp(header.typ) === "at+jwt")
        throw new AuthnError("invalid_token", "access token is not an assertion");
      const iss = payload.iss;
      const issuer = typeof iss === "string" ? this.issuers.get(iss) : undefined;
      if (!issuer || typeof iss !== "string")
        throw new AuthnError("invalid_token", "unknown assertion issuer");
      const nowMs = this.now();
      const skew = Math.min(this.cfg.clock_skew_s ?? 30, 300);
      const claims = await verifyJwt(jwt, issuer.jwks, {
        issuer: iss,
        audience: this.cfg.audience,
        algorithms: issuer.algorithms,
        clockSkewS: skew,
        requiredClaims: ["exp", "sub", "jti"],
        nowMs,
      });
      const exp = claims.exp!;
      const maxLife = this.cfg.max_lifetime_s ?? 300;
      const start = typeof claims.iat === "number" ? claims.iat : nowMs / 1000;
      if (exp - start > maxLife + skew) throw new AuthnError("invalid_token", "assertion lifetime too long");
      if (typeof claims.sub !== "string" || !claims.sub || typeof claims.jti !== "string" || !claims.jti) {
        throw new AuthnError("invalid_token", "invalid sub or jti claim");
      }
      this.remember(`${iss}\0${claims.jti}`, (exp + skew) * 1000, nowMs);
      return ok({
        method: this.name,
        subject: claims.sub,
        tokenType: "jwt",
        claims: Object.freeze({ ...claims }),
        scopes: parseScopes(claims.scope),
        clientId: typeof claims.client_id === "string" ? claims.client_id : undefined,
        act: claims.act,
        expiresAt: exp,
      });
    } catch (e) {
      return fail(e);
    }
  }

  private remember(key: string, untilMs: number, nowMs: number): void {
    const prev = this.seen.get(key);
    if (prev !== undefined && prev > nowMs) throw new AuthnError("invalid_token", "assertion replayed");
    const max = this.cfg.replay_cache_entries ?? 100_000;
    if (this.seen.size >= max) {
      for (const [k, until] of this.seen) if (until <= nowMs) this.seen.delete(k);
      // Forgetting a live jti would re-open the replay window, so refuse instead.
      if (this.seen.size >= max) throw new AuthnError("unavailable", "assertion replay cache full");
    }
    this.seen.set(key, untilMs);
  }
}
