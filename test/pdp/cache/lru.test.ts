import { describe, expect, it } from "vitest";
import { LruDecisionCache } from "../../../pdp/cache/index.js";

const entry = (value: unknown, expiresAtMs = 10_000) => ({ value, expiresAtMs });

describe("L1 decision cache (lru-cache)", () => {
  it("returns a live entry and never one at or past its expiry", () => {
    const c = new LruDecisionCache({ maxEntries: 10 });
    c.set("k", entry({ allow: true }, 1000), ["alice"]);
    expect(c.get("k", 999)?.value).toEqual({ allow: true });
    expect(c.get("k", 1000)).toBeUndefined();
    // An expired entry is gone, and so is its index entry.
    expect(c.size).toBe(0);
    expect(c.deleteSubject("alice")).toBe(0);
  });

  it("keeps at most maxEntries, dropping the least recently used", () => {
    const c = new LruDecisionCache({ maxEntries: 2 });
    c.set("a", entry(1), ["s-a"]);
    c.set("b", entry(2), ["s-b"]);
    expect(c.get("a", 0)?.value).toBe(1); // a is now more recent than b
    c.set("c", entry(3), ["s-c"]);
    expect(c.size).toBe(2);
    expect(c.get("b", 0)).toBeUndefined();
    expect(c.get("a", 0)?.value).toBe(1);
    expect(c.get("c", 0)?.value).toBe(3);
    // The evicted entry's subject left the index with it.
    expect(c.indexedSubjects).toBe(2);
    expect(c.deleteSubject("s-b")).toBe(0);
  });

  it("deletes every entry of a subject, including entries shared with other subjects", () => {
    const c = new LruDecisionCache({ maxEntries: 10 });
    c.set("k1", entry(1), ["user:alice", "spiffe://demo/agent/a"]);
    c.set("k2", entry(2), ["user:alice"]);
    c.set("k3", entry(3), ["user:bob"]);
    expect(c.deleteSubject("user:alice")).toBe(2);
    expect(c.get("k1", 0)).toBeUndefined();
    expect(c.get("k2", 0)).toBeUndefined();
    expect(c.get("k3", 0)?.value).toBe(3);
    // k1 is gone from its other subject's index too.
    expect(c.deleteSubject("spiffe://demo/agent/a")).toBe(0);
    expect(c.indexedSubjects).toBe(1);
  });

  it("re-indexes an overwritten key under its new subjects only", () => {
    const c = new LruDecisionCache({ maxEntries: 10 });
    c.set("k", entry(1), ["old"]);
    c.set("k", entry(2), ["new"]);
    expect(c.deleteSubject("old")).toBe(0);
    expect(c.get("k", 0)?.value).toBe(2);
    expect(c.deleteSubject("new")).toBe(1);
  });

  it("clears everything", () => {
    const c = new LruDecisionCache({ maxEntries: 10 });
    c.set("k", entry(1), ["s"]);
    c.clear();
    expect(c.size).toBe(0);
    expect(c.indexedSubjects).toBe(0);
  });

  it("refuses a bound below one entry", () => {
    expect(() => new LruDecisionCache({ maxEntries: 0 })).toThrow(RangeError);
  });
});
