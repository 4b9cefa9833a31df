// Freshness nonces: random, single-use, expiring. The gateway issues one to an agent, the agent's
// evidence (and so the verifier's EAR) carries it, and the gateway consumes it once; a second result
// or evidence with the same nonce is a replay. The store is an interface so a Redis store (shared by
// every gateway replica) can replace the in-memory one.
import { randomBytes, timingSafeEqual } from "node:crypto";

export interface IssuedNonce {
  /** base64url, no padding. */
  nonce: string;
  /** Epoch seconds. */
  expires_at: number;
}

export type NonceCheck =
  { ok: true } | { ok: false; reason: "unknown" | "expired" | "replayed" | "wrong_subject" };

export interface NonceStore {
  /**
   * A fresh nonce, optionally bound to the caller it was issued to (e.g. its SPIFFE ID) so that
   * another caller cannot consume it. Throws NonceStoreFull when the store is at its bound.
   */
  issue(subject?: string): Promise<IssuedNonce>;
  /** Marks the nonce used. Only the first call for an issued, unexpired nonce succeeds. */
  consume(nonce: string, subject?: string): Promise<NonceCheck>;
}

export class NonceStoreFull extends Error {
  override name = "NonceStoreFull";
}

export interface MemoryNonceStoreOptions {
  /** Lifetime of an issued nonce (default 120 s). */
  ttl_s?: number;
  /** Random bytes per nonce: 8..64 as EAT requires (default 32). */
  bytes?: number;
  /** Outstanding plus recently used nonces kept at most (default 100 000). */
  max_entries?: number;
  /** Clock in ms (tests). */
  now?: () => number;
}

interface Entry {
  expiresMs: number;
  used: boolean;
  subject?: string;
}

/**
 * In-process store. A used nonce is remembered until it would have expired, so a replay is told
 * apart from a forgery in the logs. At the bound, expired entries are purged; if it is still full,
 * issuing fails (the nonce endpoint answers 503) rather than evicting nonces other callers hold.
 */
export class MemoryNonceStore implements NonceStore {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly bytes: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(o: MemoryNonceStoreOptions = {}) {
    this.ttlMs = (o.ttl_s ?? 120) * 1000;
    this.bytes = o.bytes ?? 32;
    if (this.bytes < 8 || this.bytes > 64) throw new Error("nonce bytes must be from 8 to 64");
    this.max = o.max_entries ?? 100_000;
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  async issue(subject?: string): Promise<IssuedNonce> {
    if (this.entries.size >= this.max) this.purge();
    if (this.entries.size >= this.max) throw new NonceStoreFull("too many outstanding nonces");
    const nonce = randomBytes(this.bytes).toString("base64url");
    const expiresMs = this.now() + this.ttlMs;
    this.entries.set(nonce, { expiresMs, used: false, ...(subject !== undefined ? { subject } : {}) });
    return { nonce, expires_at: Math.floor(expiresMs / 1000) };
  }

  async consume(nonce: string, subject?: string): Promise<NonceCheck> {
    // Results may carry the nonce in standard base64; the store keys on the canonical base64url form.
    const key = canonicalNonce(nonce);
    const e = key === undefined ? undefined : this.entries.get(key);
    if (!e) return { ok: false, reason: "unknown" };
    if (this.now() > e.expiresMs) {
      this.entries.delete(key!);
      return { ok: false, reason: "expired" };
    }
    if (e.used) return { ok: false, reason: "replayed" };
    if (e.subject !== undefined && e.subject !== subject) return { ok: false, reason: "wrong_subject" };
    e.used = true;
    return { ok: true };
  }

  /** Drops expired entries (Map iteration is insertion order, so expiry order for a fixed TTL). */
  private purge(): void {
    const now = this.now();
    for (const [k, e] of this.entries) {
      if (e.expiresMs >= now) break;
      this.entries.delete(k);
    }
  }
}

const STD = /^[A-Za-z0-9+/]+={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]+={0,2}$/;

/** The bytes of a base64 or base64url nonce; undefined unless it is canonical in one of the two. */
export function nonceBytes(s: string): Buffer | undefined {
  if (typeof s !== "string" || s.length === 0 || s.length > 128) return undefined;
  if (!STD.test(s) && !URL_SAFE.test(s)) return undefined;
  const bytes = Buffer.from(s, "base64");
  // Round-trip: rejects non-zero padding bits and wrong padding, so one nonce has one spelling per alphabet.
  const unpadded = s.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
  if (bytes.toString("base64").replace(/=+$/, "") !== unpadded) return undefined;
  return bytes;
}

/** base64url without padding, the form our store keys on. */
export function canonicalNonce(s: string): string | undefined {
  return nonceBytes(s)?.toString("base64url");
}

/**
 * Whether two nonce strings carry the same bytes. Veraison's session API speaks standard base64,
 * our nonce endpoint base64url; both spellings of one nonce compare equal, nothing else does.
 */
export function sameNonce(a: string, b: string): boolean {
  if (a === b) return true;
  const x = nonceBytes(a);
  const y = nonceBytes(b);
  return x !== undefined && y !== undefined && x.length === y.length && timingSafeEqual(x, y);
}
