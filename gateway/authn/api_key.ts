// API keys in a configurable header. Keys file (YAML):
//   keys:
//     - hash: sha256:<hex of SHA-256(key)>     # or scrypt$N$r$p$salt$hash
//       subject: svc:crm
//       client_id: crm                           # optional
//       scopes: [crm:read]                       # optional
import { HashedHeaderSecretAuthenticator } from "./lib/hashed_header_secret.js";

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

export class ApiKeyAuthenticator extends HashedHeaderSecretAuthenticator<ApiKeyEntry> {
  constructor(cfg: ApiKeyConfig, name = "api_key") {
    super({
      name,
      header: cfg.header ?? "x-api-key",
      inline: cfg.keys,
      file: cfg.keys_file,
      listKey: "keys",
      label: "API key",
      check: (e, i) => {
        if (typeof e.subject !== "string" || !e.subject)
          throw new Error(`keys[${i}].subject must be a string`);
      },
      identity: (e) => ({
        subject: e.subject,
        clientId: e.client_id,
        scopes: e.scopes ? [...e.scopes] : undefined,
      }),
    });
  }
}
