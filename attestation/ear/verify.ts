// Verifying an EAR JWT from a trusted verifier: structure and size, `alg` allow-list, signature
// against that verifier's keys, `eat_profile` (only configured profiles, each with its own claim
// names), `ear_verifier_id`, `iat`/`exp` with bounded skew and a maximum age, `eat_nonce` when we
// issued one, and every `submods` entry. Any failure throws an EarError; nothing here can turn a
// problem into a better status.
import { errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { EarError } from "./errors.js";
import { verifierKeySource, type VerifierKeyOptions } from "./keys.js";
import { claimNames, DEFAULT_PROFILES, resolveProfile, type ClaimNames } from "./profiles.js";
import { isTier, worse, worst, type Tier } from "./tiers.js";
import { decodeTrustVector, mergeWorst, vectorTier } from "./trust_vector.js";
import type { Appraisal, VerifiedEar, VerifierId } from "./types.js";
import { sameNonce } from "../nonce.js";

/** Asymmetric algorithms only; `none` and HMAC can never be configured. */
export const EAR_ALGORITHMS = ["ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA"];
export const DEFAULT_EAR_ALGORITHMS = ["ES256", "ES384", "PS256", "EdDSA"];

export const EAR_DEFAULTS = {
  max_age_s: 300,
  clock_skew_s: 30,
  max_token_bytes: 32 * 1024,
  max_submods: 32,
} as const;
/** Skew is a tolerance for clock drift, not a way to extend validity. */
const MAX_CLOCK_SKEW_S = 300;

export interface EarVerifierOptions extends VerifierKeyOptions {
  /** Reported as `input.attestation.verifier`. */
  name: string;
  /** JWS algorithms accepted (subset of EAR_ALGORITHMS). */
  algorithms?: string[];
  /** Accepted `eat_profile` values (URIs, or the aliases `draft` / `veraison`). */
  profiles?: string[];
  /** If set, `ear_verifier_id.developer` must be one of these. */
  developers?: string[];
  max_age_s?: number;
  clock_skew_s?: number;
  max_token_bytes?: number;
  max_submods?: number;
  /** Replaces the key source (tests). */
  getKey?: JWTVerifyGetKey;
  /** Clock in ms (tests). */
  now?: () => number;
}

export interface VerifyExpectations {
  /** The nonce we sent (background check): the top-level `eat_nonce` must carry it. */
  nonce?: string;
}

const B64URL = /^[A-Za-z0-9_-]+$/;
const ACCEPTED_TYP = new Set(["jwt", "eat+jwt", "eat-jwt"]);
const MAX_LABEL = 256;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export class EarVerifier {
  readonly name: string;
  private readonly getKey: JWTVerifyGetKey;
  private readonly algorithms: string[];
  private readonly profiles: Set<string>;
  private readonly developers: Set<string> | undefined;
  private readonly maxAge: number;
  private readonly skew: number;
  private readonly maxBytes: number;
  private readonly maxSubmods: number;
  private readonly now: () => number;

  constructor(o: EarVerifierOptions) {
    this.name = o.name;
    const algs = o.algorithms ?? DEFAULT_EAR_ALGORITHMS;
    const bad = algs.filter((a) => !EAR_ALGORITHMS.includes(a));
    if (bad.length > 0 || algs.length === 0) {
      throw new Error(`algorithms must be a non-empty subset of ${EAR_ALGORITHMS.join(", ")}`);
    }
    this.algorithms = [...algs];
    this.profiles = new Set();
    for (const p of o.profiles ?? DEFAULT_PROFILES) {
      const uri = resolveProfile(p);
      if (!uri) throw new Error(`unknown EAR profile "${p}"`);
      this.profiles.add(uri);
    }
    if (this.profiles.size === 0) throw new Error("profiles must not be empty");
    this.developers = o.developers ? new Set(o.developers) : undefined;
    this.maxAge = o.max_age_s ?? EAR_DEFAULTS.max_age_s;
    this.skew = o.clock_skew_s ?? EAR_DEFAULTS.clock_skew_s;
    if (this.skew < 0 || this.skew > MAX_CLOCK_SKEW_S) {
      throw new Error(`clock_skew_s must be from 0 to ${MAX_CLOCK_SKEW_S}`);
    }
    if (!(this.maxAge > 0)) throw new Error("max_age_s must be positive");
    this.maxBytes = o.max_token_bytes ?? EAR_DEFAULTS.max_token_bytes;
    this.maxSubmods = o.max_submods ?? EAR_DEFAULTS.max_submods;
    this.getKey = o.getKey ?? verifierKeySource(o);
    this.now = o.now ?? Date.now;
  }

  /** Verifies `token`; throws EarError on any problem. */
  async verify(token: string, expect: VerifyExpectations = {}): Promise<VerifiedEar> {
    this.checkStructure(token);
    const nowMs = this.now();
    let payload: Obj;
    try {
      const r = await jwtVerify(token, this.getKey, {
        algorithms: this.algorithms,
        clockTolerance: this.skew,
        currentDate: new Date(nowMs),
      });
      payload = r.payload as Obj;
    } catch (e) {
      throw mapJoseError(e);
    }
    const now = Math.floor(nowMs / 1000);

    const { iat, exp } = this.checkTimes(payload, now);
    const profile = payload.eat_profile;
    if (typeof profile !== "string") throw new EarError("profile", "eat_profile is missing");
    const names = claimNames(profile);
    if (!names || !this.profiles.has(profile)) {
      throw new EarError("profile", `eat_profile "${profile.slice(0, 100)}" is not accepted`);
    }
    const verifierId = this.checkVerifierId(payload[names.verifierId], names.verifierId);
    const nonces = readNonces(payload.eat_nonce, "eat_nonce");
    if (expect.nonce !== undefined && !nonces.some((n) => sameNonce(n, expect.nonce!))) {
      throw new EarError(
        "nonce",
        nonces.length === 0 ? "eat_nonce is missing" : "eat_nonce does not match the nonce we issued",
      );
    }
    const submods = this.readSubmods(payload.submods, names);

    const tiers: Tier[] = Object.values(submods).map((a) => a.status);
    const top = payload[names.status];
    if (top !== undefined) {
      if (!isTier(top)) throw new EarError("malformed", `${names.status} is not a trust tier`);
      tiers.push(top);
    }
    return {
      verifier: this.name,
      profile,
      verifierId,
      issuedAt: iat,
      ...(exp !== undefined ? { expiresAt: exp } : {}),
      validUntil: Math.min(exp ?? Infinity, iat + this.maxAge),
      nonces,
      status: worst(tiers),
      submods,
      trustVector: mergeWorst(Object.values(submods).map((a) => a.trust_vector)),
      claims: payload,
    };
  }

  private checkStructure(token: string): void {
    if (typeof token !== "string" || token.length > this.maxBytes) {
      throw new EarError("malformed", "attestation result too large");
    }
    const parts = token.split(".");
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) {
      throw new EarError("malformed", "attestation result is not a compact JWS");
    }
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8"));
    } catch {
      throw new EarError("malformed", "attestation result header is not JSON");
    }
    if (!isObj(header)) throw new EarError("malformed", "attestation result header is not an object");
    if (header.typ !== undefined) {
      const typ =
        typeof header.typ === "string" ? header.typ.toLowerCase().replace(/^application\//, "") : "";
      // Another token type signed by the same key (an access token, a DPoP proof) is not a result.
      if (!ACCEPTED_TYP.has(typ))
        throw new EarError("malformed", `unexpected JOSE typ "${String(header.typ)}"`);
    }
  }

  private checkTimes(p: Obj, now: number): { iat: number; exp?: number } {
    const iat = p.iat;
    if (typeof iat !== "number" || !Number.isInteger(iat)) {
      throw new EarError("malformed", "iat must be an integer (seconds)");
    }
    if (p.exp !== undefined && (typeof p.exp !== "number" || !Number.isInteger(p.exp))) {
      throw new EarError("malformed", "exp must be an integer (seconds)");
    }
    if (iat > now + this.skew) throw new EarError("not_yet_valid", "iat is in the future");
    const age = now - iat;
    if (age > this.maxAge + this.skew) {
      throw new EarError("too_old", `attestation result is ${age} s old, the maximum is ${this.maxAge} s`);
    }
    return { iat, exp: p.exp as number | undefined };
  }

  private checkVerifierId(raw: unknown, claim: string): VerifierId {
    if (!isObj(raw) || typeof raw.developer !== "string" || typeof raw.build !== "string") {
      throw new EarError("malformed", `${claim} must be an object with string developer and build`);
    }
    const id = { developer: raw.developer.slice(0, 512), build: raw.build.slice(0, 512) };
    if (this.developers && !this.developers.has(raw.developer)) {
      throw new EarError("verifier", `verifier developer "${id.developer}" is not trusted`);
    }
    return id;
  }

  private readSubmods(raw: unknown, names: ClaimNames): Record<string, Appraisal> {
    if (!isObj(raw)) throw new EarError("malformed", "submods must be an object");
    const labels = Object.keys(raw);
    if (labels.length === 0) throw new EarError("malformed", "submods is empty");
    if (labels.length > this.maxSubmods) throw new EarError("malformed", "too many submods");
    const out: Record<string, Appraisal> = {};
    for (const label of labels) {
      if (label.length === 0 || label.length > MAX_LABEL) {
        throw new EarError("malformed", "submod label is empty or too long");
      }
      const where = `submods[${JSON.stringify(label)}]`;
      const a = raw[label];
      if (!isObj(a)) throw new EarError("malformed", `${where} must be an object`);
      const status = a[names.status];
      if (!isTier(status)) throw new EarError("malformed", `${where}.${names.status} is not a trust tier`);
      const trust_vector = decodeTrustVector(a[names.trustVector], `${where}.${names.trustVector}`);
      const vt = vectorTier(trust_vector);
      const nonce = a.eat_nonce;
      if (nonce !== undefined && typeof nonce !== "string") {
        throw new EarError("malformed", `${where}.eat_nonce must be a string`);
      }
      Object.defineProperty(out, label, {
        value: {
          status: vt === undefined ? status : worse(status, vt),
          verifier_status: status,
          trust_vector,
          policy_ids: readPolicyIds(a[names.policyIds], names, `${where}.${names.policyIds}`),
          ...(nonce !== undefined ? { nonce } : {}),
        } satisfies Appraisal,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
}

function readPolicyIds(raw: unknown, names: ClaimNames, where: string): string[] {
  if (raw === undefined) return [];
  if (names.policyIdsIsArray) {
    if (
      !Array.isArray(raw) ||
      raw.length === 0 ||
      raw.length > 32 ||
      !raw.every((x) => typeof x === "string")
    ) {
      throw new EarError("malformed", `${where} must be a non-empty array of strings`);
    }
    return raw as string[];
  }
  if (typeof raw !== "string") throw new EarError("malformed", `${where} must be a string`);
  return [raw];
}

function readNonces(raw: unknown, where: string): string[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0 || list.length > 8 || !list.every((n) => typeof n === "string" && n.length <= 128)) {
    throw new EarError("malformed", `${where} must be a string or a short array of strings`);
  }
  return list as string[];
}

function mapJoseError(e: unknown): EarError {
  if (e instanceof EarError) return e;
  const cause = { cause: e };
  if (e instanceof errors.JWTExpired) return new EarError("expired", "attestation result has expired", cause);
  if (e instanceof errors.JOSEAlgNotAllowed) {
    return new EarError("algorithm", "attestation result signed with an algorithm not allowed", cause);
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return new EarError("signature", "attestation result signature does not verify", cause);
  }
  if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys) {
    return new EarError("unknown_key", "attestation result is not signed by a trusted verifier key", cause);
  }
  if (e instanceof errors.JWKSTimeout || e instanceof errors.JWKSInvalid || e instanceof TypeError) {
    return new EarError("keys_unavailable", "verifier keys unavailable", cause);
  }
  if (e instanceof errors.JOSEError && e.code === "ERR_JOSE_GENERIC" && /fetch|response/i.test(e.message)) {
    return new EarError("keys_unavailable", "verifier keys unavailable", cause);
  }
  return new EarError("malformed", "attestation result is malformed", cause);
}
