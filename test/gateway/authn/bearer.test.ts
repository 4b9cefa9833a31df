import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompactSign, createLocalJWKSet, exportSPKI, jwtVerify, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BearerAuthenticator, type BearerConfig } from "../../../gateway/authn/bearer.js";
import type { AuthnResult } from "../../../gateway/authn/types.js";
import {
  AUDIENCE,
  b64url,
  facts,
  ISSUER,
  makeKey,
  nowS,
  sign,
  startJwksServer,
  type SigningKey,
} from "./helpers.js";

let key1: SigningKey;
let key2: SigningKey;
let rsa: SigningKey;
let jwks: Awaited<ReturnType<typeof startJwksServer>>;

beforeAll(async () => {
  [key1, key2, rsa] = await Promise.all([makeKey("k1"), makeKey("k2"), makeKey("r1", "PS256")]);
  jwks = await startJwksServer([key1.publicJwk, rsa.publicJwk]);
});
afterAll(() => jwks.close());

function bearer(extra: Partial<BearerConfig> = {}): BearerAuthenticator {
  return new BearerAuthenticator({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks_uri: `${jwks.url}/jwks`,
    ...extra,
  });
}

const withToken = (t: string) => facts({ authorization: `Bearer ${t}` });

function expectError(r: AuthnResult, code: string, description?: RegExp) {
  expect(r.kind).toBe("error");
  if (r.kind !== "error") return;
  expect(r.error.code).toBe(code);
  if (description) expect(r.error.description).toMatch(description);
}

describe("bearer: valid tokens", () => {
  it("accepts an RFC 9068 token and extracts subject, scopes, client_id, act, exp", async () => {
    const a = bearer();
    const token = await sign(key1, { act: { sub: "user:alice" } });
    const r = await a.authenticate(withToken(token));
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    expect(r.identity).toMatchObject({
      method: "bearer",
      subject: "spiffe://corp.example/agent/planner",
      tokenType: "jwt",
      clientId: "planner",
      scopes: ["payments:read", "payments:write"],
      act: { sub: "user:alice" },
    });
    expect(r.identity.expiresAt).toBeGreaterThan(nowS());
  });

  it("accepts typ application/at+jwt and PS256", async () => {
    const r = await bearer().authenticate(withToken(await sign(rsa, {}, { typ: "application/at+jwt" })));
    expect(r.kind).toBe("ok");
  });

  it("caches verified tokens: a repeated token skips signature verification and the JWKS", async () => {
    const a = bearer();
    const token = await sign(key1);
    const before = jwks.hits;
    for (let i = 0; i < 5; i++) expect((await a.authenticate(withToken(token))).kind).toBe("ok");
    expect(a.verifications).toBe(1);
    expect(a.cacheHits).toBe(4);
    expect(jwks.hits - before).toBe(1);
  });

  it("cache entries end at the token's exp", async () => {
    let now = Date.now();
    const a = bearer({ now: () => now });
    const token = await sign(key1, { exp: nowS() + 2 });
    expect((await a.authenticate(withToken(token))).kind).toBe("ok");
    now += 60_000;
    expectError(await a.authenticate(withToken(token)), "invalid_token", /expired/);
    expect(a.verifications).toBe(2);
  });

  it("tolerates bounded clock skew", async () => {
    const r = await bearer().authenticate(withToken(await sign(key1, { exp: nowS() - 10 })));
    expect(r.kind).toBe("ok");
  });

  it("reads keys from a jwks_file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "authn-"));
    const file = join(dir, "jwks.json");
    writeFileSync(file, JSON.stringify({ keys: [key2.publicJwk] }));
    const r = await bearer({ jwks_uri: undefined, jwks_file: file }).authenticate(
      withToken(await sign(key2)),
    );
    expect(r.kind).toBe("ok");
  });
});

describe("bearer: presentation", () => {
  it("no Authorization header, or another scheme, is 'none'", async () => {
    const a = bearer();
    expect((await a.authenticate(facts({}))).kind).toBe("none");
    expect((await a.authenticate(facts({ authorization: "Basic YTpi" }))).kind).toBe("none");
    expect((await a.authenticate(facts({ authorization: "DPoP abc" }))).kind).toBe("none");
  });

  it("scheme is case-insensitive", async () => {
    const r = await bearer().authenticate(facts({ authorization: `bEaReR ${await sign(key1)}` }));
    expect(r.kind).toBe("ok");
  });

  it("two Authorization headers → invalid_request", async () => {
    const t = await sign(key1);
    expectError(
      await bearer().authenticate(facts({ authorization: [`Bearer ${t}`, `Bearer ${t}`] })),
      "invalid_request",
    );
  });

  it("empty or non-token68 credential → invalid_request", async () => {
    expectError(await bearer().authenticate(facts({ authorization: "Bearer" })), "invalid_request");
    expectError(await bearer().authenticate(facts({ authorization: "Bearer a b" })), "invalid_request");
    expectError(await bearer().authenticate(facts({ authorization: "Bearer a*b" })), "invalid_request");
  });

  it("opaque tokens are rejected, or skipped when introspection handles them", async () => {
    expectError(await bearer().authenticate(withToken("opaque-token-123")), "invalid_token");
    expect((await bearer({ opaque_tokens: "skip" }).authenticate(withToken("opaque-token-123"))).kind).toBe(
      "none",
    );
  });
});

describe("bearer: adversarial", () => {
  it("alg none is rejected (with and without a signature segment)", async () => {
    const header = b64url({ alg: "none", typ: "at+jwt", kid: "k1" });
    const t = nowS();
    const payload = b64url({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "admin",
      client_id: "x",
      iat: t,
      exp: t + 60,
      jti: "1",
    });
    expectError(await bearer().authenticate(withToken(`${header}.${payload}.`)), "invalid_token");
    expectError(await bearer().authenticate(withToken(`${header}.${payload}.AAAA`)), "invalid_token");
  });

  it("HS256 signed with the public key as the HMAC secret is rejected", async () => {
    const a = bearer();
    const pem = await exportSPKI(
      (await import("node:crypto")).createPublicKey({ key: rsa.publicJwk, format: "jwk" }),
    );
    const secrets = [new TextEncoder().encode(pem), new TextEncoder().encode(JSON.stringify(rsa.publicJwk))];
    for (const secret of secrets) {
      const t = nowS();
      const forged = await new SignJWT({
        iss: ISSUER,
        aud: AUDIENCE,
        sub: "admin",
        client_id: "x",
        iat: t,
        exp: t + 60,
        jti: "j",
      })
        .setProtectedHeader({ alg: "HS256", kid: "r1", typ: "at+jwt" })
        .sign(secret);
      expectError(await a.authenticate(withToken(forged)), "invalid_token", /algorithm/);
    }
  });

  it("refuses to be configured with none or HMAC algorithms", () => {
    expect(() => bearer({ algorithms: ["HS256"] })).toThrow(/not allowed/);
    expect(() => bearer({ algorithms: ["none", "ES256"] })).toThrow(/not allowed/);
  });

  it("an algorithm outside the allow-list is rejected", async () => {
    const r = await bearer({ algorithms: ["RS256"] }).authenticate(withToken(await sign(key1)));
    expectError(r, "invalid_token", /algorithm/);
  });

  it("unknown kid: one refetch, then invalid_token; the rate limit holds for further unknown kids", async () => {
    const a = bearer();
    expect((await a.authenticate(withToken(await sign(key1)))).kind).toBe("ok");
    const base = jwks.hits;
    const stranger = await makeKey("unknown-1");
    expectError(
      await a.authenticate(withToken(await sign(stranger))),
      "invalid_token",
      /unknown signing key/,
    );
    expect(jwks.hits - base).toBe(1);
    const stranger2 = await makeKey("unknown-2");
    for (let i = 0; i < 5; i++) {
      expectError(await a.authenticate(withToken(await sign(stranger2))), "invalid_token");
    }
    expect(jwks.hits - base).toBe(1);
  });

  it("key rotation: a new kid triggers a refetch and is accepted; a removed key stops working", async () => {
    let now = Date.now();
    const server = await startJwksServer([key1.publicJwk]);
    try {
      const a = new BearerAuthenticator({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks_uri: server.url,
        jwks_max_age_s: 300,
        now: () => now,
      });
      expect((await a.authenticate(withToken(await sign(key1)))).kind).toBe("ok");
      server.keys = [key2.publicJwk];
      const rotated = await a.authenticate(withToken(await sign(key2)));
      expect(rotated.kind).toBe("ok");
      expect(server.hits).toBe(2);
      // key1 was rotated out: it is gone from the refreshed set, and the cooldown stops a second fetch.
      expectError(await a.authenticate(withToken(await sign(key1))), "invalid_token");
      expect(server.hits).toBe(2);
      // After max age the set is refreshed even without an unknown kid.
      now += 301_000;
      server.keys = [key1.publicJwk, key2.publicJwk];
      expect(
        (
          await a.authenticate(
            withToken(await sign(key1, { iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 60 })),
          )
        ).kind,
      ).toBe("ok");
      expect(server.hits).toBe(3);
    } finally {
      await server.close();
    }
  });

  it("symmetric keys in the JWKS are ignored", async () => {
    const server = await startJwksServer([{ kty: "oct", kid: "hs", k: b64url("secret"), alg: "HS256" }]);
    try {
      const a = new BearerAuthenticator({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks_uri: server.url,
        algorithms: ["ES256"],
      });
      const t = nowS();
      const forged = await new SignJWT({
        iss: ISSUER,
        aud: AUDIENCE,
        sub: "a",
        client_id: "c",
        iat: t,
        exp: t + 60,
        jti: "j",
      })
        .setProtectedHeader({ alg: "HS256", kid: "hs", typ: "at+jwt" })
        .sign(new TextEncoder().encode("secret"));
      expectError(await a.authenticate(withToken(forged)), "invalid_token");
    } finally {
      await server.close();
    }
  });

  it("expired beyond the skew", async () => {
    expectError(
      await bearer().authenticate(withToken(await sign(key1, { exp: nowS() - 120 }))),
      "invalid_token",
      /expired/,
    );
  });

  it("not yet valid (nbf) and issued in the future (iat)", async () => {
    expectError(
      await bearer().authenticate(withToken(await sign(key1, { nbf: nowS() + 120 }))),
      "invalid_token",
      /not yet valid/,
    );
    expectError(
      await bearer().authenticate(withToken(await sign(key1, { iat: nowS() + 120 }))),
      "invalid_token",
      /future/,
    );
  });

  it("wrong aud and wrong iss", async () => {
    expectError(
      await bearer().authenticate(withToken(await sign(key1, { aud: "other" }))),
      "invalid_token",
      /aud/,
    );
    expect(
      (await bearer().authenticate(withToken(await sign(key1, { aud: ["other", AUDIENCE] })))).kind,
    ).toBe("ok");
    expectError(
      await bearer().authenticate(withToken(await sign(key1, { iss: "https://evil.example" }))),
      "invalid_token",
      /iss/,
    );
  });

  it("typ confusion: an ID-token-style JWT (typ JWT or no typ) is refused unless dev mode allows JWT", async () => {
    const idToken = await sign(key1, {}, { typ: "JWT" });
    expectError(await bearer().authenticate(withToken(idToken)), "invalid_token", /typ/);
    expect((await bearer({ accept_jwt_typ: true }).authenticate(withToken(idToken))).kind).toBe("ok");
    const noTyp = await sign(key1, {}, { typ: undefined });
    expectError(
      await bearer({ accept_jwt_typ: true }).authenticate(withToken(noTyp)),
      "invalid_token",
      /typ/,
    );
  });

  it("missing RFC 9068 claims (jti, client_id) are refused", async () => {
    expectError(
      await bearer().authenticate(withToken(await sign(key1, { jti: undefined }))),
      "invalid_token",
    );
    expectError(
      await bearer().authenticate(withToken(await sign(key1, { client_id: undefined }))),
      "invalid_token",
    );
  });

  it("oversized token", async () => {
    const big = await sign(key1, { pad: "x".repeat(9000) });
    expectError(await bearer().authenticate(withToken(big)), "invalid_token", /too large/);
  });

  it("non-base64url segments", async () => {
    const [h, p, s] = (await sign(key1)).split(".");
    expectError(
      await bearer().authenticate(withToken(`${h}.${p.slice(0, 10)}+/${p.slice(12)}.${s}`)),
      "invalid_token",
      /malformed/,
    );
    expectError(
      await bearer().authenticate(withToken(`${h}.${b64url("not json")}.${s}`)),
      "invalid_token",
      /malformed/,
    );
    expectError(await bearer().authenticate(withToken(`${h}.${p}`)), "invalid_token", /malformed/);
  });

  it("duplicate JSON keys in the payload are refused (jose alone would accept them)", async () => {
    const t = nowS();
    const payload =
      `{"iss":"${ISSUER}","aud":"${AUDIENCE}","sub":"user:bob","client_id":"c","iat":${t},"exp":${t + 60},` +
      `"jti":"j","sub":"user:admin"}`;
    const token = await new CompactSign(new TextEncoder().encode(payload))
      .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" })
      .sign(key1.privateKey);
    // Proof that the check is ours: jose verifies it and keeps the last `sub`.
    const { payload: seen } = await jwtVerify(token, createLocalJWKSet({ keys: [key1.publicJwk] }));
    expect(seen.sub).toBe("user:admin");
    expectError(await bearer().authenticate(withToken(token)), "invalid_token", /malformed/);
    // Also when the duplicate is spelled with an escape.
    const escaped = payload.replace(`"sub":"user:admin"`, `"\\u0073ub":"user:admin"`);
    const token2 = await new CompactSign(new TextEncoder().encode(escaped))
      .setProtectedHeader({ alg: "ES256", kid: "k1", typ: "at+jwt" })
      .sign(key1.privateKey);
    expectError(await bearer().authenticate(withToken(token2)), "invalid_token", /malformed/);
  });

  it("a tampered signature is rejected", async () => {
    const [h, p, s] = (await sign(key1)).split(".");
    const bad = `${h}.${p}.${s[0] === "A" ? "B" : "A"}${s.slice(1)}`;
    expectError(await bearer().authenticate(withToken(bad)), "invalid_token");
  });

  it("JWKS unreachable → unavailable (503), never an unverified accept", async () => {
    const a = new BearerAuthenticator({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks_uri: "http://127.0.0.1:1/jwks",
    });
    expectError(await a.authenticate(withToken(await sign(key1))), "unavailable");
  });
});

describe("bearer: sender constraint (cnf)", () => {
  it("x5t#S256 must match the connection's client certificate", async () => {
    const token = await sign(key1, { cnf: { "x5t#S256": "thumb-A" } });
    const a = bearer();
    const good = await a.authenticate(
      facts({ authorization: `Bearer ${token}` }, { certThumbprint: "thumb-A" }),
    );
    expect(good.kind).toBe("ok");
    // Same token, now from the cache, on another connection.
    expectError(
      await a.authenticate(facts({ authorization: `Bearer ${token}` }, { certThumbprint: "thumb-B" })),
      "invalid_token",
      /bound/,
    );
    expectError(await a.authenticate(withToken(token)), "invalid_token", /bound/);
  });

  it("a DPoP-bound token presented as Bearer is refused", async () => {
    const token = await sign(key1, { cnf: { jkt: "abc" } });
    expectError(await bearer().authenticate(withToken(token)), "invalid_token", /DPoP/);
  });
});
