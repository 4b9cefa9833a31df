import { hash, timingSafeEqual } from "node:crypto";
import { AuthnError, type RequestFacts } from "./types.js";

// The one-shot `hash` skips the Hash object `createHash` allocates: this runs on every request.
export function sha256(text: string): string {
  return hash("sha256", text, "base64url");
}

/** Bounded map with per-entry expiry; when full the oldest insertion goes first. */
export class TtlCache<V> {
  private readonly map = new Map<string, { value: V; expiresAtMs: number }>();
  constructor(private readonly maxEntries: number) {}

  get(key: string, nowMs: number): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (nowMs >= e.expiresAtMs) {
      this.map.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V, expiresAtMs: number): void {
    this.map.delete(key);
    if (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, { value, expiresAtMs });
  }

  get size(): number {
    return this.map.size;
  }
}

export function parseScopes(scope: unknown): string[] | undefined {
  if (typeof scope !== "string") return undefined;
  return scope.split(" ").filter((s) => s.length > 0);
}

/**
 * Sender constraint (RFC 8705 / RFC 9449): a certificate-bound token only counts on a connection with that
 * certificate; a DPoP-bound token presented as plain Bearer is refused (RFC 9449 §7.1). Checked on every
 * request, cache hit or not, because the binding is per connection.
 */
export function checkConfirmation(cnf: unknown, facts: RequestFacts): void {
  const c = confirmationOf(cnf);
  if (c === undefined) return;
  if (c.jkt !== undefined) throw new AuthnError("invalid_token", "DPoP-bound token presented as Bearer");
  checkCertificateBinding(c, facts);
}

/** The `cnf` claim as an object, `undefined` when absent; anything else is a malformed token. */
export function confirmationOf(cnf: unknown): Record<string, unknown> | undefined {
  if (cnf === undefined) return undefined;
  if (typeof cnf !== "object" || cnf === null || Array.isArray(cnf)) {
    throw new AuthnError("invalid_token", "malformed cnf claim");
  }
  return cnf as Record<string, unknown>;
}

/** RFC 8705: a `cnf["x5t#S256"]` binds the token to the client certificate of this connection. */
export function checkCertificateBinding(c: Record<string, unknown>, facts: RequestFacts): void {
  const x5t = c["x5t#S256"];
  if (x5t === undefined) return;
  const presented = facts.peer?.certThumbprint;
  if (typeof x5t !== "string" || !presented || !safeEqualStrings(x5t, presented)) {
    throw new AuthnError("invalid_token", "token not bound to this client certificate");
  }
}

export function safeEqualStrings(a: string, b: string): boolean {
  // Hash both so the comparison is length-independent and constant time.
  return timingSafeEqual(hash("sha256", a, "buffer"), hash("sha256", b, "buffer"));
}
