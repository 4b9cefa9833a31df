// One call per request: appraise(request facts) → input.attestation. Passport model: the caller
// presents an EAR; background-check model: the caller presents evidence and we ask the verifier.
// Verified results are cached under the caller's workload identity and the hash of what was presented
// (so a passport re-sent on every request costs a hash and a lookup) until they stop being valid, in
// this process or in Redis for every replica (result_cache.ts); binding is checked on every request. A
// nonce is consumed the first time a result or evidence carrying it is verified, so a *different*
// result with the same nonce is a replay. Nothing here throws: every failure is `status: none` with a
// reason, and neither a verifier outage nor a store outage ever yields a better status.
import { bindResult, type CallerFacts } from "./binding.js";
import { EarError } from "./ear/errors.js";
import type { VerifiedEar } from "./ear/types.js";
import type { EarVerifier } from "./ear/verify.js";
import { attestationInput, noAttestation, type AttestationInput, type AttestationModel } from "./input.js";
import type { NonceStore } from "./nonce.js";
import {
  MemoryResultCache,
  presentedDigest,
  type ResultCacheKey,
  type VerifiedResultCache,
} from "./result_cache.js";
import { peekEvidenceNonce } from "./verifier/evidence.js";
import type { VerifierClient } from "./verifier_client.js";

export interface AttestationRequest {
  /** What the gateway verified about the caller on this request. */
  caller: CallerFacts;
  /** Passport model: the EAR JWT from the request header. */
  result?: string;
  /** Background-check model: the evidence from the request header. */
  evidence?: {
    value: string;
    /** The nonce the evidence carries, when the gateway learnt it apart from the evidence. */
    nonce?: string;
  };
}

export interface AttestationProvider {
  appraise(request: AttestationRequest): Promise<AttestationInput>;
}

export interface EarAttestationProviderOptions {
  /** Trusted verifiers whose signed results (passports) are accepted. */
  verifiers: EarVerifier[];
  /** Background check: the client for the verifier, and the EarVerifier holding its keys. */
  background?: { client: VerifierClient; verifier: EarVerifier };
  /**
   * Nonces the gateway issued. A result carrying one of ours consumes it (a second result with it is
   * a replay); evidence must carry one of ours. Without a store, freshness rests on `iat` and the
   * maximum age.
   */
  nonces?: NonceStore;
  /** Refuse passports without `eat_nonce` (default false: timestamp freshness suffices). */
  require_nonce?: boolean;
  /** Bound of the default in-process verified-result cache (default 10 000). */
  cache_max_entries?: number;
  /** Where verified results are cached (default: an in-process LRU of `cache_max_entries`). */
  results?: VerifiedResultCache;
  /**
   * Told when the nonce store or the result cache could not answer. The request goes on without the
   * cache (verified again), and a nonce that could not be checked is not accepted.
   */
  onStoreError?: (store: "nonces" | "results", error: unknown) => void;
  /** Clock in ms (tests). */
  now?: () => number;
}

/** The identity a nonce may have been issued to: the one the caller proved on this request. */
function nonceSubject(c: CallerFacts): string | undefined {
  return c.spiffeId ?? c.workloadId;
}

/**
 * The workload a cached result is filed under: the strongest identity this request proved. Without any,
 * nothing is cached (such a caller cannot be bound to a result anyway).
 */
function workloadOf(c: CallerFacts): string | undefined {
  if (c.spiffeId !== undefined) return c.spiffeId;
  if (c.workloadId !== undefined) return c.workloadId;
  if (c.certThumbprint !== undefined) return `x5t#S256:${c.certThumbprint}`;
  if (c.dpopJkt !== undefined) return `jkt:${c.dpopJkt}`;
  return undefined;
}

export class EarAttestationProvider implements AttestationProvider {
  private readonly o: EarAttestationProviderOptions;
  private readonly now: () => number;
  /** The result cache in use (the given one, or the in-process default). */
  readonly results: VerifiedResultCache;
  /** Names of the verifiers whose results each model accepts: a cached entry from any other is ignored. */
  private readonly passportVerifiers: Set<string>;
  private readonly backgroundVerifiers: Set<string>;

  constructor(o: EarAttestationProviderOptions) {
    if (o.verifiers.length === 0 && !o.background) {
      throw new Error("an attestation provider needs a trusted verifier or a background-check verifier");
    }
    this.o = o;
    this.now = o.now ?? Date.now;
    this.results =
      o.results ?? new MemoryResultCache({ max_entries: o.cache_max_entries ?? 10_000, now: this.now });
    this.passportVerifiers = new Set(o.verifiers.map((v) => v.name));
    this.backgroundVerifiers = new Set(o.background ? [o.background.verifier.name] : []);
  }

  /** The same provider over another result cache and/or store-error hook (the gateway's Redis). */
  withStores(o: Pick<EarAttestationProviderOptions, "results" | "onStoreError">): EarAttestationProvider {
    return new EarAttestationProvider({ ...this.o, ...o });
  }

  async appraise(req: AttestationRequest): Promise<AttestationInput> {
    try {
      if (req.result !== undefined) return await this.passport(req.result, req.caller);
      if (req.evidence !== undefined) return await this.backgroundCheck(req.evidence, req.caller);
      return noAttestation("no attestation result or evidence presented");
    } catch (e) {
      // Unreachable by design; kept so that a bug can only ever produce `none`.
      return noAttestation(`attestation failed: ${(e as Error).message}`);
    }
  }

  private storeError(store: "nonces" | "results", e: unknown): void {
    try {
      this.o.onStoreError?.(store, e);
    } catch {
      // A logging hook must not change the outcome.
    }
  }

  private cacheKey(
    caller: CallerFacts,
    model: AttestationModel,
    presented: string,
  ): ResultCacheKey | undefined {
    const workload = workloadOf(caller);
    return workload === undefined ? undefined : { workload, model, digest: presentedDigest(presented) };
  }

  /**
   * A cached result for this key, re-checked here whatever the cache did: still valid, and signed by a
   * verifier this provider trusts for the model. A cache that cannot answer is a miss.
   */
  private async cached(
    key: ResultCacheKey | undefined,
    verifiers: Set<string>,
  ): Promise<VerifiedEar | undefined> {
    if (key === undefined) return undefined;
    let hit: VerifiedEar | undefined;
    try {
      hit = await this.results.get(key);
    } catch (e) {
      this.storeError("results", e);
      return undefined;
    }
    if (hit === undefined || !(Math.floor(this.now() / 1000) < hit.validUntil)) return undefined;
    return verifiers.has(hit.verifier) ? hit : undefined;
  }

  private async remember(key: ResultCacheKey | undefined, ear: VerifiedEar): Promise<void> {
    if (key === undefined) return;
    try {
      await this.results.set(key, ear);
    } catch (e) {
      this.storeError("results", e);
    }
  }

  private result(ear: VerifiedEar, caller: CallerFacts, model: AttestationModel): AttestationInput {
    return attestationInput(ear, bindResult(ear.claims, caller), model, this.now());
  }

  private async passport(token: string, caller: CallerFacts): Promise<AttestationInput> {
    const model = "passport";
    if (this.o.verifiers.length === 0)
      return noAttestation("passport attestation results are not accepted", { model });
    const key = this.cacheKey(caller, model, token);
    const hit = await this.cached(key, this.passportVerifiers);
    if (hit) return this.result(hit, caller, model);

    let ear: VerifiedEar | undefined;
    let missed: { err: EarError; verifier: string } | undefined;
    for (const v of this.o.verifiers) {
      try {
        ear = await v.verify(token);
        break;
      } catch (e) {
        const err = e instanceof EarError ? e : new EarError("malformed", "attestation result is malformed");
        // Another trusted verifier may own the key (or this one's keys are unreachable right now);
        // any other failure means this verifier's key matched, and its verdict is final.
        if (err.code !== "unknown_key" && err.code !== "keys_unavailable") {
          return noAttestation(err.message, { model, verifier: v.name });
        }
        if (!missed || (missed.err.code === "unknown_key" && err.code === "keys_unavailable")) {
          missed = { err, verifier: v.name };
        }
      }
    }
    if (!ear) {
      return noAttestation(missed?.err.message ?? "attestation result not verified", {
        model,
        ...(missed?.err.code === "keys_unavailable" ? { verifier: missed.verifier } : {}),
      });
    }

    const fresh = await this.consumeNonces(ear.nonces, caller, this.o.require_nonce ?? false);
    if (fresh !== undefined) return noAttestation(fresh, { model, verifier: ear.verifier });
    await this.remember(key, ear);
    return this.result(ear, caller, model);
  }

  private async backgroundCheck(
    evidence: { value: string; nonce?: string },
    caller: CallerFacts,
  ): Promise<AttestationInput> {
    const model = "background-check";
    const bg = this.o.background;
    if (!bg) return noAttestation("attestation evidence is not accepted (no verifier configured)", { model });
    const key = this.cacheKey(caller, model, evidence.value);
    const hit = await this.cached(key, this.backgroundVerifiers);
    if (hit) return this.result(hit, caller, model);

    const nonce = evidence.nonce ?? peekEvidenceNonce(evidence.value);
    if (this.o.nonces) {
      if (nonce === undefined) return noAttestation("attestation evidence carries no nonce", { model });
      const fresh = await this.consumeNonces([nonce], caller, true);
      if (fresh !== undefined) return noAttestation(fresh, { model, verifier: bg.verifier.name });
    }
    const out = await bg.client.appraise(evidence.value, nonce !== undefined ? { nonce } : {});
    if (!out.ok) {
      return noAttestation(`verifier ${out.failure.kind}: ${out.failure.message}`, {
        model,
        verifier: bg.verifier.name,
      });
    }
    let ear: VerifiedEar;
    try {
      ear = await bg.verifier.verify(out.ear, { nonce: out.nonce });
    } catch (e) {
      const msg = e instanceof EarError ? e.message : "attestation result is malformed";
      return noAttestation(msg, { model, verifier: bg.verifier.name });
    }
    await this.remember(key, ear);
    return this.result(ear, caller, model);
  }

  /**
   * Undefined when fresh enough, else the reason it is not. A nonce we never issued (e.g. one the
   * verifier picked) proves nothing to us: unless `required`, freshness then rests on `iat` and the
   * maximum age. One we issued that is spent, expired or someone else's is always refused.
   */
  private async consumeNonces(
    nonces: string[],
    caller: CallerFacts,
    required: boolean,
  ): Promise<string | undefined> {
    if (nonces.length === 0) return required ? "attestation result carries no nonce" : undefined;
    if (!this.o.nonces) return undefined;
    const reasons: string[] = [];
    for (const n of nonces) {
      let r;
      try {
        r = await this.o.nonces.consume(n, nonceSubject(caller));
      } catch (e) {
        // Whether it is ours, and unspent, is unknown: fail closed, whatever `required` says.
        this.storeError("nonces", e);
        return "attestation nonce could not be checked (nonce store unavailable)";
      }
      if (r.ok) return undefined;
      reasons.push(r.reason);
    }
    if (!required && reasons.every((r) => r === "unknown")) return undefined;
    const reason = reasons.find((r) => r !== "unknown") ?? "unknown";
    if (reason === "replayed") return "attestation nonce was already used (replay)";
    if (reason === "wrong_subject") return "attestation nonce was issued to another caller";
    return `attestation nonce is ${reason === "unknown" ? "not one the gateway issued" : reason}`;
  }
}
