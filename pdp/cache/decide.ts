// Deciding through the cache: look up, else evaluate and store. The cache can only ever return what the
// same policy revision returned for the same input (key.ts) within every bound (ttl.ts); when it cannot
// answer — an uncacheable input, a failed or slow L2 — the policy is evaluated, never skipped. Evaluation
// errors propagate to the caller (a deny there) and are never stored.
import { decisionKey, type InputPathList } from "./key.js";
import { decisionTtlMs } from "./ttl.js";
import type {
  CachedDecision,
  DecisionBounds,
  DecisionCache,
  DecisionKeyMemo,
  DeciderStats,
} from "./types.js";

export interface DeciderOptions {
  cache: DecisionCache;
  /** `cache.ttl_s`: the longest any decision is reused; 0 turns the cache off. */
  ttlS: number;
  /** Epoch ms; injectable for tests. */
  now?: () => number;
}

export interface DecisionRequest {
  revision: string;
  entrypoint: string;
  input: unknown;
  bounds: DecisionBounds;
  /**
   * The input paths the entrypoint can read (CompiledPolicy.inputPaths): the key holds only their values.
   * Undefined: the whole input is keyed.
   */
  inputPaths?: InputPathList;
  /** The caller's memo for a repeated request (DecisionKeyMemo): the key is derived once per revision. */
  keyMemo?: DecisionKeyMemo;
}

/** What the evaluation returns: the decision, or a promise of it (a remote PDP). */
export type Evaluate = () => unknown;

/**
 * A frozen copy: one object answers every hit for the entry's lifetime, and the PDP that returned the
 * original (which may share it with its data or the input) is never frozen by the cache.
 */
function frozenCopy(v: unknown): unknown {
  if (typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) return Object.freeze(v.map(frozenCopy));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    // defineProperty: a member named `__proto__` stays a member.
    Object.defineProperty(out, k, {
      value: frozenCopy((v as Record<string, unknown>)[k]),
      enumerable: true,
    });
  }
  return Object.freeze(out);
}

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof (v as { then?: unknown } | null | undefined)?.then === "function";
}

export class CachedDecider {
  readonly stats: DeciderStats = { hits: 0, misses: 0, bypassed: 0, stored: 0, errors: 0 };
  readonly cache: DecisionCache;
  private readonly ttlS: number;
  private readonly now: () => number;

  constructor(o: DeciderOptions) {
    this.cache = o.cache;
    this.ttlS = o.ttlS;
    this.now = o.now ?? Date.now;
  }

  /** The decision for the request: synchronous on an L1 hit and with a synchronous evaluate. */
  decide(req: DecisionRequest, evaluate: Evaluate): unknown {
    if (!(this.ttlS > 0)) return this.bypass(evaluate);
    const key = this.keyOf(req);
    if (key === undefined) return this.bypass(evaluate);
    const nowMs = this.now();
    // Credentials already past their expiry get no cached answer, whatever entry their input would find:
    // a projected key leaves out the claims the policy does not read (`exp` among them), so an entry
    // stored for a fresh token of the same subject would otherwise answer an expired one.
    const exp = req.bounds.expiresAt;
    if (exp !== undefined && !(exp * 1000 > nowMs)) return this.bypass(evaluate);
    let found: CachedDecision | undefined | Promise<CachedDecision | undefined>;
    try {
      found = this.cache.get(key, nowMs);
    } catch {
      this.stats.errors++;
      return this.miss(key, req, evaluate, nowMs);
    }
    if (isPromise(found)) {
      return found.then(
        (hit) => this.answer(hit, key, req, evaluate, nowMs),
        () => {
          this.stats.errors++;
          return this.miss(key, req, evaluate, nowMs);
        },
      );
    }
    return this.answer(found, key, req, evaluate, nowMs);
  }

  private keyOf(req: DecisionRequest): string | undefined {
    const memo = req.keyMemo;
    if (memo?.key !== undefined && memo.revision === req.revision) return memo.key;
    const key = decisionKey({
      revision: req.revision,
      entrypoint: req.entrypoint,
      input: req.input,
      attestationIssuedAt: req.bounds.attestation?.issuedAt,
      inputPaths: req.inputPaths,
      subjects: req.bounds.subjects,
    });
    if (memo !== undefined && key !== undefined) {
      memo.key = key;
      memo.revision = req.revision;
    }
    return key;
  }

  private answer(
    hit: CachedDecision | undefined,
    key: string,
    req: DecisionRequest,
    evaluate: Evaluate,
    nowMs: number,
  ): unknown {
    // The cache already checks expiry; checking again here keeps a buggy or clock-skewed L2 from serving
    // an entry past its end.
    if (hit !== undefined && this.now() < hit.expiresAtMs) {
      this.stats.hits++;
      return hit.value;
    }
    return this.miss(key, req, evaluate, nowMs);
  }

  private bypass(evaluate: Evaluate): unknown {
    this.stats.bypassed++;
    return evaluate();
  }

  private miss(key: string, req: DecisionRequest, evaluate: Evaluate, nowMs: number): unknown {
    this.stats.misses++;
    const value = evaluate();
    if (isPromise(value)) return value.then((v) => this.store(key, req, v, nowMs));
    return this.store(key, req, value, nowMs);
  }

  /** Stores the decision when every bound allows it; returns it either way. */
  private store(key: string, req: DecisionRequest, value: unknown, nowMs: number): unknown {
    // TTL counted from the lookup, before evaluation: the entry never outlives a bound by the eval time.
    const ttlMs = decisionTtlMs({
      nowMs,
      configTtlS: this.ttlS,
      decision: value,
      expiresAt: req.bounds.expiresAt,
      attestationExpiresAt: req.bounds.attestation?.expiresAt,
    });
    if (ttlMs <= 0) return value;
    const entry: CachedDecision = { value: frozenCopy(value), expiresAtMs: nowMs + ttlMs };
    try {
      const r = this.cache.set(key, entry, req.bounds.subjects);
      if (isPromise(r)) r.catch(() => this.stats.errors++);
      this.stats.stored++;
    } catch {
      this.stats.errors++;
    }
    return entry.value;
  }
}
