// The shape api_key and psk share: one header carries a secret, and the secret is matched in constant time
// against hashed entries (inline or from a YAML file). Each authenticator only says what its entries look
// like and which identity a matching entry becomes.
import { singleHeader } from "../headers.js";
import { readEntries, SecretTable } from "../secrets.js";
import {
  AuthnError,
  fail,
  NONE,
  ok,
  type Authenticator,
  type AuthnResult,
  type Identity,
  type RequestFacts,
} from "../types.js";

/** Longer values are refused before hashing: no real key is this long, and it bounds the work per request. */
export const MAX_SECRET_LENGTH = 1024;

export interface HashedHeaderSecretOptions<E extends { hash: string }> {
  /** Authenticator name, as recorded in `input.authn.methods`. */
  name: string;
  header: string;
  inline: E[] | undefined;
  file: string | undefined;
  /** The YAML list key of the file, and the prefix of start-up error messages (`keys[2].subject …`). */
  listKey: string;
  /** What the secret is called in client-facing errors: "API key" → "invalid API key". */
  label: string;
  /** Throws a start-up error when entry `i` lacks what `identity` needs. */
  check(entry: E, i: number): void;
  identity(entry: E): Omit<Identity, "method">;
}

export class HashedHeaderSecretAuthenticator<E extends { hash: string }> implements Authenticator {
  readonly name: string;
  private readonly header: string;
  private readonly table: SecretTable<E>;
  private readonly label: string;
  private readonly toIdentity: (entry: E) => Omit<Identity, "method">;

  constructor(o: HashedHeaderSecretOptions<E>) {
    this.name = o.name;
    this.header = o.header.toLowerCase();
    // `Authorization` belongs to bearer/basic: sharing it would turn every token into a failed secret.
    if (this.header === "authorization") throw new Error(`${o.name}: header must not be authorization`);
    this.label = o.label;
    this.toIdentity = o.identity;
    const entries = readEntries(o.inline, o.file, o.listKey);
    entries.forEach((e, i) => o.check(e, i));
    this.table = new SecretTable(entries.map((e) => ({ hash: e.hash, value: e })));
  }

  async authenticate(facts: RequestFacts): Promise<AuthnResult> {
    try {
      const secret = singleHeader(facts, this.header);
      if (secret === undefined) return NONE;
      if (secret.length === 0 || secret.length > MAX_SECRET_LENGTH) {
        throw new AuthnError("invalid_request", `malformed ${this.label}`);
      }
      const entry = await this.table.match(secret);
      if (!entry) throw new AuthnError("invalid_token", `invalid ${this.label}`);
      return ok({ ...this.toIdentity(entry), method: this.name });
    } catch (e) {
      return fail(e);
    }
  }
}
