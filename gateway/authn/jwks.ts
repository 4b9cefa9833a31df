import { readFile } from "node:fs/promises";
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { AuthnError } from "./types.js";
import { isLoopbackHost } from "../../lib/loopback.js";

export interface JwksOptions {
  jwks_file?: string;
  jwks_uri?: string;
  /** Keys older than this are refetched before use; after it, an unreachable source is an outage. */
  max_age_s?: number;
  /** At most one unknown-`kid` refetch per this interval, so random kids cannot flood the AS. */
  refetch_cooldown_s?: number;
  timeout_ms?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

const MAX_JWKS_BYTES = 512 * 1024;

/**
 * A JWKS from a file or URL with max-age caching and one rate-limited refetch on an unknown `kid`
 * (key rotation). Symmetric keys are dropped: with a public key set, an `oct` key would let anyone who
 * reads the JWKS forge tokens.
 */
export class JwksSource {
  /** Completed loads, for tests and metrics. */
  fetchCount = 0;
  private readonly opts: JwksOptions;
  private readonly now: () => number;
  private set: ReturnType<typeof createLocalJWKSet> | undefined;
  private loadedAt = -Infinity;
  private lastKidRefetch = -Infinity;
  private inflight: Promise<void> | undefined;

  constructor(opts: JwksOptions) {
    if (!opts.jwks_file === !opts.jwks_uri)
      throw new Error("exactly one of jwks_file or jwks_uri is required");
    if (opts.jwks_uri) {
      const u = new URL(opts.jwks_uri);
      if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopbackHost(u.hostname))) {
        throw new Error("jwks_uri must be https (plain http only on loopback)");
      }
    }
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const maxAge = (this.opts.max_age_s ?? 600) * 1000;
    if (!this.set || this.now() - this.loadedAt > maxAge) await this.reload();
    try {
      return await this.set!(header, token);
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey)) throw e;
      const cooldown = (this.opts.refetch_cooldown_s ?? 30) * 1000;
      if (this.now() - this.lastKidRefetch < cooldown) throw e;
      this.lastKidRefetch = this.now();
      await this.reload();
      return await this.set!(header, token);
    }
  };

  private reload(): Promise<void> {
    // Concurrent requests share one fetch.
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = this.opts.jwks_file ? await readFile(this.opts.jwks_file, "utf8") : await this.fetchText();
    } catch (e) {
      throw new AuthnError("unavailable", "token signing keys unavailable", { cause: e });
    }
    let jwks: JSONWebKeySet;
    try {
      const parsed = JSON.parse(text) as { keys?: unknown };
      if (!Array.isArray(parsed.keys)) throw new Error("no keys array");
      const keys = parsed.keys.filter(
        (k): k is JSONWebKeySet["keys"][number] =>
          typeof k === "object" &&
          k !== null &&
          (k as { kty?: unknown }).kty !== "oct" &&
          (k as { use?: unknown }).use !== "enc",
      );
      jwks = { keys };
    } catch (e) {
      throw new AuthnError("unavailable", "token signing keys unavailable", { cause: e });
    }
    this.set = createLocalJWKSet(jwks);
    this.loadedAt = this.now();
    this.fetchCount++;
  }

  private async fetchText(): Promise<string> {
    const res = await fetch(this.opts.jwks_uri!, {
      headers: { accept: "application/jwk-set+json, application/json" },
      redirect: "error",
      signal: AbortSignal.timeout(this.opts.timeout_ms ?? 3000),
    });
    if (res.status !== 200) throw new Error(`JWKS HTTP ${res.status}`);
    const body = await res.text();
    if (body.length > MAX_JWKS_BYTES) throw new Error("JWKS too large");
    return body;
  }
}
