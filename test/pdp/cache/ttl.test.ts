import { describe, expect, it } from "vitest";
import { decisionTtlMs } from "../../../pdp/cache/index.js";

const NOW = 1_700_000_000_000;
const allow = (extra: Record<string, unknown> = {}) => ({ allow: true, ...extra });

describe("decision TTL", () => {
  it("is the config TTL when nothing else bounds it", () => {
    expect(decisionTtlMs({ nowMs: NOW, configTtlS: 60, decision: allow() })).toBe(60_000);
    expect(decisionTtlMs({ nowMs: NOW, configTtlS: 60, decision: true })).toBe(60_000);
  });

  it("is the smallest of config, cache_ttl_s, credential expiry and attestation expiry", () => {
    const t = (cfg: number, own: number, exp: number, att: number) =>
      decisionTtlMs({
        nowMs: NOW,
        configTtlS: cfg,
        decision: allow({ cache_ttl_s: own }),
        expiresAt: NOW / 1000 + exp,
        attestationExpiresAt: NOW / 1000 + att,
      });
    expect(t(10, 20, 30, 40)).toBe(10_000);
    expect(t(40, 10, 20, 30)).toBe(10_000);
    expect(t(30, 40, 10, 20)).toBe(10_000);
    expect(t(20, 30, 40, 10)).toBe(10_000);
  });

  it("caches a deny like an allow", () => {
    expect(decisionTtlMs({ nowMs: NOW, configTtlS: 60, decision: { allow: false, cache_ttl_s: 5 } })).toBe(
      5_000,
    );
  });

  it("is 0 (not cached) for cache_ttl_s 0, a malformed cache_ttl_s, or a config TTL of 0", () => {
    for (const own of [0, -1, "30", null, Number.NaN]) {
      expect(decisionTtlMs({ nowMs: NOW, configTtlS: 60, decision: allow({ cache_ttl_s: own }) })).toBe(0);
    }
    expect(decisionTtlMs({ nowMs: NOW, configTtlS: 0, decision: allow() })).toBe(0);
  });

  it("is 0 for anything that is not a decision document", () => {
    for (const d of [undefined, null, "allow", 1, [], {}, { allow: "true" }]) {
      expect(decisionTtlMs({ nowMs: NOW, configTtlS: 60, decision: d })).toBe(0);
    }
  });

  it("is not positive once a credential has expired, and 0 for an unreadable expiry", () => {
    expect(
      decisionTtlMs({ nowMs: NOW, configTtlS: 60, decision: allow(), expiresAt: NOW / 1000 - 1 }),
    ).toBeLessThanOrEqual(0);
    expect(decisionTtlMs({ nowMs: NOW, configTtlS: 60, decision: allow(), expiresAt: NOW / 1000 })).toBe(0);
    expect(decisionTtlMs({ nowMs: NOW, configTtlS: 60, decision: allow(), expiresAt: Number.NaN })).toBe(0);
  });
});
