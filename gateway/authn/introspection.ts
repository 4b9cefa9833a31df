// RFC 7662 introspection for opaque access tokens in `Authorization: Bearer`.
import { readFileSync } from "node:fs";
import { authorizationCredential } from "./headers.js";
import { isLoopbackHost } from "../../lib/loopback.js";
import { looksLikeJwt } from "./jwt_common.js";
import { parseStrictJson } from "./strict_json.js";
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

export interface IntrospectionConfig {
  endpoint: string;
  client_id: string;
  client_secret?: string;
  client_secret_file?: string;
  timeout_ms?: number;
  /** Upper bound for reusing an `active:true` answer: it is how late a revocation is noticed. */
  cache_max_s?: number;
  /** How long an `active:false` answer is reused, so a flood of one bad token does not hit the AS. */
  negative_cache_s?: number;
  cache_max_entries?: number;
  /** If set, a response `aud` must contain it (defence in depth; the AS should already say inactive). */
  audience?: string;
  /** If set, a response `iss` must equal it. */
  issuer?: string;
  /** JWT-shaped tokens are left to the bearer authenticator unless this is `introspect`. */
  jwt_tokens?: "skip" | "introspect";
  max_token_bytes?: number;
  now?: () => number;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

type Outcome = { active: true; identity: Identity } | { active: false };

export class IntrospectionAuthenticator implements Authenticator {
  readonly name: string;
  /** Calls made to the introspection endpoint, for tests and metrics. */
  calls = 0;
  private readonly cfg: IntrospectionConfig;
  private readonly authHeader: string;
  private readonly cache: TtlCache<Outcome>;
  private readonly inflight = new Map<string, Promise<Outcome>>();
  private readonly now: () => number;

  constructor(cfg: IntrospectionConfig, name = "introspection") {
    const u = new URL(cfg.endpoint);
    if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopbackHost(u.hostname))) {
      throw new Error("introspection endpoint must be https (plain http only on loopback)");
    }
    const secret =
      cfg.client_secret ??
      (cfg.client_secret_file ? readFileSync(cfg.client_secret_file, "utf8").trim() : "");
    if (!cfg.client_id || !secret)
      throw new Error("introspection: client_id and a client secret are required");
    this.name = name;
    this.cfg = cfg;
    this.now = cfg.now ?? Date.now;
    // RFC 6749 §2.3.1: form-urlencode each part before Basic encoding.
    const basic = `${formEncode(cfg.client_id)}:${formEncode(secret)}`;
    this.authHeader = `Basic ${Buffer.from(basic).toString("base64")}`;
    this.cache = new TtlCache(cfg.cache_max_entries ?? 10_000);
  }

  async authenticate(facts: RequestFacts): Promise<AuthnResult> {
    try {
      const token = authorizationCredential(facts, "Bearer");
      if (token === undefined) return NONE;
      if (looksLikeJwt(token) && (this.cfg.jwt_tokens ?? "skip") === "skip") return NONE;
      if (token.length > (this.cfg.max_token_bytes ?? 8192)) {
        throw new AuthnError("invalid_token", "token too large");
      }
      const outcome = await this.lookup(token);
      if (!outcome.active) throw new AuthnError("invalid_token", "token is not active");
      const nowS = this.now() / 1000;
      if (outcome.identity.expiresAt !== undefined && outcome.identity.expiresAt <= nowS) {
        throw new AuthnError("invalid_token", "token expired");
      }
      checkConfirmation(outcome.identity.cnf, facts);
      return ok(outcome.identity);
    } catch (e) {
      return fail(e);
    }
  }

  private lookup(token: string): Promise<Outcome> {
    const key = sha256(token);
    const cached = this.cache.get(key, this.now());
    if (cached) return Promise.resolve(cached);
    let p = this.inflight.get(key);
    if (!p) {
      p = this.introspect(token, key).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async introspect(token: string, key: string): Promise<Outcome> {
    this.calls++;
    let text: string;
    try {
      const res = await fetch(this.cfg.endpoint, {
        method: "POST",
        headers: {
          authorization: this.authHeader,
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
        redirect: "error",
        signal: AbortSignal.timeout(this.cfg.timeout_ms ?? 2000),
      });
      // Any non-200 (including 401 for our own credentials) is an outage from the caller's view.
      if (res.status !== 200) throw new Error(`introspection HTTP ${res.status}`);
      text = await res.text();
      if (text.length > MAX_RESPONSE_BYTES) throw new Error("introspection response too large");
    } catch (e) {
      throw new AuthnError("unavailable", "token introspection unavailable", { cause: e });
    }
    let body: Record<string, unknown>;
    try {
      const parsed = parseStrictJson(text);
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not an object");
      body = parsed as Record<string, unknown>;
    } catch (e) {
      throw new AuthnError("unavailable", "token introspection unavailable", { cause: e });
    }
    const nowMs = this.now();
    const outcome = this.interpret(body, nowMs);
    if (outcome.active) {
      const exp = outcome.identity.expiresAt;
      const until = nowMs + (this.cfg.cache_max_s ?? 60) * 1000;
      this.cache.set(key, outcome, exp !== undefined ? Math.min(exp * 1000, until) : until);
    } else {
      this.cache.set(key, outcome, nowMs + (this.cfg.negative_cache_s ?? 5) * 1000);
    }
    return outcome;
  }

  private interpret(body: Record<string, unknown>, nowMs: number): Outcome {
    if (body.active !== true) return { active: false };
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
    const exp = num(body.exp);
    const nbf = num(body.nbf);
    if (body.exp !== undefined && exp === undefined) return { active: false };
    if (nbf !== undefined && nbf > nowMs / 1000 + 30) return { active: false };
    // A malformed binding must not be read as "unbound".
    if (body.cnf !== undefined && (typeof body.cnf !== "object" || body.cnf === null))
      return { active: false };
    if (this.cfg.issuer !== undefined && body.iss !== this.cfg.issuer) return { active: false };
    if (this.cfg.audience !== undefined && body.aud !== undefined) {
      const aud = Array.isArray(body.aud) ? body.aud : [body.aud];
      if (!aud.includes(this.cfg.audience)) return { active: false };
    }
    const clientId = str(body.client_id);
    const subject = str(body.sub) ?? str(body.username) ?? clientId;
    if (subject === undefined) return { active: false };
    const identity: Identity = Object.freeze({
      method: this.name,
      subject,
      tokenType: "opaque" as const,
      claims: Object.freeze({ ...body }),
      scopes: parseScopes(body.scope) ?? [],
      clientId,
      act: body.act,
      cnf: body.cnf as Record<string, unknown> | undefined,
      expiresAt: exp,
    });
    return { active: true, identity };
  }
}

function formEncode(s: string): string {
  return new URLSearchParams({ x: s }).toString().slice(2);
}
