// CachedDecider with the real L1 and an L2-shaped cache (promises) over the same L1: lookups, stores,
// bounds, and that a cache failure only ever costs an evaluation.
import { describe, expect, it } from "vitest";
import {
  CachedDecider,
  LruDecisionCache,
  type CachedDecision,
  type DecisionCache,
  type DecisionRequest,
} from "../../../pdp/cache/index.js";

// Real "now": deciders without an injected clock use Date.now.
const T0 = Math.floor(Date.now() / 1000) * 1000;

function clock() {
  let now = T0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function request(over: Partial<DecisionRequest> = {}, input: Record<string, unknown> = {}): DecisionRequest {
  return {
    revision: "rev-1",
    entrypoint: "portcullis/authz/decision",
    input: { segment: "s", authn: { subject: "alice" }, request: { path: "/a", time_ns: 1 }, ...input },
    bounds: { subjects: ["alice"], expiresAt: T0 / 1000 + 3600 },
    ...over,
  };
}

/** An evaluate that counts its calls and returns the next value. */
function evaluator(...values: unknown[]) {
  const e = {
    calls: 0,
    fn: () => {
      const v = values[Math.min(e.calls, values.length - 1)];
      e.calls++;
      if (v instanceof Error) throw v;
      return typeof v === "object" && v !== null ? structuredClone(v) : v;
    },
  };
  return e;
}

describe("CachedDecider", () => {
  it("answers the second identical request from the cache, whatever its request time", () => {
    const c = clock();
    const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 60, now: c.now });
    const ev = evaluator({ allow: true });
    expect(d.decide(request(), ev.fn)).toEqual({ allow: true });
    expect(d.decide(request({}, { request: { path: "/a", time_ns: 2 } }), ev.fn)).toEqual({ allow: true });
    expect(ev.calls).toBe(1);
    expect(d.stats).toMatchObject({ hits: 1, misses: 1, stored: 1 });
  });

  it("a key memo keeps the first request's key for its revision, and is derived again for a new one", () => {
    const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 60 });
    const keyMemo = {};
    const ev = evaluator({ allow: true }, { allow: false });
    expect(d.decide(request({ keyMemo }), ev.fn)).toEqual({ allow: true });
    expect(keyMemo).toMatchObject({ revision: "rev-1", key: expect.stringMatching(/^pd1:/) });
    // The caller promised the same values: the memo'd key answers even an input that differs (here on
    // purpose, to show the key was not derived again).
    const other = request({ keyMemo }, { request: { path: "/elsewhere", time_ns: 2 } });
    expect(d.decide(other, ev.fn)).toEqual({ allow: true });
    expect(ev.calls).toBe(1);
    expect(d.decide(request({}, { request: { path: "/elsewhere", time_ns: 2 } }), ev.fn)).toEqual({
      allow: false,
    });
    // A new revision: the key is derived from this request's input and the memo follows it.
    expect(d.decide(request({ keyMemo, revision: "rev-2" }), ev.fn)).toEqual({ allow: false });
    expect(keyMemo).toMatchObject({ revision: "rev-2" });
    expect(ev.calls).toBe(3);
  });

  it("returns a frozen decision that every hit shares", () => {
    const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 60 });
    const ev = evaluator({ allow: true, headers: { a: "1" } });
    const first = d.decide(request(), ev.fn) as { headers: Record<string, string> };
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first.headers)).toBe(true);
    expect(d.decide(request(), ev.fn)).toBe(first);
  });

  it("freezes its own copy, never the object the PDP returned (which the PDP may share)", () => {
    const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 60 });
    const shared = { allow: true, reasons: ["r"], headers: { a: "1" } };
    const got = d.decide(request(), () => shared);
    expect(got).toEqual(shared);
    expect(Object.isFrozen(shared) || Object.isFrozen(shared.reasons)).toBe(false);
    shared.headers.a = "changed";
    expect(d.decide(request(), () => shared)).toEqual({ allow: true, reasons: ["r"], headers: { a: "1" } });
  });

  it("keeps a deny a deny", () => {
    const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 60 });
    const deny = { allow: false, status: 403, error: "access_denied" };
    const ev = evaluator(deny, { allow: true });
    expect(d.decide(request(), ev.fn)).toEqual(deny);
    expect(d.decide(request(), ev.fn)).toEqual(deny);
    expect(ev.calls).toBe(1);
  });

  it("never stores an evaluation error, an undefined decision or cache_ttl_s 0", () => {
    for (const v of [
      new Error("eval_cancel_error"),
      undefined,
      { allow: true, cache_ttl_s: 0 },
      "nonsense",
    ]) {
      const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 60 });
      const ev = evaluator(v);
      for (let i = 0; i < 2; i++) {
        if (v instanceof Error) expect(() => d.decide(request(), ev.fn)).toThrow("eval_cancel_error");
        else expect(d.decide(request(), ev.fn)).toEqual(v);
      }
      expect(ev.calls).toBe(2);
      expect(d.stats.stored).toBe(0);
    }
  });

  it("stops serving an entry at the earliest bound: config, cache_ttl_s, credential expiry", () => {
    const cases: [number, unknown, number | undefined, number][] = [
      // [config ttl s, decision, credential exp (s from now), when the entry must be gone (ms)]
      [10, { allow: true }, undefined, 10_000],
      [60, { allow: true, cache_ttl_s: 5 }, undefined, 5_000],
      [60, { allow: true, cache_ttl_s: 30 }, 2, 2_000],
    ];
    for (const [ttlS, decision, exp, goneAt] of cases) {
      const c = clock();
      const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS, now: c.now });
      const bounds = { subjects: ["alice"], ...(exp !== undefined ? { expiresAt: T0 / 1000 + exp } : {}) };
      const ev = evaluator(decision);
      d.decide(request({ bounds }), ev.fn);
      c.advance(goneAt - 1);
      d.decide(request({ bounds }), ev.fn);
      expect(ev.calls).toBe(1);
      c.advance(1);
      d.decide(request({ bounds }), ev.fn);
      expect(ev.calls).toBe(2);
    }
  });

  it("does not store a decision for an already expired credential", () => {
    const c = clock();
    const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 60, now: c.now });
    const ev = evaluator({ allow: true });
    const bounds = { subjects: ["alice"], expiresAt: T0 / 1000 - 5 };
    d.decide(request({ bounds }), ev.fn);
    d.decide(request({ bounds }), ev.fn);
    expect(ev.calls).toBe(2);
  });

  it("never answers from the cache for credentials that have expired, even where an entry exists", () => {
    const c = clock();
    const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 60, now: c.now });
    const ev = evaluator({ allow: true });
    d.decide(request(), ev.fn);
    d.decide(request({ bounds: { subjects: ["alice"], expiresAt: T0 / 1000 } }), ev.fn);
    expect(ev.calls).toBe(2);
    expect(d.stats.bypassed).toBe(1);
  });

  it("bounds an attested decision by the attestation's expiry, and needs its issue time", () => {
    const c = clock();
    const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 60, now: c.now });
    const input = { attestation: { status: "affirming", age_seconds: 10 } };
    const ev = evaluator({ allow: true });
    d.decide(request({}, input), ev.fn);
    d.decide(request({}, input), ev.fn);
    expect(ev.calls).toBe(2); // no issue time: evaluated every time
    expect(d.stats.bypassed).toBe(2);
    const bounds = {
      subjects: ["alice"],
      attestation: { issuedAt: T0 / 1000 - 10, expiresAt: T0 / 1000 + 3 },
    };
    d.decide(request({ bounds }, input), ev.fn);
    c.advance(2_999);
    d.decide(request({ bounds }, { attestation: { status: "affirming", age_seconds: 13 } }), ev.fn);
    expect(ev.calls).toBe(3);
    c.advance(1);
    d.decide(request({ bounds }, input), ev.fn);
    expect(ev.calls).toBe(4);
  });

  it("does not share entries between subjects or revisions, and revocation drops a subject's entries", () => {
    const cache = new LruDecisionCache({ maxEntries: 10 });
    const d = new CachedDecider({ cache, ttlS: 60 });
    const ev = evaluator({ allow: true });
    const bob = request({ bounds: { subjects: ["bob"] } }, { authn: { subject: "bob" } });
    d.decide(request(), ev.fn);
    d.decide(bob, ev.fn);
    d.decide(request({ revision: "rev-2" }), ev.fn);
    expect(ev.calls).toBe(3);
    expect(cache.deleteSubject("alice")).toBe(2);
    d.decide(request(), ev.fn);
    d.decide(bob, ev.fn);
    expect(ev.calls).toBe(4);
  });

  it("evaluates every time when the cache is off (ttl 0)", () => {
    const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 0 });
    const ev = evaluator({ allow: true });
    d.decide(request(), ev.fn);
    d.decide(request(), ev.fn);
    expect(ev.calls).toBe(2);
  });

  /** The L1 behind promises, failing on demand: the shape of a Redis L2. */
  class AsyncCache implements DecisionCache {
    readonly inner = new LruDecisionCache({ maxEntries: 10 });
    failing = false;
    get(key: string, nowMs: number): Promise<CachedDecision | undefined> {
      return this.failing ? Promise.reject(new Error("down")) : Promise.resolve(this.inner.get(key, nowMs));
    }
    set(key: string, e: CachedDecision, subjects: readonly string[]): Promise<void> {
      if (this.failing) return Promise.reject(new Error("down"));
      this.inner.set(key, e, subjects);
      return Promise.resolve();
    }
    deleteSubject(subject: string): Promise<number> {
      return Promise.resolve(this.inner.deleteSubject(subject));
    }
    clear(): Promise<void> {
      this.inner.clear();
      return Promise.resolve();
    }
  }

  it("works with an asynchronous cache and decides without it when it fails", async () => {
    const cache = new AsyncCache();
    const d = new CachedDecider({ cache, ttlS: 60 });
    const ev = evaluator({ allow: false }, { allow: true });
    expect(await d.decide(request(), ev.fn)).toEqual({ allow: false });
    expect(await d.decide(request(), ev.fn)).toEqual({ allow: false });
    expect(ev.calls).toBe(1);
    cache.failing = true;
    // Down: the policy decides (here it now allows), the failure is counted, nothing is served stale.
    expect(await d.decide(request({ revision: "rev-2" }), ev.fn)).toEqual({ allow: true });
    expect(ev.calls).toBe(2);
    await new Promise((r) => setImmediate(r));
    expect(d.stats.errors).toBe(2); // the failed read and the failed write
  });

  it("handles an asynchronous evaluation (a remote PDP)", async () => {
    const d = new CachedDecider({ cache: new LruDecisionCache({ maxEntries: 10 }), ttlS: 60 });
    let calls = 0;
    const evaluate = () => (calls++, Promise.resolve({ allow: true }));
    expect(await d.decide(request(), evaluate)).toEqual({ allow: true });
    expect(d.decide(request(), evaluate)).toEqual({ allow: true }); // the hit is synchronous
    expect(calls).toBe(1);
    const failing = () => Promise.reject(new Error("pdp down"));
    await expect(d.decide(request({ revision: "rev-3" }), failing)).rejects.toThrow("pdp down");
    expect(d.decide(request({ revision: "rev-3" }), evaluate)).toBeInstanceOf(Promise);
  });
});
