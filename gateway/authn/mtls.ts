// The mTLS SVID as an authenticator: TLS verification and SVID validation happen in the listener; here
// the already-verified peer facts only become an identity, so `all: [mtls, bearer]` reads uniformly.
import {
  NONE,
  ok,
  type Authenticator,
  type AuthnResult,
  type PeerFacts,
  type RequestFacts,
} from "./types.js";

interface Known {
  spiffeId: string;
  trustDomain: string | undefined;
  certThumbprint: string | undefined;
  result: AuthnResult;
}

export class MtlsAuthenticator implements Authenticator {
  readonly name: string;
  /**
   * The result per peer: the listener keeps one PeerFacts per connection, so every keep-alive request of
   * it gets the same (frozen) identity, which lets the combiner and the gateway reuse what they derived
   * from it. The facts are compared again on each use, so a changed object never yields a stale identity.
   */
  private readonly known = new WeakMap<PeerFacts, Known>();

  constructor(name = "mtls") {
    this.name = name;
  }

  authenticate(facts: RequestFacts): Promise<AuthnResult> {
    return Promise.resolve(this.authenticateSync(facts));
  }

  authenticateSync(facts: RequestFacts): AuthnResult {
    const peer = facts.peer;
    const spiffeId = peer?.spiffeId;
    if (!peer || !spiffeId) return NONE;
    const k = this.known.get(peer);
    if (
      k !== undefined &&
      k.spiffeId === spiffeId &&
      k.trustDomain === peer.trustDomain &&
      k.certThumbprint === peer.certThumbprint
    ) {
      return k.result;
    }
    const result = ok(
      Object.freeze({
        method: this.name,
        subject: spiffeId,
        claims: Object.freeze({ trust_domain: peer.trustDomain, "x5t#S256": peer.certThumbprint }),
      }),
    );
    this.known.set(peer, {
      spiffeId,
      trustDomain: peer.trustDomain,
      certThumbprint: peer.certThumbprint,
      result: Object.freeze(result),
    });
    return result;
  }
}
