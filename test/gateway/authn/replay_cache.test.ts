import { describe, expect, it } from "vitest";
import { ReplayCache, ReplayCacheFull } from "../../../gateway/authn/replay_cache.js";

describe("ReplayCache", () => {
  it("accepts an identifier once while it is live, again after it expired", () => {
    const c = new ReplayCache(10);
    expect(c.use("a", 2000, 1000)).toBe(true);
    expect(c.use("a", 2000, 1500)).toBe(false);
    expect(c.has("a", 1999)).toBe(true);
    expect(c.use("a", 4000, 2000)).toBe(true);
  });

  it("drops expired entries as new ones arrive", () => {
    const c = new ReplayCache(10);
    for (let i = 0; i < 5; i++) c.use(`k${i}`, 1000 + i, 0);
    c.use("late", 9000, 1003);
    expect(c.size).toBe(2);
  });

  it("adversarial: refuses to forget a live identifier when full, rather than allow its replay", () => {
    const c = new ReplayCache(3);
    for (const k of ["a", "b", "c"]) expect(c.use(k, 10_000, 0)).toBe(true);
    expect(() => c.use("d", 10_000, 1)).toThrow(ReplayCacheFull);
    expect(c.use("a", 10_000, 2)).toBe(false);
    // Once they expire there is room again, even when a long-lived entry sits at the head.
    const d = new ReplayCache(3);
    d.use("long", 60_000, 0);
    d.use("x", 1000, 0);
    d.use("y", 1000, 0);
    expect(d.use("z", 5000, 2000)).toBe(true);
    expect(d.size).toBe(2);
  });

  it("rejects a size that is not a positive integer", () => {
    expect(() => new ReplayCache(0)).toThrow(/positive integer/);
  });
});
