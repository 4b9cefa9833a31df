import { describe, expect, it } from "vitest";
import { buildChallenge, challengeFor } from "../../../gateway/authn/www_authenticate.js";
import { AuthnError } from "../../../gateway/authn/types.js";
import { parseStrictJson } from "../../../gateway/authn/strict_json.js";

const RM = "https://gw.example/.well-known/oauth-protected-resource/api";

describe("WWW-Authenticate", () => {
  it("missing credentials → bare challenge with resource_metadata", () => {
    const c = challengeFor(new AuthnError("missing", "authentication required"), {
      realm: "payments",
      resourceMetadata: RM,
    });
    expect(c).toEqual({ status: 401, wwwAuthenticate: `Bearer realm="payments", resource_metadata="${RM}"` });
  });

  it("invalid_token → 401 with error and description; invalid_request → 400", () => {
    const c = challengeFor(new AuthnError("invalid_token", "token expired"), { realm: "p" });
    expect(c.status).toBe(401);
    expect(c.wwwAuthenticate).toBe(
      'Bearer realm="p", error="invalid_token", error_description="token expired"',
    );
    expect(c.body).toEqual({ error: "invalid_token", error_description: "token expired" });
    expect(challengeFor(new AuthnError("invalid_request", "x"), { realm: "p" }).status).toBe(400);
    expect(challengeFor(new AuthnError("unavailable", "x"), { realm: "p" })).toMatchObject({ status: 503 });
  });

  it("quotes the realm and keeps error_description inside its RFC 6750 character set", () => {
    const v = buildChallenge({
      realm: 'a"b\\c\r\n',
      error: "invalid_token",
      errorDescription: 'bad "x" \\ é\n',
    });
    expect(v).toBe('Bearer realm="a\\"b\\\\c", error="invalid_token", error_description="bad ?x? ? ??"');
  });

  it("insufficient_scope carries scope", () => {
    expect(
      buildChallenge({ realm: "p", error: "insufficient_scope", scope: ["payments:write", 'bad"scope'] }),
    ).toBe('Bearer realm="p", scope="payments:write", error="insufficient_scope"');
  });
});

describe("strict JSON", () => {
  it("accepts ordinary JSON and rejects duplicate keys at any depth", () => {
    expect(parseStrictJson('{"a":[1,{"b":"\\"}"}],"c":null}')).toEqual({ a: [1, { b: '"}' }], c: null });
    expect(() => parseStrictJson('{"a":1,"a":2}')).toThrow(/duplicate/);
    expect(() => parseStrictJson('{"x":{"a":1,"\\u0061":2}}')).toThrow(/duplicate/);
    expect(() => parseStrictJson('{"a":1} x')).toThrow();
    expect(() => parseStrictJson("[".repeat(100))).toThrow();
  });
});
