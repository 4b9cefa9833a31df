// HTTP Basic (RFC 7617) against a users file (YAML):
//   users:
//     - username: alice
//       hash: scrypt$16384$8$1$<salt b64>$<hash b64>   # from secrets.hashScrypt()
//       scopes: [reports:read]                          # optional
import { createHash, randomBytes } from "node:crypto";
import { authorizationCredential } from "./headers.js";
import { parseStoredHash, readEntries, verifySecret, type StoredHash } from "./secrets.js";
import {
  AuthnError,
  fail,
  NONE,
  ok,
  type Authenticator,
  type AuthnResult,
  type RequestFacts,
} from "./types.js";

export interface BasicUser {
  username: string;
  hash: string;
  scopes?: string[];
}

export interface BasicConfig {
  users?: BasicUser[];
  users_file?: string;
  /** How long a successful check is remembered, so a client pays scrypt once, not per request. */
  remember_s?: number;
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export class BasicAuthenticator implements Authenticator {
  readonly name: string;
  private readonly users = new Map<string, { user: BasicUser; hash: StoredHash }>();
  /** Same cost as a real user's hash, so a wrong username takes as long as a wrong password. */
  private readonly decoy: StoredHash;
  private readonly remembered = new Map<string, number>();
  private readonly rememberMs: number;

  constructor(cfg: BasicConfig, name = "basic") {
    this.name = name;
    this.rememberMs = (cfg.remember_s ?? 300) * 1000;
    const users = readEntries(cfg.users, cfg.users_file, "users");
    for (const [i, u] of users.entries()) {
      if (typeof u.username !== "string" || !u.username || u.username.includes(":")) {
        throw new Error(`users[${i}].username must be a non-empty string without ':'`);
      }
      if (this.users.has(u.username)) throw new Error(`users[${i}]: duplicate username ${u.username}`);
      this.users.set(u.username, { user: u, hash: parseStoredHash(u.hash) });
    }
    const first = [...this.users.values()][0].hash;
    this.decoy =
      first.kind === "scrypt" ? { ...first, salt: randomBytes(16), digest: randomBytes(32) } : first;
  }

  async authenticate(facts: RequestFacts): Promise<AuthnResult> {
    try {
      const credential = authorizationCredential(facts, "Basic");
      if (credential === undefined) return NONE;
      if (!STRICT_BASE64.test(credential))
        throw new AuthnError("invalid_request", "malformed Basic credential");
      const decoded = Buffer.from(credential, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon <= 0) throw new AuthnError("invalid_request", "malformed Basic credential");
      const username = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      const entry = this.users.get(username);
      const key = createHash("sha256").update(`${username}\0${password}`).digest("base64");
      const now = Date.now();
      const until = this.remembered.get(key);
      if (entry && until !== undefined && now < until) return this.identity(entry.user);
      const good = await verifySecret(password, entry?.hash ?? this.decoy);
      if (!entry || !good) throw new AuthnError("invalid_token", "invalid username or password");
      if (this.remembered.size >= 10_000) this.remembered.clear();
      this.remembered.set(key, now + this.rememberMs);
      return this.identity(entry.user);
    } catch (e) {
      return fail(e);
    }
  }

  private identity(user: BasicUser): AuthnResult {
    return ok({
      method: this.name,
      subject: user.username,
      scopes: user.scopes ? [...user.scopes] : undefined,
    });
  }
}
