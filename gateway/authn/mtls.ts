// The mTLS SVID as an authenticator: TLS verification and SVID validation happen in the listener; here
// the already-verified peer facts only become an identity, so `all: [mtls, bearer]` reads uniformly.
import { NONE, ok, type Authenticator, type AuthnResult, type RequestFacts } from "./types.js";

export class MtlsAuthenticator implements Authenticator {
  readonly name: string;

  constructor(name = "mtls") {
    this.name = name;
  }

  authenticate(facts: RequestFacts): Promise<AuthnResult> {
    return Promise.resolve(this.authenticateSync(facts));
  }

  authenticateSync(facts: RequestFacts): AuthnResult {
    const spiffeId = facts.peer?.spiffeId;
    if (!spiffeId) return NONE;
    return ok({
      method: this.name,
      subject: spiffeId,
      claims: { trust_domain: facts.peer?.trustDomain, "x5t#S256": facts.peer?.certThumbprint },
    });
  }
}
