import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JwtAssertionAuthenticator } from "../../../gateway/authn/jwt_assertion.js";
import type { AuthnResult } from "../../../gateway/authn/types.js";
import { facts, makeKey, nowS, sign, startJwksServer, type SigningKey } from "./helpers.js";

let key: SigningKey;
let jwks: Awaited<ReturnType<typeof startJwksServer>>;
beforeAll(async () => {
  key = await makeKey("w1");
  jwks = await startJwksServer([key.publicJwk]);
});
afterAll(() => jwks.close());

const GW = "https://gw.example/payments";
const code = (r: AuthnResult) => (r.kind === "error" ? r.error.code : r.kind);

function assertion(claims: Record<string, unknown> = {}, header: Record<string, unknown> = { typ: "JWT" }) {
  const t = nowS();
  return sign(
    key,
    { iss: "spiffe://corp.example/agent/planner", aud: GW, iat: t, exp: t + 60, ...claims },
    header,
  );
}

function authenticator(replay_cache_entries?: number) {
  return new JwtAssertionAuthenticator({
    audience: GW,
    issuers: [{ issuer: "spiffe://corp.example/agent/planner", jwks_uri: jwks.url }],
    replay_cache_entries,
  });
}

describe("jwt_assertion", () => {
  it("valid assertion → identity; the same assertion twice is a replay", async () => {
    const a = authenticator();
    const t = await assertion();
    const r = await a.authenticate(facts({ "x-jwt-assertion": t }));
    expect(r.kind === "ok" && r.identity.method).toBe("jwt_assertion");
    const again = await a.authenticate(facts({ "x-jwt-assertion": t }));
    expect(again.kind === "error" && again.error.description).toMatch(/replayed/);
  });

  it("Authorization: Bearer is not an assertion", async () => {
    expect(
      code(await authenticator().authenticate(facts({ authorization: `Bearer ${await assertion()}` }))),
    ).toBe("none");
  });

  it("wrong audience, unknown issuer, no exp, too long a lifetime, an access token → invalid_token", async () => {
    const a = authenticator();
    const cases = [
      await assertion({ aud: "https://other" }),
      await assertion({ iss: "spiffe://evil/agent" }),
      await assertion({ exp: undefined }),
      await assertion({ exp: nowS() + 3600 }),
      await assertion({}, { typ: "at+jwt" }),
      await assertion({ jti: undefined }),
    ];
    for (const t of cases)
      expect(code(await a.authenticate(facts({ "x-jwt-assertion": t })))).toBe("invalid_token");
  });

  it("a full replay cache refuses new assertions instead of forgetting live ones", async () => {
    const a = authenticator(1);
    expect(code(await a.authenticate(facts({ "x-jwt-assertion": await assertion() })))).toBe("ok");
    expect(code(await a.authenticate(facts({ "x-jwt-assertion": await assertion() })))).toBe("unavailable");
  });
});
