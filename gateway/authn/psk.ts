// Pre-shared secret in a header, for devices and legacy peers that can do nothing better. File (YAML):
//   secrets:
//     - id: door-controller-7       # becomes the subject `psk:door-controller-7`
//       hash: sha256:<hex>           # or scrypt$N$r$p$salt$hash
//       scopes: [doors:open]         # optional
import { HashedHeaderSecretAuthenticator } from "./lib/hashed_header_secret.js";

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

export class PskAuthenticator extends HashedHeaderSecretAuthenticator<PskEntry> {
  constructor(cfg: PskConfig, name = "psk") {
    super({
      name,
      header: cfg.header ?? "x-psk",
      inline: cfg.secrets,
      file: cfg.secrets_file,
      listKey: "secrets",
      label: "pre-shared secret",
      check: (e, i) => {
        if (typeof e.id !== "string" || !e.id) throw new Error(`secrets[${i}].id must be a string`);
      },
      // The prefix keeps a device id from ever colliding with a user name or a SPIFFE ID.
      identity: (e) => ({ subject: `psk:${e.id}`, scopes: e.scopes ? [...e.scopes] : undefined }),
    });
  }
}
