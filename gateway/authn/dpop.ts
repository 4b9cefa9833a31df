// RFC 9449 DPoP at the resource: `Authorization: DPoP <access token>` plus a `DPoP: <proof JWT>` signed by
// the key the token is bound to (`cnf.jkt`). The token itself is verified as an RFC 9068 access token by a
// BearerAuthenticator of this authenticator's own; the proof is checked here (§4.3, all twelve points but
// the optional server nonce) and its key thumbprint becomes `Identity.dpopJkt`, the one fact attestation
// binding and `input.token` may read as "this caller holds that key".
import { ASYMMETRIC_JWS_ALGORITHMS } from "../../lib/jws_algorithms.js";
import { calculateJwkThumbprint, compactVerify, EmbeddedJWK, errors, type JWK } from "jose";
import { normalizePath } from "../http/path.js";
import { BearerAuthenticator, type BearerConfig } from "./bearer.js";
import { authorizationCredential, singleHeader } from "./headers.js";
import { ReplayCache, ReplayCacheFull } from "./replay_cache.js";
import { parseStrictJson } from "./strict_json.js";
import { checkCertificateBinding, confirmationOf, safeEqualStrings, sha256 } from "./token_common.js";
import {
  AuthnError,
  fail,
  NONE,
  ok,
  type AuthnErrorCode,
  type Authenticator,
  type AuthnResult,
  type ChallengeHint,
  type Identity,
  type RequestFacts,
} from "./types.js";

export interface DpopConfig extends Omit<
  BearerConfig,
  "opaque_tokens" | "accept_jwt_typ" | "cache_max_entries"
> {
  /**
   * Origins (`https://host[:port]`) clients reach this resource at; a proof's `htu` must name one of them
   * plus the request path. Behind a load balancer these are its public names, not the listen address.
   */
  external_origins: string[];
  /** JWS algorithms accepted for proofs (asymmetric only); advertised as `algs` in challenges. */
  proof_algorithms?: string[];
  /** A proof's `iat` may be this far in the past or the future (default 60 s). */
  proof_max_age_s?: number;
  /** Proof `jti`s remembered at most; when all are still live, new proofs are refused (503). */
  replay_cache_max_entries?: number;
  max_proof_bytes?: number;
}

/** RFC 9449 §4.2: an asymmetric signature algorithm; `none` and MACs can never prove a key. */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = ASYMMETRIC_JWS_ALGORITHMS;
export const DEFAULT_PROOF_ALGORITHMS: readonly string[] = ["ES256", "ES384", "PS256", "RS256", "EdDSA"];
const DEFAULT_PROOF_MAX_AGE_S = 60;
const MAX_PROOF_AGE_S = 300;

/** RFC 7517/7518 private and symmetric key members: a proof key carrying any of them is refused. */
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const B64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

interface Proof {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

export class DpopAuthenticator implements Authenticator {
  readonly name: string;
  private readonly tokens: BearerAuthenticator;
  private readonly origins: ReadonlySet<string>;
  private readonly algorithms: string[];
  private readonly maxAgeS: number;
  private readonly maxProofBytes: number;
  private readonly replay: ReplayCache;
  private readonly now: () => number;
  /** Sent with every DPoP-scheme error (RFC 9449 §7.1 `algs`). */
  readonly challenge: ChallengeHint;

  constructor(cfg: DpopConfig, name = "dpop") {
    this.name = name;
    const algorithms = cfg.proof_algorithms ?? DEFAULT_PROOF_ALGORITHMS;
    const bad = algorithms.filter((a) => !ASYMMETRIC_ALGORITHMS.includes(a));
    if (bad.length > 0) throw new Error(`proof_algorithms not asymmetric: ${bad.join(", ")}`);
    if (algorithms.length === 0) throw new Error("proof_algorithms must not be empty");
    this.algorithms = [...algorithms];
    if (cfg.external_origins.length === 0) throw new Error("external_origins must not be empty");
    this.origins = new Set(cfg.external_origins.map(canonicalOrigin));
    const maxAge = cfg.proof_max_age_s ?? DEFAULT_PROOF_MAX_AGE_S;
    if (!(maxAge >= 1 && maxAge <= MAX_PROOF_AGE_S)) {
      throw new Error(`proof_max_age_s must be between 1 and ${MAX_PROOF_AGE_S}`);
    }
    this.maxAgeS = maxAge;
    this.maxProofBytes = cfg.max_proof_bytes ?? 8192;
    this.replay = new ReplayCache(cfg.replay_cache_max_entries ?? 100_000);
    this.now = cfg.now ?? Date.now;
    this.challenge = Object.freeze({
      scheme: "DPoP",
      params: Object.freeze({ algs: this.algorithms.join(" ") }),
    });
    const {
      external_origins: _origins,
      proof_algorithms: _algs,
      proof_max_age_s: _age,
      replay_cache_max_entries: _entries,
      max_proof_bytes: _bytes,
      ...token
    } = cfg;
    // The access-token rules are RFC 9068's, exactly as for `bearer`; `verify` never looks at `cnf`.
    this.tokens = new BearerAuthenticator({ ...token, opaque_tokens: "reject" }, name);
  }

  /** Replay-cache entries (tests). */
  get rememberedProofs(): number {
    return this.replay.size;
  }

  /** Only a request without a DPoP credential is answered at once; a proof always needs its signature. */
  authenticateSync(facts: RequestFacts): AuthnResult | undefined {
    try {
      return authorizationCredential(facts, "DPoP") === undefined ? NONE : undefined;
    } catch (e) {
      return fail(e);
    }
  }

  async authenticate(facts: RequestFacts): Promise<AuthnResult> {
    let token: string | undefined;
    try {
      token = authorizationCredential(facts, "DPoP");
    } catch (e) {
      // A malformed or repeated Authorization header is nobody's scheme in particular.
      return fail(e);
    }
    if (token === undefined) return NONE;
    try {
      return ok(await this.check(token, facts));
    } catch (e) {
      return fail(this.asDpopError(e));
    }
  }

  private async check(token: string, facts: RequestFacts): Promise<Identity> {
    const nowMs = this.now();
    const raw = this.proofHeader(facts);
    const proof = this.parse(raw);
    const { payload } = proof;
    this.checkClaims(payload, facts, nowMs);
    // §4.3 (12): the proof is for this token; cheap, so before any signature work.
    if (!safeEqualStrings(payload.ath as string, sha256(token))) {
      throw this.proofError("DPoP proof is for another access token (ath)");
    }
    const jkt = await this.verifySignature(raw, proof.header);
    const identity = await this.tokens.verify(token);
    const cnf = confirmationOf(identity.cnf);
    // §7.1: the DPoP scheme asserts a bound token; an unbound one proves nothing about the key.
    if (typeof cnf?.jkt !== "string") throw this.error("invalid_token", "access token is not DPoP-bound");
    if (!safeEqualStrings(cnf.jkt, jkt))
      throw this.error("invalid_token", "DPoP key does not match the token binding");
    // A token bound to a certificate as well must also come over that certificate's connection.
    checkCertificateBinding(cnf, facts);
    // Last, and with no await after it: two copies of one proof in flight cannot both get through.
    const key = sha256(`${jkt}.${payload.jti as string}`);
    const expiresAtMs = ((payload.iat as number) + this.maxAgeS) * 1000 + 1000;
    let fresh: boolean;
    try {
      fresh = this.replay.use(key, expiresAtMs, this.now());
    } catch (e) {
      if (e instanceof ReplayCacheFull)
        throw new AuthnError("unavailable", "DPoP replay cache full", { cause: e });
      throw e;
    }
    if (!fresh) throw this.proofError("DPoP proof replayed (jti already used)");
    return Object.freeze({ ...identity, method: this.name, dpopJkt: jkt });
  }

  /** §4.3 (1): exactly one `DPoP` header. */
  private proofHeader(facts: RequestFacts): string {
    let value: string | undefined;
    try {
      value = singleHeader(facts, "dpop");
    } catch (e) {
      throw this.proofError("more than one DPoP header", e);
    }
    if (value === undefined || value.trim() === "") throw this.proofError("DPoP proof missing");
    return value.trim();
  }

  /** §4.3 (2)-(5), (7): one well-formed JWT, typed, with an allowed algorithm and a public key only. */
  private parse(raw: string): Proof {
    if (raw.length > this.maxProofBytes) throw this.proofError("DPoP proof too large");
    const parts = raw.split(".");
    if (parts.length !== 3 || !parts.every((p) => B64URL_SEGMENT.test(p))) {
      throw this.proofError("DPoP proof is not a JWT");
    }
    const header = this.decode(parts[0]!, "header");
    const payload = this.decode(parts[1]!, "payload");
    if (normaliseTyp(header.typ) !== "dpop+jwt") throw this.proofError("DPoP proof typ is not dpop+jwt");
    if (typeof header.alg !== "string" || !this.algorithms.includes(header.alg)) {
      throw this.proofError("DPoP proof algorithm not allowed");
    }
    const jwk = header.jwk;
    if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) {
      throw this.proofError("DPoP proof has no jwk header");
    }
    const members = jwk as Record<string, unknown>;
    if (PRIVATE_JWK_MEMBERS.some((m) => Object.hasOwn(members, m))) {
      throw this.proofError("DPoP proof jwk contains private key material");
    }
    // Any string: it is only ever hashed into the replay key; bounded so the cache stays small.
    if (typeof payload.jti !== "string" || payload.jti === "" || payload.jti.length > 256)
      throw this.proofError("DPoP proof jti missing or invalid");
    if (typeof payload.htm !== "string") throw this.proofError("DPoP proof htm missing");
    if (typeof payload.htu !== "string") throw this.proofError("DPoP proof htu missing");
    if (typeof payload.iat !== "number" || !Number.isFinite(payload.iat))
      throw this.proofError("DPoP proof iat missing");
    if (typeof payload.ath !== "string") throw this.proofError("DPoP proof ath missing");
    return { header, payload };
  }

  private decode(segment: string, what: string): Record<string, unknown> {
    let value: unknown;
    try {
      value = parseStrictJson(Buffer.from(segment, "base64url").toString("utf8"));
    } catch (e) {
      throw this.proofError(`malformed DPoP proof ${what}`, e);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw this.proofError(`malformed DPoP proof ${what}`);
    }
    return value as Record<string, unknown>;
  }

  /** §4.3 (8), (9), (11): this method, this resource, now. */
  private checkClaims(payload: Record<string, unknown>, facts: RequestFacts, nowMs: number): void {
    if (payload.htm !== facts.method) throw this.proofError("DPoP proof is for another HTTP method (htm)");
    if (!this.htuMatches(payload.htu as string, facts.path)) {
      throw this.proofError("DPoP proof is for another URL (htu)");
    }
    const ageS = nowMs / 1000 - (payload.iat as number);
    if (ageS > this.maxAgeS) throw this.proofError("DPoP proof too old (iat)");
    if (ageS < -this.maxAgeS) throw this.proofError("DPoP proof issued in the future (iat)");
  }

  /**
   * RFC 9449 §4.3 asks for RFC 3986 syntax- and scheme-based normalisation: the URL parser lower-cases
   * scheme and host and drops a default port; the path goes through the gateway's own normalisation, the
   * one `facts.path` came from, so both sides name the resource the policy and the upstream see.
   */
  private htuMatches(htu: string, path: string): boolean {
    let url: URL;
    try {
      url = new URL(htu);
    } catch {
      return false;
    }
    if (url.username !== "" || url.password !== "") return false;
    if (!this.origins.has(url.origin)) return false;
    try {
      return normalizePath(url.pathname).path === path;
    } catch {
      return false;
    }
  }

  /** §4.3 (6) with jose: the signature verifies under the embedded public key; returns its thumbprint. */
  private async verifySignature(raw: string, header: Record<string, unknown>): Promise<string> {
    try {
      await compactVerify(raw, EmbeddedJWK, { algorithms: this.algorithms });
      return await calculateJwkThumbprint(header.jwk as JWK, "sha256");
    } catch (e) {
      const what =
        e instanceof errors.JWSSignatureVerificationFailed
          ? "DPoP proof signature invalid"
          : "DPoP proof key or signature unusable";
      throw this.proofError(what, e);
    }
  }

  private proofError(description: string, cause?: unknown): AuthnError {
    return this.error("invalid_dpop_proof", description, cause);
  }

  private error(code: AuthnErrorCode, description: string, cause?: unknown): AuthnError {
    return new AuthnError(code, description, { cause, challenge: this.challenge });
  }

  /** Token errors from the bearer verification keep their code and text but answer with the DPoP challenge. */
  private asDpopError(e: unknown): unknown {
    if (!(e instanceof AuthnError) || e.challenge !== undefined) return e;
    if (e.code === "unavailable") return e;
    return new AuthnError(e.code, e.description, { cause: e.cause ?? e, challenge: this.challenge });
  }
}

/** `application/dpop+jwt` and `DPoP+JWT` both mean `dpop+jwt` (RFC 7515 §4.1.9). */
function normaliseTyp(typ: unknown): string | undefined {
  if (typeof typ !== "string") return undefined;
  const t = typ.toLowerCase();
  return t.startsWith("application/") ? t.slice("application/".length) : t;
}

/** The origin as the URL parser spells it (lower case, no default port), or a start-up error. */
export function canonicalOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new Error(`external origin ${JSON.stringify(origin)} is not a URL`);
  }
  const bare = url.pathname === "/" && url.search === "" && url.hash === "" && url.username === "";
  if ((url.protocol !== "https:" && url.protocol !== "http:") || !bare || url.password !== "") {
    throw new Error(`external origin ${JSON.stringify(origin)} must be scheme://host[:port] only`);
  }
  return url.origin;
}
