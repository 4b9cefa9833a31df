import { KeyObject, webcrypto } from "node:crypto";
import { readFile } from "node:fs/promises";
import {
  createLocalJWKSet,
  errors,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWTHeaderParameters,
  type JWTVerifyGetKey,
} from "jose";
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

/** How an authenticator's own config names its issuer's keys (`bearer`, `session`). */
export interface JwksKeyConfig {
  jwks_file?: string;
  jwks_uri?: string;
  jwks_max_age_s?: number;
  jwks_refetch_cooldown_s?: number;
  jwks_timeout_ms?: number;
}

/** The key source an authenticator's `jwks_*` settings describe. */
export function jwksFromConfig(cfg: JwksKeyConfig, now: () => number): JwksSource {
  return new JwksSource({
    jwks_file: cfg.jwks_file,
    jwks_uri: cfg.jwks_uri,
    max_age_s: cfg.jwks_max_age_s,
    refetch_cooldown_s: cfg.jwks_refetch_cooldown_s,
    timeout_ms: cfg.jwks_timeout_ms,
    now,
  });
}

const MAX_JWKS_BYTES = 512 * 1024;

type LocalSet = ReturnType<typeof createLocalJWKSet>;

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
  private set: LocalSet | undefined;
  /**
   * Keys jose already selected and imported for a (kid, alg), as KeyObjects for the synchronous
   * signature check. Emptied with every load, so a rotated-out key stops verifying at once.
   */
  private readonly resolved = new Map<string, KeyObject>();
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

  readonly getKey: JWTVerifyGetKey = async (header, token) => (await this.select(header, token)).key;

  /** jose's choice of key for the header, and the set it came from. */
  private async select(
    header: JWTHeaderParameters,
    token: FlattenedJWSInput,
  ): Promise<{ key: Awaited<ReturnType<JWTVerifyGetKey>>; set: LocalSet }> {
    const maxAge = (this.opts.max_age_s ?? 600) * 1000;
    if (!this.set || this.now() - this.loadedAt > maxAge) await this.reload();
    let set = this.set!;
    try {
      return { key: await set(header, token), set };
    } catch (e) {
      if (!(e instanceof errors.JWKSNoMatchingKey)) throw e;
      const cooldown = (this.opts.refetch_cooldown_s ?? 30) * 1000;
      if (this.now() - this.lastKidRefetch < cooldown) throw e;
      this.lastKidRefetch = this.now();
      await this.reload();
      set = this.set!;
      return { key: await set(header, token), set };
    }
  }

  /**
   * The key for a token header without waiting, when jose resolved the same (kid, alg) since the last
   * load and the keys are not due for a refresh; undefined otherwise (call `resolve`).
   */
  keyFor(header: { alg?: unknown; kid?: unknown }): KeyObject | undefined {
    if (this.resolved.size === 0) return undefined;
    if (this.now() - this.loadedAt > (this.opts.max_age_s ?? 600) * 1000) return undefined;
    return this.resolved.get(resolvedKey(header));
  }

  /**
   * The key jose selects for the header (kid, kty, alg, use, crv), as a KeyObject, loading or refetching
   * the set as getKey does. Undefined when the set holds several matching keys for a header without
   * `kid`: jose's own verify tries each of them, the fast path does not.
   */
  async resolve(header: JWTHeaderParameters, token: FlattenedJWSInput): Promise<KeyObject | undefined> {
    let chosen: Awaited<ReturnType<JwksSource["select"]>>;
    try {
      chosen = await this.select(header, token);
    } catch (e) {
      if (e instanceof errors.JWKSMultipleMatchingKeys) return undefined;
      throw e;
    }
    // Symmetric keys are never loaded (oct keys are dropped); a bare JWK is not what a local set returns.
    const { key, set } = chosen;
    if (key instanceof Uint8Array) return undefined;
    let ko: KeyObject;
    try {
      ko = key instanceof KeyObject ? key : KeyObject.from(key as webcrypto.CryptoKey);
    } catch {
      return undefined; // not a CryptoKey (a bare JWK): jose's own verify handles it
    }
    // Remembered only while its set is the current one: a key from a set replaced meanwhile (rotation
    // during the await) verifies this token, but is not kept past the load that dropped it.
    if (set === this.set) this.resolved.set(resolvedKey(header), ko);
    return ko;
  }

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
    this.resolved.clear();
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

function resolvedKey(header: { alg?: unknown; kid?: unknown }): string {
  return `${String(header.alg)}\u0000${typeof header.kid === "string" ? header.kid : "\u0001"}`;
}
