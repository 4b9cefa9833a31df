// Single-use, expiring nonces with a bound, and nonce comparison across the two base64 alphabets.
import { describe, expect, it } from "vitest";
import { MemoryNonceStore, NonceStoreFull, nonceBytes, sameNonce } from "../../attestation/nonce.js";

describe("MemoryNonceStore", () => {
  it("accepts an issued nonce once and refuses the replay", async () => {
    const store = new MemoryNonceStore();
    const { nonce, expires_at } = await store.issue();
    expect(nonceBytes(nonce)!.length).toBe(32);
    expect(expires_at).toBeGreaterThan(Date.now() / 1000);
    expect(await store.consume(nonce)).toEqual({ ok: true });
    expect(await store.consume(nonce)).toEqual({ ok: false, reason: "replayed" });
  });

  it("accepts the nonce in standard base64 too (Veraison's spelling) but only once in total", async () => {
    const store = new MemoryNonceStore();
    const { nonce } = await store.issue();
    const std = nonceBytes(nonce)!.toString("base64");
    expect(await store.consume(std)).toEqual({ ok: true });
    expect(await store.consume(nonce)).toEqual({ ok: false, reason: "replayed" });
  });

  it("refuses nonces it never issued and expired ones", async () => {
    let t = 1_000_000;
    const store = new MemoryNonceStore({ ttl_s: 60, now: () => t });
    expect(await store.consume(Buffer.alloc(32, 1).toString("base64url"))).toEqual({
      ok: false,
      reason: "unknown",
    });
    expect(await store.consume("not base64!")).toEqual({ ok: false, reason: "unknown" });
    const { nonce } = await store.issue();
    t += 61_000;
    expect(await store.consume(nonce)).toEqual({ ok: false, reason: "expired" });
  });

  it("binds a nonce to the caller it was issued to without burning it on a wrong caller", async () => {
    const store = new MemoryNonceStore();
    const { nonce } = await store.issue("spiffe://td/agent/a");
    expect(await store.consume(nonce, "spiffe://td/agent/b")).toEqual({ ok: false, reason: "wrong_subject" });
    expect(await store.consume(nonce)).toEqual({ ok: false, reason: "wrong_subject" });
    expect(await store.consume(nonce, "spiffe://td/agent/a")).toEqual({ ok: true });
  });

  it("stays within its bound: purges expired entries, then refuses rather than evicting live nonces", async () => {
    let t = 0;
    const store = new MemoryNonceStore({ ttl_s: 10, max_entries: 3, now: () => t });
    const first = await store.issue();
    await store.issue();
    await store.issue();
    await expect(store.issue()).rejects.toBeInstanceOf(NonceStoreFull);
    expect(store.size).toBe(3);
    // A live nonce survived the refused issue.
    expect(await store.consume(first.nonce)).toEqual({ ok: true });
    t = 11_000;
    await store.issue();
    expect(store.size).toBe(1);
  });
});

describe("nonce comparison", () => {
  it("compares bytes across alphabets and nothing looser", () => {
    const b = Buffer.from([0xfb, 0xff, 0xbf, 0xfb, 0xff, 0xbf, 0x00, 0x01, 0x02]);
    expect(sameNonce(b.toString("base64"), b.toString("base64url"))).toBe(true);
    expect(sameNonce(b.toString("base64"), Buffer.alloc(9).toString("base64"))).toBe(false);
    // Junk characters that Buffer.from would skip are not the same nonce.
    expect(sameNonce(b.toString("base64url"), `${b.toString("base64url")}!`)).toBe(false);
    expect(nonceBytes("QQ")).toBeDefined();
    // Non-zero padding bits: a second spelling of the same bytes is refused.
    expect(nonceBytes("QR")).toBeUndefined();
    expect(nonceBytes("")).toBeUndefined();
  });
});
