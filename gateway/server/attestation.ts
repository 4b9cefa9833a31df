// Attestation in a segment's request path (docs/attestation.md, "Gateway"): once per request, after
// authentication and before the policy input is built, the passport or evidence header is appraised by
// the attestation module against what this request proved about the caller, and the result becomes
// `input.attestation`. Also the segment's nonce endpoint, and what a contraindicated result does beyond
// this request: the workload's cached decisions are dropped, and until that result expires the workload
// cannot fall back to an older result or to presenting nothing. With `attestation.store: redis` (the
// default when `cache.redis` is set) nonces and verified results live in the gateway's Redis, so every
// replica accepts a nonce another one issued, exactly once, and the verifier is asked once per evidence
// for the whole fleet. Nothing here throws into the request path: every problem is `status: none` with a
// reason, and the policy decides.
import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";
import {
  createAttestationProvider,
  noAttestation,
  NonceStoreFull,
  type AttestationInput,
  type AttestationProvider,
  type CallerFacts,
  type NonceStore,
} from "../../attestation/index.js";
import { RedisNonceStore, type AttestationRedisClient } from "../../attestation/nonce_redis.js";
import {
  MemoryResultCache,
  RedisResultCache,
  TieredResultCache,
  type ResultCacheStats,
  type VerifiedResultCache,
} from "../../attestation/result_cache.js";
import { connectRedis, TieredDecisionCache, type DecisionCache } from "../../pdp/cache/index.js";
import type { CombinedResult } from "../authn/combine.js";
import type { Identity } from "../authn/types.js";
import type { SegmentAttestation } from "../config/index.js";
import type { VerifiedPeer } from "./tls.js";

export type AttestationLog = (event: Record<string, unknown>) => void;

type Headers = Readonly<Record<string, readonly string[] | string | undefined>>;
type Authenticated = Extract<CombinedResult, { ok: true }>;

/** Header names the gateway strips and masks on every segment, whatever a segment configures. */
export const DEFAULT_ATTESTATION_HEADERS = ["attestation-result", "attestation-evidence"] as const;

/** Nonces one caller may fetch per minute: enough for any agent, too few to fill the nonce store. */
export const NONCE_LIMIT_PER_MINUTE = 60;

export interface NonceAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface GatewayAttestationOptions {
  /** The decision cache behind the segment's PDP, if any: a contraindicated result drops its entries. */
  cache?: DecisionCache;
  log?: AttestationLog;
  /** Replaces the provider and nonce store the config would build (tests). */
  built?: { provider: AttestationProvider; nonces: NonceStore; close(): void };
  /**
   * The Redis client for `store: redis`. Default: the decision cache's own connection when it is the Redis
   * tiered cache `cache.redis` configures (same server, its lifecycle), else a connection of our own.
   */
  redis?: AttestationRedisClient;
  /** Clock in ms (tests). */
  now?: () => number;
}

const WORKLOAD_ID = /^(?:spiffe|wimse):\/\/[^/?#@:\s]+(?:\/[^?#\s]*)?$/;

/** The token identity of the request (as input.ts picks it for `input.token`). */
function tokenIdentity(authn: Authenticated): Identity | undefined {
  return Object.values(authn.identities).find((i) => i.tokenType !== undefined);
}

/**
 * What this request proved about the caller, for binding a result to it. The verified peer's SPIFFE ID
 * and certificate thumbprint come first; the token subject stands in as workload ID only when there is
 * no peer identity, so a bearer token borrowed by another workload cannot bind that workload's result
 * to a connection that proved a different identity. A DPoP key counts only from an authenticator that
 * verified the proof (`Identity.dpopJkt`, set by the `dpop` authenticator), never from a bare `cnf.jkt`.
 */
export function callerFacts(peer: VerifiedPeer | undefined, authn: Authenticated): CallerFacts {
  const f: CallerFacts = {};
  if (peer?.facts.spiffeId !== undefined) f.spiffeId = peer.facts.spiffeId;
  if (peer?.facts.certThumbprint !== undefined) f.certThumbprint = peer.facts.certThumbprint;
  if (f.spiffeId === undefined) {
    const sub = tokenIdentity(authn)?.subject;
    if (sub !== undefined && WORKLOAD_ID.test(sub)) f.workloadId = sub;
  }
  const dpop = Object.values(authn.identities).find((i) => i.dpopJkt !== undefined)?.dpopJkt;
  if (dpop !== undefined) f.dpopJkt = dpop;
  return f;
}

/** The keys a workload is remembered under: every identity this request proved. */
function workloadKeys(c: CallerFacts): string[] {
  const keys: string[] = [];
  if (c.spiffeId !== undefined) keys.push(c.spiffeId);
  if (c.workloadId !== undefined) keys.push(c.workloadId);
  if (c.certThumbprint !== undefined) keys.push(`x5t#S256:${c.certThumbprint}`);
  if (c.dpopJkt !== undefined) keys.push(`jkt:${c.dpopJkt}`);
  return keys;
}

/** A PDP wrapped by cachedPdp exposes its cache (the decision log's proxy passes it through). */
export function decisionCacheOf(pdp: object): DecisionCache | undefined {
  const cache = (pdp as { cache?: unknown }).cache;
  return typeof cache === "object" &&
    cache !== null &&
    typeof (cache as DecisionCache).deleteSubject === "function"
    ? (cache as DecisionCache)
    : undefined;
}

/** Store failures are logged at most this often per store (each request still counts and fails closed). */
const STORE_ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * A short hash of what decides whether a result verifies: replicas with the same trust config share
 * cached results; a changed one (a verifier dropped, a max age shortened) never reads the old ones.
 */
function trustFingerprint(config: SegmentAttestation): string {
  const trust = { verifiers: config.verifiers, background: config.background_check?.verifier ?? null };
  return createHash("sha256").update(JSON.stringify(trust)).digest("base64url").slice(0, 16);
}

interface Contraindication {
  /** `issued_at` of the contraindicated result: results issued at or before it no longer count. */
  watermark: number;
  /** Served to a workload that presents nothing newer, until the result's own expiry; cleared by a newer one. */
  result?: AttestationInput;
  stickyUntil: number;
}

export class GatewayAttestation {
  readonly config: SegmentAttestation;
  readonly noncePath: string;
  /** Stripped before proxying and masked in `input.request.headers`. */
  readonly headers: readonly string[];
  private readonly provider: AttestationProvider;
  private readonly nonces: NonceStore;
  private readonly closeProvider: () => void;
  private readonly cache: DecisionCache | undefined;
  private readonly log: AttestationLog;
  private readonly now: () => number;
  private readonly contraindicated: LRUCache<string, Contraindication>;
  /** Longest any result stays usable after its `iat` (max age plus skew, over the trusted verifiers). */
  private readonly maxValidityS: number;
  private readonly issued: LRUCache<string, { count: number; windowEnd: number }>;
  /** The verified-result cache, when this segment built its own provider. */
  private readonly results: VerifiedResultCache | undefined;
  /** A Redis connection this segment opened itself (closed by close()). */
  private readonly ownRedis: AttestationRedisClient | undefined;
  private readonly storeErrors = new Map<string, { at: number; suppressed: number }>();

  constructor(config: SegmentAttestation, o: GatewayAttestationOptions = {}) {
    this.config = config;
    this.noncePath = config.nonce_path;
    this.headers = [
      ...new Set([...DEFAULT_ATTESTATION_HEADERS, config.result_header, config.evidence_header]),
    ];
    this.cache = o.cache;
    this.log = o.log ?? (() => {});
    this.now = o.now ?? Date.now;
    // Throws at start-up on a bad key file, profile or verifier name: a segment never runs half-configured.
    let built: { provider: AttestationProvider; nonces: NonceStore; close(): void };
    if (o.built) built = o.built;
    else if (config.store === "redis" && config.redis !== undefined) {
      const r = config.redis;
      let client = o.redis;
      if (client === undefined && o.cache instanceof TieredDecisionCache) client = o.cache.l2.client;
      if (client === undefined) {
        // Never waits for Redis: one that is down at start-up is the same as one that goes down later.
        client = connectRedis({ endpoint: r.endpoint, timeoutMs: r.timeout_ms });
        client.on("error", () => {});
        this.ownRedis = client;
      }
      const nonces = new RedisNonceStore({
        client,
        key_prefix: `${r.key_prefix}n:`,
        ttl_s: config.nonce_ttl_s ?? 120,
        timeout_ms: r.timeout_ms,
      });
      const maxAge = Math.max(...config.verifiers.map((v) => v.max_age_s ?? 300));
      this.results = new TieredResultCache(
        new MemoryResultCache({ max_ttl_s: maxAge }),
        new RedisResultCache({
          client,
          key_prefix: `${r.key_prefix}r:${trustFingerprint(config)}:`,
          max_ttl_s: maxAge,
          timeout_ms: r.timeout_ms,
        }),
      );
      let b: ReturnType<typeof createAttestationProvider>;
      try {
        b = createAttestationProvider(config, { nonces });
      } catch (e) {
        this.ownRedis?.disconnect();
        throw e;
      }
      built = {
        provider: b.provider.withStores({
          results: this.results,
          onStoreError: (store, e) => this.storeError(store, e),
        }),
        nonces,
        close: b.close,
      };
    } else {
      const b = createAttestationProvider(config);
      this.results = b.provider.results;
      built = b;
    }
    this.provider = built.provider;
    this.nonces = built.nonces;
    this.closeProvider = () => built.close();
    this.maxValidityS = Math.max(
      ...config.verifiers.map((v) => (v.max_age_s ?? 300) + (v.clock_skew_s ?? 30)),
    );
    // Only results a trusted verifier signed create entries, so the bound is not an attacker's to fill.
    this.contraindicated = new LRUCache({ max: 10_000 });
    this.issued = new LRUCache({ max: 10_000 });
  }

  /** Closes the verifier client's idle connections and a Redis connection of this segment's own. */
  async close(): Promise<void> {
    this.closeProvider();
    if (this.ownRedis === undefined) return;
    try {
      await this.ownRedis.quit();
    } catch {
      this.ownRedis.disconnect();
    }
  }

  /** Counters of the verified-result cache and, with `store: redis`, of the nonce store. */
  stats(): { results?: ResultCacheStats; nonces?: ReturnType<RedisNonceStore["stats"]> } {
    return {
      ...(this.results ? { results: this.results.stats() } : {}),
      ...(this.nonces instanceof RedisNonceStore ? { nonces: this.nonces.stats() } : {}),
    };
  }

  /** A store failure: logged at most once per interval per store, with how many went unlogged. */
  private storeError(store: string, e: unknown): void {
    const nowMs = this.now();
    const last = this.storeErrors.get(store);
    if (last !== undefined && nowMs - last.at < STORE_ERROR_LOG_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    this.log({
      event: "attestation_store_error",
      store,
      error: e instanceof Error ? e.message : String(e),
      ...(last !== undefined && last.suppressed > 0 ? { suppressed: last.suppressed } : {}),
    });
    this.storeErrors.set(store, { at: nowMs, suppressed: 0 });
  }

  /** `input.attestation` for this request. Never throws. */
  async appraise(
    headers: Headers,
    peer: VerifiedPeer | undefined,
    authn: Authenticated,
  ): Promise<AttestationInput> {
    try {
      const caller = callerFacts(peer, authn);
      const presented = await this.presented(headers, caller);
      return this.afterContraindication(presented, caller);
    } catch (e) {
      // Unreachable by design (the provider never throws); a bug may only ever yield `none`.
      this.log({ event: "attestation_error", error: String(e) });
      return noAttestation("attestation failed");
    }
  }

  private async presented(headers: Headers, caller: CallerFacts): Promise<AttestationInput> {
    const result = singleHeader(headers, this.config.result_header);
    const evidence = singleHeader(headers, this.config.evidence_header);
    if (result === null || evidence === null) {
      const name = result === null ? this.config.result_header : this.config.evidence_header;
      return noAttestation(`more than one ${name} header`);
    }
    if (result !== undefined && evidence !== undefined) {
      return noAttestation("both an attestation result and evidence were presented; send one");
    }
    if (result === undefined && evidence === undefined) {
      return noAttestation("no attestation result or evidence presented");
    }
    const out = await this.provider.appraise({
      caller,
      ...(result !== undefined ? { result } : {}),
      ...(evidence !== undefined ? { evidence: { value: evidence } } : {}),
    });
    if (out.status === "none") {
      this.log({ event: "attestation_none", model: out.model, verifier: out.verifier, reason: out.reason });
    }
    return out;
  }

  /**
   * A contraindicated result outranks every older one for the same workload: it is remembered under every
   * identity the request proved, the workload's cached decisions are dropped, and until it expires a
   * request from that workload without a newer result is appraised as that contraindicated result.
   */
  private afterContraindication(out: AttestationInput, caller: CallerFacts): AttestationInput {
    const keys = workloadKeys(caller);
    if (keys.length === 0) return out;
    const nowS = Math.floor(this.now() / 1000);
    if (out.status === "contraindicated" && out.issued_at !== undefined) {
      this.remember(out, out.issued_at, keys, caller, nowS);
      return out;
    }
    let known: Contraindication | undefined;
    for (const k of keys) {
      const c = this.contraindicated.get(k);
      if (c !== undefined && (known === undefined || c.watermark > known.watermark)) known = c;
    }
    if (known === undefined) return out;
    if (out.issued_at !== undefined && out.issued_at > known.watermark) {
      // A newer appraisal supersedes it: presenting nothing is plain `none` again, older results still fail.
      for (const k of keys) {
        const c = this.contraindicated.get(k);
        if (c !== undefined && c.watermark <= out.issued_at) delete c.result;
      }
      return out;
    }
    if (known.result !== undefined && nowS < known.stickyUntil) {
      return {
        ...known.result,
        age_seconds: Math.max(0, nowS - (known.result.issued_at ?? nowS)),
        reason: "this workload's latest attestation result is contraindicated; no newer result presented",
      };
    }
    if (out.issued_at !== undefined) {
      return noAttestation("attestation result predates a contraindicated result for this workload", {
        ...(out.model !== undefined ? { model: out.model } : {}),
        ...(out.verifier !== undefined ? { verifier: out.verifier } : {}),
      });
    }
    return out;
  }

  private remember(
    out: AttestationInput,
    issuedAt: number,
    keys: string[],
    caller: CallerFacts,
    nowS: number,
  ): void {
    const stickyUntil = out.expires_at ?? issuedAt;
    // Kept while an older result could still be inside its own validity window.
    const keepS = Math.max(stickyUntil, issuedAt + this.maxValidityS) - nowS;
    for (const k of keys) {
      const prev = this.contraindicated.get(k);
      if (prev !== undefined && prev.watermark > issuedAt) continue;
      this.contraindicated.set(
        k,
        { watermark: issuedAt, result: out, stickyUntil },
        { ttl: Math.max(1, keepS) * 1000 },
      );
    }
    const subjects = [caller.spiffeId, caller.workloadId].filter((s): s is string => s !== undefined);
    if (out.bound_to?.method === "sub" && !subjects.includes(out.bound_to.identity)) {
      subjects.push(out.bound_to.identity);
    }
    const workload = subjects[0] ?? keys[0];
    // An L1 answers at once; a tiered cache (Redis L2, other replicas) answers with a promise, logged later.
    const counts: (number | Promise<number>)[] = [];
    for (const s of subjects) {
      try {
        const n = this.cache?.deleteSubject(s);
        if (n !== undefined) counts.push(n);
      } catch (e) {
        this.log({ event: "decision_cache_error", error: String(e) });
      }
    }
    if (counts.every((n): n is number => typeof n === "number")) {
      this.log({
        event: "attestation_contraindicated",
        workload,
        dropped: counts.reduce((a, b) => a + b, 0),
      });
      return;
    }
    Promise.all(counts).then(
      (ns) =>
        this.log({ event: "attestation_contraindicated", workload, dropped: ns.reduce((a, b) => a + b, 0) }),
      (e: unknown) => this.log({ event: "decision_cache_error", workload, error: String(e) }),
    );
  }

  /**
   * The nonce endpoint: a fresh single-use nonce bound to the caller's verified SPIFFE ID. mTLS is the
   * authentication (an agent fetches a nonce before it has anything else to show), and a caller gets a
   * bounded number per minute so one workload cannot exhaust the store for everybody.
   */
  async nonce(method: string, peer: VerifiedPeer | undefined): Promise<NonceAnswer> {
    const json = { "content-type": "application/json", "cache-control": "no-store" };
    if (method !== "GET" && method !== "POST") {
      return {
        status: 405,
        headers: { ...json, allow: "GET, POST" },
        body: JSON.stringify({ error: "method_not_allowed", error_description: "use GET or POST" }),
      };
    }
    const subject = peer?.facts.spiffeId;
    if (subject === undefined) {
      return {
        status: 403,
        headers: json,
        body: JSON.stringify({
          error: "access_denied",
          error_description: "an attestation nonce needs a client certificate (mTLS)",
        }),
      };
    }
    const nowMs = this.now();
    const window = this.issued.get(subject);
    if (window !== undefined && nowMs < window.windowEnd && window.count >= NONCE_LIMIT_PER_MINUTE) {
      this.log({ event: "nonce_rate_limited", subject });
      return {
        status: 429,
        headers: {
          ...json,
          "retry-after": String(Math.max(1, Math.ceil((window.windowEnd - nowMs) / 1000))),
        },
        body: JSON.stringify({
          error: "too_many_requests",
          error_description: "too many attestation nonces",
        }),
      };
    }
    if (window === undefined || nowMs >= window.windowEnd)
      this.issued.set(subject, { count: 1, windowEnd: nowMs + 60_000 });
    else window.count++;
    try {
      const n = await this.nonces.issue(subject);
      return {
        status: 200,
        headers: json,
        body: JSON.stringify({ nonce: n.nonce, expires_at: n.expires_at }),
      };
    } catch (e) {
      this.log({ event: "nonce_unavailable", error: String(e) });
      return {
        status: 503,
        headers: { ...json, "retry-after": e instanceof NonceStoreFull ? "5" : "1" },
        body: JSON.stringify({
          error: "temporarily_unavailable",
          error_description: "no attestation nonce can be issued right now",
        }),
      };
    }
  }
}

/** The header's single value; undefined when absent or empty, null when it was sent more than once. */
function singleHeader(headers: Headers, name: string): string | undefined | null {
  const v = headers[name];
  if (v === undefined) return undefined;
  if (typeof v === "string") return v.trim() === "" ? undefined : v.trim();
  if (v.length > 1) return null;
  const s = v[0]?.trim();
  return s === undefined || s === "" ? undefined : s;
}
