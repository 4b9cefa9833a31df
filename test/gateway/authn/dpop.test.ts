// The RFC 9449 DPoP authenticator against real jose keys: an AS key behind a real JWKS endpoint signs the
// access tokens, client keys sign the proofs. Every §4.3 check and the §7 token binding has a failing case.
import { createHash, randomUUID } from "node:crypto";
import {
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BearerAuthenticator } from "../../../gateway/authn/bearer.js";
import { DpopAuthenticator, type DpopConfig } from "../../../gateway/authn/dpop.js";
import type { AuthnResult, RequestFacts } from "../../../gateway/authn/types.js";
import { challengeFor } from "../../../gateway/authn/www_authenticate.js";
import {
  AUDIENCE,
  b64url,
  ISSUER,
  makeKey,
  nowS,
  sign,
  startJwksServer,
  type SigningKey,
} from "./helpers.js";

const ORIGIN = "https://gw.example";
const PATH = "/payments/transfer";
const ALGS = "ES256 PS256";

interface ClientKey {
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

let asKey: SigningKey;
let jwks: Awaited<ReturnType<typeof startJwksServer>>;
let client: ClientKey;
let other: ClientKey;
let rsaClient: ClientKey;

async function clientKey(alg = "ES256"): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk, "sha256") };
}

beforeAll(async () => {
  asKey = await makeKey("as-1");
  jwks = await startJwksServer([asKey.publicJwk]);
  [client, other, rsaClient] = await Promise.all([clientKey(), clientKey(), clientKey("PS256")]);
});
afterAll(() => jwks.close());

function dpop(extra: Partial<DpopConfig> = {}): DpopAuthenticator {
  return new DpopAuthenticator({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks_uri: `${jwks.url}/jwks`,
    algorithms: ["ES256"],
    external_origins: [ORIGIN],
    proof_algorithms: ALGS.split(" "),
    ...extra,
  });
}

/** An RFC 9068 access token bound to `jkt` (or unbound with `null`). */
function boundToken(jkt: string | null = client.jkt, claims: JWTPayload = {}): Promise<string> {
  return sign(asKey, { ...(jkt !== null ? { cnf: { jkt } } : {}), ...claims });
}

const ath = (token: string) => createHash("sha256").update(token, "ascii").digest("base64url");

/** A proof for `token` as a correct client makes it, with `claims`/`header` overriding what a test breaks. */
function proof(
  token: string,
  key: ClientKey = client,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT({
    jti: randomUUID(),
    htm: "POST",
    htu: `${ORIGIN}${PATH}`,
    iat: nowS(),
    ath: ath(token),
    ...claims,
  })
    .setProtectedHeader({ typ: "dpop+jwt", alg: key.alg, jwk: key.jwk, ...header })
    .sign(key.privateKey);
}

function request(token: string, proofs: string | string[] | undefined, o: Partial<RequestFacts> = {}) {
  const headers: Record<string, string | string[]> = { authorization: `DPoP ${token}` };
  if (proofs !== undefined) headers.dpop = proofs;
  return { method: "POST", path: PATH, headers, ...o } satisfies RequestFacts;
}

function expectError(r: AuthnResult, code: string, description: RegExp): void {
  expect(r.kind).toBe("error");
  if (r.kind !== "error") return;
  expect(r.error.code).toBe(code);
  expect(r.error.description).toMatch(description);
  // Every failure of this authenticator answers with the DPoP scheme and the proof algorithms.
  if (code !== "unavailable") expect(r.error.challenge).toEqual({ scheme: "DPoP", params: { algs: ALGS } });
}

describe("dpop: a bound token with a valid proof", () => {
  it("authenticates and carries the proof key thumbprint", async () => {
    const a = dpop();
    const token = await boundToken();
    const r = await a.authenticate(request(token, await proof(token)));
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    expect(r.identity).toMatchObject({
      method: "dpop",
      subject: "spiffe://corp.example/agent/planner",
      tokenType: "jwt",
      clientId: "planner",
      scopes: ["payments:read", "payments:write"],
      cnf: { jkt: client.jkt },
      dpopJkt: client.jkt,
    });
    expect(Object.isFrozen(r.identity)).toBe(true);
  });

  it("accepts a PS256 proof and typ application/dpop+jwt", async () => {
    const token = await boundToken(rsaClient.jkt);
    const p = await proof(token, rsaClient, {}, { typ: "application/dpop+jwt" });
    const r = await dpop().authenticate(request(token, p));
    expect(r.kind).toBe("ok");
  });

  it("compares htu after normalisation: scheme/host case, default port, dot segments, query and fragment", async () => {
    const token = await boundToken();
    const a = dpop();
    for (const htu of [
      `HTTPS://GW.Example:443${PATH}`,
      `${ORIGIN}/payments/./x/../transfer`,
      `${ORIGIN}/payments/%74ransfer`,
      `${ORIGIN}${PATH}?amount=5#frag`,
    ]) {
      const r = await a.authenticate(request(token, await proof(token, client, { htu })));
      expect(r.kind, htu).toBe("ok");
    }
  });

  it("takes the proof window from proof_max_age_s", async () => {
    const token = await boundToken();
    const a = dpop({ proof_max_age_s: 120 });
    const r = await a.authenticate(request(token, await proof(token, client, { iat: nowS() - 100 })));
    expect(r.kind).toBe("ok");
  });

  it("leaves other schemes to other authenticators, synchronously", async () => {
    const a = dpop();
    const bearerFacts: RequestFacts = { method: "GET", path: "/", headers: { authorization: "Bearer abc" } };
    expect(a.authenticateSync(bearerFacts)).toEqual({ kind: "none" });
    expect(await a.authenticate(bearerFacts)).toEqual({ kind: "none" });
    expect(a.authenticateSync({ method: "GET", path: "/", headers: {} })).toEqual({ kind: "none" });
    // A DPoP credential always needs the asynchronous path (the proof's signature).
    const token = await boundToken();
    expect(a.authenticateSync(request(token, await proof(token)))).toBeUndefined();
  });
});

describe("dpop: adversarial proofs", () => {
  it("adversarial: missing proof → invalid_dpop_proof", async () => {
    const token = await boundToken();
    expectError(await dpop().authenticate(request(token, undefined)), "invalid_dpop_proof", /missing/);
    expectError(await dpop().authenticate(request(token, "")), "invalid_dpop_proof", /missing/);
  });

  it("adversarial: two DPoP headers → invalid_dpop_proof", async () => {
    const token = await boundToken();
    const r = await dpop().authenticate(request(token, [await proof(token), await proof(token)]));
    expectError(r, "invalid_dpop_proof", /more than one DPoP header/);
  });

  it("adversarial: a proof for another method or another URL → invalid_dpop_proof", async () => {
    const token = await boundToken();
    const a = dpop();
    expectError(
      await a.authenticate(request(token, await proof(token, client, { htm: "GET" }))),
      "invalid_dpop_proof",
      /htm/,
    );
    expectError(
      await a.authenticate(request(token, await proof(token, client, { htm: "post" }))),
      "invalid_dpop_proof",
      /htm/,
    );
    for (const htu of [
      `${ORIGIN}/payments/other`,
      `${ORIGIN}/payments/transfer/`,
      "https://evil.example/payments/transfer",
      `http://gw.example${PATH}`,
      `https://gw.example:8443${PATH}`,
      `https://user@gw.example${PATH}`,
      "/payments/transfer",
      "not a url",
    ]) {
      const r = await a.authenticate(request(token, await proof(token, client, { htu })));
      expectError(r, "invalid_dpop_proof", /htu/);
    }
  });

  it("adversarial: a replayed proof (same jti) → invalid_dpop_proof, even when both arrive together", async () => {
    const a = dpop();
    const token = await boundToken();
    const p = await proof(token);
    expect((await a.authenticate(request(token, p))).kind).toBe("ok");
    expectError(await a.authenticate(request(token, p)), "invalid_dpop_proof", /replayed/);
    const q = await proof(token);
    const both = await Promise.all([a.authenticate(request(token, q)), a.authenticate(request(token, q))]);
    expect(both.map((r) => r.kind).sort()).toEqual(["error", "ok"]);
    // The same jti under another key is another proof: replay is tracked per key.
    const jti = randomUUID();
    const otherToken = await boundToken(other.jkt);
    expect((await a.authenticate(request(token, await proof(token, client, { jti })))).kind).toBe("ok");
    const r = await a.authenticate(request(otherToken, await proof(otherToken, other, { jti })));
    expect(r.kind).toBe("ok");
  });

  it("adversarial: a stale or future iat → invalid_dpop_proof", async () => {
    const token = await boundToken();
    const a = dpop();
    expectError(
      await a.authenticate(request(token, await proof(token, client, { iat: nowS() - 61 }))),
      "invalid_dpop_proof",
      /too old/,
    );
    expectError(
      await a.authenticate(request(token, await proof(token, client, { iat: nowS() + 61 }))),
      "invalid_dpop_proof",
      /future/,
    );
    expectError(
      await a.authenticate(request(token, await proof(token, client, { iat: String(nowS()) }))),
      "invalid_dpop_proof",
      /iat/,
    );
  });

  it("adversarial: a proof for another access token (ath) → invalid_dpop_proof", async () => {
    const token = await boundToken();
    const a = dpop();
    const otherToken = await boundToken();
    expectError(
      await a.authenticate(request(token, await proof(otherToken))),
      "invalid_dpop_proof",
      /another access token/,
    );
    expectError(
      await a.authenticate(request(token, await proof(token, client, { ath: undefined }))),
      "invalid_dpop_proof",
      /ath missing/,
    );
  });

  it("adversarial: a proof key that is not the token's cnf.jkt → invalid_token", async () => {
    const token = await boundToken(other.jkt);
    const r = await dpop().authenticate(request(token, await proof(token, client)));
    expectError(r, "invalid_token", /does not match the token binding/);
  });

  it("adversarial: an unbound token under the DPoP scheme → invalid_token", async () => {
    const token = await boundToken(null);
    expectError(
      await dpop().authenticate(request(token, await proof(token))),
      "invalid_token",
      /not DPoP-bound/,
    );
  });

  it("adversarial: alg none, HS256, or an asymmetric alg not configured → invalid_dpop_proof", async () => {
    const token = await boundToken();
    const a = dpop();
    const claims = { jti: randomUUID(), htm: "POST", htu: `${ORIGIN}${PATH}`, iat: nowS(), ath: ath(token) };
    const none = `${b64url({ typ: "dpop+jwt", alg: "none", jwk: client.jwk })}.${b64url(claims)}.AAAA`;
    expectError(await a.authenticate(request(token, none)), "invalid_dpop_proof", /algorithm not allowed/);
    const unsigned = `${b64url({ typ: "dpop+jwt", alg: "none", jwk: client.jwk })}.${b64url(claims)}.`;
    expectError(await a.authenticate(request(token, unsigned)), "invalid_dpop_proof", /not a JWT/);
    const secret = new TextEncoder().encode("a shared secret of thirty-two bytes!");
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ typ: "dpop+jwt", alg: "HS256", jwk: client.jwk })
      .sign(secret);
    expectError(await a.authenticate(request(token, hs)), "invalid_dpop_proof", /algorithm not allowed/);
    const es384 = await clientKey("ES384");
    const bound384 = await boundToken(es384.jkt);
    expectError(
      await a.authenticate(request(bound384, await proof(bound384, es384))),
      "invalid_dpop_proof",
      /algorithm not allowed/,
    );
    expect(() => dpop({ proof_algorithms: ["ES256", "HS256"] })).toThrow(/not asymmetric/);
    expect(() => dpop({ proof_algorithms: ["none"] })).toThrow(/not asymmetric/);
  });

  it("adversarial: a jwk with private key members → invalid_dpop_proof", async () => {
    const token = await boundToken();
    const priv = await exportJWK(client.privateKey);
    expect(priv.d).toBeDefined();
    const r = await dpop().authenticate(request(token, await proof(token, client, {}, { jwk: priv })));
    expectError(r, "invalid_dpop_proof", /private key/);
    const rsaPriv = await exportJWK(rsaClient.privateKey);
    const { d: _d, ...withoutD } = rsaPriv;
    const r2 = await dpop().authenticate(
      request(token, await proof(token, rsaClient, {}, { jwk: withoutD })),
    );
    expectError(r2, "invalid_dpop_proof", /private key/);
  });

  it("adversarial: a signature by another key than the jwk header names → invalid_dpop_proof", async () => {
    const token = await boundToken();
    const forged = await new SignJWT({
      jti: randomUUID(),
      htm: "POST",
      htu: `${ORIGIN}${PATH}`,
      iat: nowS(),
      ath: ath(token),
    })
      .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk: client.jwk })
      .sign(other.privateKey);
    expectError(await dpop().authenticate(request(token, forged)), "invalid_dpop_proof", /signature invalid/);
    const [h, p, s] = (await proof(token)).split(".");
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
    const tampered = `${h}.${b64url({ ...claims, jti: randomUUID() })}.${s}`;
    expectError(
      await dpop().authenticate(request(token, tampered)),
      "invalid_dpop_proof",
      /signature invalid/,
    );
  });

  it("adversarial: a wrong typ, missing claims, a non-JWT or duplicate JSON members → invalid_dpop_proof", async () => {
    const token = await boundToken();
    const a = dpop();
    expectError(
      await a.authenticate(request(token, await proof(token, client, {}, { typ: "JWT" }))),
      "invalid_dpop_proof",
      /typ/,
    );
    expectError(
      await a.authenticate(request(token, await proof(token, client, { jti: undefined }))),
      "invalid_dpop_proof",
      /jti/,
    );
    expectError(
      await a.authenticate(request(token, await proof(token, client, {}, { jwk: undefined }))),
      "invalid_dpop_proof",
      /jwk/,
    );
    expectError(await a.authenticate(request(token, "abc.def")), "invalid_dpop_proof", /not a JWT/);
    const dup = `${b64url('{"typ":"dpop+jwt","typ":"JWT","alg":"ES256"}')}.${b64url({})}.AAAA`;
    expectError(
      await a.authenticate(request(token, dup)),
      "invalid_dpop_proof",
      /malformed DPoP proof header/,
    );
    expectError(
      await a.authenticate(request(token, "a".repeat(9000) + ".b.c")),
      "invalid_dpop_proof",
      /too large/,
    );
  });

  it("adversarial: an invalid access token answers invalid_token with the DPoP challenge", async () => {
    const expired = await boundToken(client.jkt, { exp: nowS() - 3600, iat: nowS() - 7200 });
    expectError(
      await dpop().authenticate(request(expired, await proof(expired))),
      "invalid_token",
      /expired/,
    );
    // A token that is also certificate-bound must come over that certificate's connection.
    const both = await boundToken(null, { cnf: { jkt: client.jkt, "x5t#S256": "abc" } });
    expectError(await dpop().authenticate(request(both, await proof(both))), "invalid_token", /certificate/);
    const withCert = await dpop().authenticate(
      request(both, await proof(both), { peer: { certThumbprint: "abc", spiffeId: "spiffe://x/y" } }),
    );
    expect(withCert.kind).toBe("ok");
  });

  it("adversarial: a DPoP-bound token presented as Bearer is refused by the bearer authenticator", async () => {
    const token = await boundToken();
    const bearer = new BearerAuthenticator({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks_uri: `${jwks.url}/jwks`,
    });
    const facts: RequestFacts = {
      method: "POST",
      path: PATH,
      headers: { authorization: `Bearer ${token}`, dpop: await proof(token) },
    };
    const r = await bearer.authenticate(facts);
    expect(r.kind).toBe("error");
    if (r.kind === "error") expect(r.error.description).toMatch(/DPoP-bound token presented as Bearer/);
    // And the DPoP authenticator does not take a Bearer presentation for its own.
    expect(await dpop().authenticate(facts)).toEqual({ kind: "none" });
  });

  it("fails closed when the replay cache is full of live proofs", async () => {
    const a = dpop({ replay_cache_max_entries: 1 });
    const token = await boundToken();
    expect((await a.authenticate(request(token, await proof(token)))).kind).toBe("ok");
    const r = await a.authenticate(request(token, await proof(token)));
    expectError(r, "unavailable", /replay cache full/);
    expect(a.rememberedProofs).toBe(1);
  });
});

describe("dpop: challenges", () => {
  it("an invalid proof becomes a DPoP challenge with error and algs (RFC 9449 §7.1)", async () => {
    const token = await boundToken();
    const r = await dpop().authenticate(request(token, undefined));
    expect(r.kind).toBe("error");
    if (r.kind !== "error") return;
    const c = challengeFor(r.error, { realm: "payments", resourceMetadata: `${ORIGIN}/.well-known/x` });
    expect(c.status).toBe(401);
    expect(c.wwwAuthenticate).toBe(
      `DPoP realm="payments", error="invalid_dpop_proof", error_description="DPoP proof missing", algs="${ALGS}", resource_metadata="${ORIGIN}/.well-known/x"`,
    );
    expect(c.body).toEqual({ error: "invalid_dpop_proof", error_description: "DPoP proof missing" });
  });

  it("rejects external origins that are not bare origins", () => {
    expect(() => dpop({ external_origins: ["https://gw.example/api"] })).toThrow(/scheme:\/\/host/);
    expect(() => dpop({ external_origins: ["ftp://gw.example"] })).toThrow(/scheme:\/\/host/);
    expect(() => dpop({ external_origins: [] })).toThrow(/must not be empty/);
  });
});
