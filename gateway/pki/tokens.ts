// A development token issuer: one EC P-256 signing key, published as a JWKS,
// minting RFC 9068 JWT access tokens so every bearer path can be tried by hand.
import { randomUUID } from "node:crypto";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type JWK,
  type JWTPayload,
} from "jose";

const ALG = "ES256";

export interface DevIssuer {
  /** Private JWK (with `d`), as written to `issuer.key`. */
  privateJwk: JWK;
  /** The public half, as published in `jwks.json`. */
  publicJwk: JWK;
  jwks: { keys: JWK[] };
}

function fromPrivateJwk(privateJwk: JWK): DevIssuer {
  const { d: _d, ...pub } = privateJwk;
  const publicJwk: JWK = { ...pub, use: "sig", alg: ALG };
  return { privateJwk, publicJwk, jwks: { keys: [publicJwk] } };
}

/** Creates a new issuer key; `kid` is the RFC 7638 thumbprint so it changes whenever the key does. */
export async function createIssuer(): Promise<DevIssuer> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return fromPrivateJwk({ ...jwk, kid, alg: ALG, use: "sig" });
}

/** Loads an issuer from its private JWK (the content of `issuer.key`). */
export function loadIssuer(privateJwk: JWK): DevIssuer {
  if (privateJwk.kty !== "EC" || privateJwk.crv !== "P-256" || typeof privateJwk.d !== "string") {
    throw new Error("issuer key must be a private EC P-256 JWK");
  }
  return fromPrivateJwk(privateJwk);
}

export interface AccessTokenOptions {
  iss: string;
  aud: string | string[];
  sub: string;
  /** Defaults to `sub`: in the client-credentials grant the subject is the client itself (RFC 9068 §2.2). */
  client_id?: string;
  /** Space-separated, as RFC 9068 / RFC 8693 define `scope`. */
  scope?: string;
  ttl_s?: number;
  /** Issued-at time in seconds; defaults to now. Lets tests mint expired or future tokens. */
  iat?: number;
  /** Extra or overriding claims (e.g. `act`, `cnf`). */
  claims?: JWTPayload;
  /** Overrides of the protected header, for tests of `typ` confusion. */
  header?: { typ?: string; kid?: string };
}

/** Signs an RFC 9068 access token (`typ: at+jwt`, ES256). */
export async function signAccessToken(issuer: DevIssuer, o: AccessTokenOptions): Promise<string> {
  const key = await importJWK(issuer.privateJwk, ALG);
  const iat = o.iat ?? Math.floor(Date.now() / 1000);
  const payload: JWTPayload = {
    iss: o.iss,
    aud: o.aud,
    sub: o.sub,
    client_id: o.client_id ?? o.sub,
    ...(o.scope !== undefined ? { scope: o.scope } : {}),
    iat,
    exp: iat + (o.ttl_s ?? 3600),
    jti: randomUUID(),
    ...o.claims,
  };
  return new SignJWT(payload)
    .setProtectedHeader({
      alg: ALG,
      typ: o.header?.typ ?? "at+jwt",
      kid: o.header?.kid ?? issuer.privateJwk.kid,
    })
    .sign(key);
}
