// Pre-shared secret in a header, for devices and legacy peers that can do nothing better. File (YAML):
//   secrets:
//     - id: door-controller-7       # becomes the subject `psk:door-controller-7`
//       hash: sha256:<hex>           # or scrypt$N$r$p$salt$hash
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

export interface PskEntry {
  id: string;
  hash: string;
  scopes?: string[];
}

export interface PskConfig {
  header?: string;
  secrets?: PskEntry[];
  secrets_file?: string;
}

export class PskAuthenticator implements Authenticator {
  readonly name: string;
  private readonly header: string;
  private readonly table: SecretTable<PskEntry>;

  constructor(cfg: PskConfig, name = "psk") {
    this.name = name;
    this.header = (cfg.header ?? "x-psk").toLowerCase();
    const entries = readEntries(cfg.secrets, cfg.secrets_file, "secrets");
    entries.forEach((e, i) => {
      if (typeof e.id !== "string" || !e.id) throw new Error(`secrets[${i}].id must be a string`);
    });
    this.table = new SecretTable(entries.map((e) => ({ hash: e.hash, value: e })));
  }

  async authenticate(facts: RequestFacts): Promise<AuthnResult> {
    try {
      const secret = singleHeader(facts, this.header);
      if (secret === undefined) return NONE;
      if (secret.length === 0 || secret.length > 1024) {
        throw new AuthnError("invalid_request", "malformed pre-shared secret");
      }
      const entry = await this.table.match(secret);
      if (!entry) throw new AuthnError("invalid_token", "invalid pre-shared secret");
      return ok({
        method: this.name,
        subject: `psk:${entry.id}`,
        scopes: entry.scopes ? [...entry.scopes] : undefined,
      });
    } catch (e) {
      return fail(e);
    }
  }
}
