// API keys in a configurable header. Keys file (YAML):
//   keys:
//     - hash: sha256:<hex of SHA-256(key)>     # or scrypt$N$r$p$salt$hash
//       subject: svc:crm
//       client_id: crm                           # optional
//       scopes: [crm:read]                       # optional
import { singleHeader } from "./headers.js";
import { readEntries, SecretTable } from "./secrets.js";
import {
  AuthnError,
  fail,
  NONE,
  ok,
  type Authenticator,
  type AuthnResult,
  type RequestFacts,
} from "./types.js";

export interface ApiKeyEntry {
  hash: string;
  subject: string;
  client_id?: string;
  scopes?: string[];
}

export interface ApiKeyConfig {
  header?: string;
  keys?: ApiKeyEntry[];
  keys_file?: string;
}

const MAX_KEY_LENGTH = 1024;

export class ApiKeyAuthenticator implements Authenticator {
  readonly name: string;
  private readonly header: string;
  private readonly table: SecretTable<ApiKeyEntry>;

  constructor(cfg: ApiKeyConfig, name = "api_key") {
    this.name = name;
    this.header = (cfg.header ?? "x-api-key").toLowerCase();
    const entries = readEntries(cfg.keys, cfg.keys_file, "keys");
    entries.forEach((e, i) => {
      if (typeof e.subject !== "string" || !e.subject) throw new Error(`keys[${i}].subject must be a string`);
    });
    this.table = new SecretTable(entries.map((e) => ({ hash: e.hash, value: e })));
  }

  async authenticate(facts: RequestFacts): Promise<AuthnResult> {
    try {
      const key = singleHeader(facts, this.header);
      if (key === undefined) return NONE;
      if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
        throw new AuthnError("invalid_request", "malformed API key");
      }
      const entry = await this.table.match(key);
      if (!entry) throw new AuthnError("invalid_token", "invalid API key");
      return ok({
        method: this.name,
        subject: entry.subject,
        clientId: entry.client_id,
        scopes: entry.scopes ? [...entry.scopes] : undefined,
      });
    } catch (e) {
      return fail(e);
    }
  }
}
