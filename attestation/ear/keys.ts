// Where the keys of a trusted verifier come from: a JWKS file (read at start-up, so a bad file is a
// start-up error), an inline JWKS, or a JWKS URL (jose's remote set: cached, refetched on an unknown
// `kid` at most once per cooldown, bounded by a timeout).
import { readFileSync } from "node:fs";
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { isLoopbackHost } from "../../lib/loopback.js";

export interface VerifierKeyOptions {
  jwks_file?: string;
  jwks_url?: string;
  /** An inline JWKS (tests, or keys pinned in config). */
  jwks?: { keys: unknown[] };
  /** JWKS URL: fetch timeout. */
  timeout_ms?: number;
  /** JWKS URL: keys are refetched after this age. */
  cache_max_age_s?: number;
  /** JWKS URL: at most one refetch for an unknown `kid` per this interval. */
  cooldown_s?: number;
}

/** Public signing keys only: an `oct` key in a public set would let anyone who reads it forge results. */
function publicSigningKeys(raw: unknown, source: string): JSONWebKeySet {
  const keys = (raw as { keys?: unknown }).keys;
  if (typeof raw !== "object" || raw === null || !Array.isArray(keys)) {
    throw new Error(`${source}: not a JWK Set (no "keys" array)`);
  }
  const usable = keys.filter(
    (k): k is JSONWebKeySet["keys"][number] =>
      typeof k === "object" &&
      k !== null &&
      (k as { kty?: unknown }).kty !== "oct" &&
      (k as { use?: unknown }).use !== "enc" &&
      (k as { d?: unknown }).d === undefined,
  );
  if (usable.length === 0) throw new Error(`${source}: no public signing keys`);
  return { keys: usable };
}

/** A jose key resolver for one trusted verifier. Throws (at construction) on a bad source. */
export function verifierKeySource(o: VerifierKeyOptions): JWTVerifyGetKey {
  const given = [o.jwks_file, o.jwks_url, o.jwks].filter((x) => x !== undefined).length;
  if (given !== 1) throw new Error("exactly one of jwks_file, jwks_url or jwks is required");
  if (o.jwks) return createLocalJWKSet(publicSigningKeys(o.jwks, "jwks"));
  if (o.jwks_file) {
    const text = readFileSync(o.jwks_file, "utf8");
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new Error(`${o.jwks_file}: ${(e as Error).message}`);
    }
    return createLocalJWKSet(publicSigningKeys(parsed, o.jwks_file));
  }
  const url = new URL(o.jwks_url!);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) {
    throw new Error("jwks_url must be https (plain http only on loopback)");
  }
  return createRemoteJWKSet(url, {
    timeoutDuration: o.timeout_ms ?? 3000,
    cacheMaxAge: (o.cache_max_age_s ?? 600) * 1000,
    cooldownDuration: (o.cooldown_s ?? 30) * 1000,
    headers: { accept: "application/jwk-set+json, application/json" },
  });
}
