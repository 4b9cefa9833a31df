// Stored-secret formats shared by api_key, basic and psk. Two formats:
//   sha256:<64 hex>                       for high-entropy machine secrets (API keys, PSKs) — a slow hash
//                                         adds nothing when the secret cannot be guessed
//   scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>  for human passwords (generate with `hashScrypt`)
import {
  createHash,
  randomBytes,
  scrypt as scryptCb,
  timingSafeEqual,
  type ScryptOptions,
} from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";

function scrypt(secret: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(secret, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export type StoredHash =
  | { kind: "sha256"; digest: Buffer }
  | { kind: "scrypt"; N: number; r: number; p: number; salt: Buffer; digest: Buffer };

const SHA256 = /^sha256:([0-9a-f]{64})$/i;
const SCRYPT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/_-]+=*)\$([A-Za-z0-9+/_-]+=*)$/;

/** Parses at start-up so a bad entry fails the config, not a request. */
export function parseStoredHash(text: string): StoredHash {
  const s = SHA256.exec(text);
  if (s) return { kind: "sha256", digest: Buffer.from(s[1], "hex") };
  const m = SCRYPT.exec(text);
  if (m) {
    const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
    // Bounds keep a hostile or mistyped config from making every request allocate gigabytes.
    if (N < 2 || N > 2 ** 20 || (N & (N - 1)) !== 0)
      throw new Error("scrypt N must be a power of two ≤ 2^20");
    if (r < 1 || r > 32 || p < 1 || p > 16) throw new Error("scrypt r/p out of range");
    const digest = Buffer.from(m[5], "base64");
    if (digest.length < 16) throw new Error("scrypt hash too short");
    return { kind: "scrypt", N, r, p, salt: Buffer.from(m[4], "base64"), digest };
  }
  throw new Error("unsupported hash format (expected sha256:<hex> or scrypt$N$r$p$salt$hash)");
}

export async function verifySecret(presented: string, stored: StoredHash): Promise<boolean> {
  if (stored.kind === "sha256") {
    return timingSafeEqual(createHash("sha256").update(presented).digest(), stored.digest);
  }
  const { N, r, p, salt, digest } = stored;
  const derived = await scrypt(presented, salt, digest.length, {
    N,
    r,
    p,
    maxmem: 256 * N * r + 1024 * 1024,
  });
  return timingSafeEqual(derived, digest);
}

export function hashSha256(secret: string): string {
  return `sha256:${createHash("sha256").update(secret).digest("hex")}`;
}

export async function hashScrypt(
  secret: string,
  o: { N?: number; r?: number; p?: number } = {},
): Promise<string> {
  const N = o.N ?? 16384;
  const r = o.r ?? 8;
  const p = o.p ?? 1;
  const salt = randomBytes(16);
  const digest = await scrypt(secret, salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  return `scrypt$${N}$${r}$${p}$${salt.toString("base64")}$${digest.toString("base64")}`;
}

/** Entries inline in the config or as a list under `listKey` in a YAML file; each needs a string `hash`. */
export function readEntries<E extends { hash: string; subject?: string }>(
  inline: E[] | undefined,
  file: string | undefined,
  listKey: string,
): E[] {
  let list: unknown = inline;
  if (file) {
    const doc = parseYaml(readFileSync(file, "utf8")) as Record<string, unknown> | null;
    list = doc?.[listKey];
    if (!Array.isArray(list)) throw new Error(`${file}: expected a list under '${listKey}'`);
  }
  if (!Array.isArray(list) || list.length === 0) throw new Error(`no ${listKey} configured`);
  list.forEach((e: unknown, i) => {
    const entry = e as Record<string, unknown> | null;
    if (typeof entry?.hash !== "string") throw new Error(`${listKey}[${i}].hash must be a string`);
  });
  return list as E[];
}

/**
 * Secrets → entries, matched without leaking which stored hash was close. sha256 entries are all
 * compared (no early exit); scrypt entries are tried one by one, and a success is remembered (keyed by a
 * fast hash) so a legitimate client pays the slow hash once, not per request.
 */
export class SecretTable<T> {
  private readonly fast: { digest: Buffer; value: T }[] = [];
  private readonly slow: { hash: StoredHash; value: T }[] = [];
  private readonly remembered = new Map<string, { value: T; untilMs: number }>();

  constructor(
    entries: { hash: string; value: T }[],
    private readonly rememberMs = 300_000,
  ) {
    for (const e of entries) {
      const h = parseStoredHash(e.hash);
      if (h.kind === "sha256") this.fast.push({ digest: h.digest, value: e.value });
      else this.slow.push({ hash: h, value: e.value });
    }
  }

  async match(presented: string, nowMs = Date.now()): Promise<T | undefined> {
    const digest = createHash("sha256").update(presented).digest();
    let found: T | undefined;
    for (const e of this.fast) if (timingSafeEqual(digest, e.digest)) found = e.value;
    if (found !== undefined || this.slow.length === 0) return found;
    const key = digest.toString("base64");
    const r = this.remembered.get(key);
    if (r && nowMs < r.untilMs) return r.value;
    for (const e of this.slow) {
      if (await verifySecret(presented, e.hash)) {
        if (this.remembered.size >= 10_000) this.remembered.clear();
        this.remembered.set(key, { value: e.value, untilMs: nowMs + this.rememberMs });
        return e.value;
      }
    }
    return undefined;
  }
}
