// Masking: the defaults (credentials never reach a log) and OPA-style configured pointers.
import { describe, expect, it } from "vitest";
import {
  compileMasks,
  formatPointer,
  maskParts,
  MASKED,
  parsePointer,
  type MaskRule,
} from "../../../pdp/decision_log/index.js";

const JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

function gatewayLikeInput(): Record<string, unknown> {
  return {
    segment: "payments",
    request: {
      method: "POST",
      path: "/pay",
      headers: {
        authorization: `Bearer ${JWT}`,
        "proxy-authorization": "Basic dXNlcjpwYXNz",
        cookie: "sid=abc",
        "x-api-key": "k-123",
        "X-Amz-Security-Token": "aws-secret",
        dpop: "eyJ.dpop.proof",
        "attestation-evidence": "cbor-evidence",
        accept: "application/json",
      },
    },
    token: {
      type: "jwt",
      raw: JWT,
      claims: { sub: "alice", email: "alice@example.com", scope: "payments:read" },
      scopes: ["payments:read"],
    },
    attestation: { status: "affirming", evidence: { eat: "signed" }, age_seconds: 3 },
  };
}

describe("default masking", () => {
  it("masks credential headers (keeping the Authorization scheme), token.raw and attestation evidence", () => {
    const input = gatewayLikeInput();
    const m = maskParts(input, undefined, []);
    const out = m.input as ReturnType<typeof gatewayLikeInput>;
    const headers = (out.request as { headers: Record<string, string> }).headers;
    expect(headers.authorization).toBe(`Bearer ${MASKED}`);
    expect(headers["proxy-authorization"]).toBe(`Basic ${MASKED}`);
    expect(headers.cookie).toBe(MASKED);
    expect(headers["x-api-key"]).toBe(MASKED);
    expect(headers["X-Amz-Security-Token"]).toBe(MASKED);
    expect(headers.dpop).toBe(MASKED);
    expect(headers["attestation-evidence"]).toBe(MASKED);
    expect(headers.accept).toBe("application/json");
    const token = out.token as Record<string, unknown>;
    expect(token.raw).toBe(MASKED);
    // Decoded claims are policy facts, not credentials: only configured pointers remove them.
    expect(token.claims).toEqual({ sub: "alice", email: "alice@example.com", scope: "payments:read" });
    expect((out.attestation as Record<string, unknown>).evidence).toBe(MASKED);
    expect((out.attestation as Record<string, unknown>).status).toBe("affirming");
    expect(JSON.stringify(m)).not.toContain(JWT);
    expect(JSON.stringify(m)).not.toContain("k-123");
    expect(m.masked.sort()).toEqual(
      [
        "/input/attestation/evidence",
        "/input/request/headers/X-Amz-Security-Token",
        "/input/request/headers/attestation-evidence",
        "/input/request/headers/authorization",
        "/input/request/headers/cookie",
        "/input/request/headers/dpop",
        "/input/request/headers/proxy-authorization",
        "/input/request/headers/x-api-key",
        "/input/token/raw",
      ].sort(),
    );
    expect(m.erased).toEqual([]);
  });

  it("masks the gateway's default credential headers by name, in any spelling, whatever the PEP did", () => {
    const headers = {
      "x-psk": "psk-secret",
      "X-Jwt-Assertion": JWT,
      x_jwt_assertion: JWT,
      "x-api-key": "k-123",
      "x-jwt-assertion-hint": "kept",
    };
    const m = maskParts({ request: { headers } }, undefined, []);
    const out = (m.input as { request: { headers: Record<string, string> } }).request.headers;
    expect(out).toEqual({
      "x-psk": MASKED,
      "X-Jwt-Assertion": MASKED,
      x_jwt_assertion: MASKED,
      "x-api-key": MASKED,
      "x-jwt-assertion-hint": "kept",
    });
    expect(JSON.stringify(m)).not.toMatch(/psk-secret|k-123|eyJ/);
  });

  it("never changes the logged objects: members on the way to a change are copied, the rest shared", () => {
    const input = gatewayLikeInput();
    const before = JSON.stringify(input);
    const m = maskParts(input, undefined, []);
    expect(JSON.stringify(input)).toBe(before);
    const out = m.input as Record<string, unknown>;
    expect(out).not.toBe(input);
    expect(out.token).not.toBe(input.token);
    expect((out.token as Record<string, unknown>).claims).toBe(
      (input.token as Record<string, unknown>).claims,
    );
  });

  it("masks secrets by name anywhere (passwords, client secrets, api keys), strings under `token`", () => {
    const input = {
      user: { name: "bob", password: "passw0rd", nested: [{ client_secret: "cs", apiKey: "ak2", key: "k" }] },
      login: { token: "opaque-token-value", api_key: "ak" },
      list: [{ Private_Key: { kty: "EC", d: "secret-scalar" } }],
      subject_token: { raw: "eyJ.subject.token", claims: { sub: "s1" } },
      headers: ["authorization"],
    };
    const m = maskParts(input, undefined, []);
    const s = JSON.stringify(m.input);
    const secrets = ["passw0rd", '"cs"', "ak2", "opaque-token-value", '"ak"', "secret-scalar", "eyJ.subject"];
    for (const secret of secrets) expect(s).not.toContain(secret);
    // Names are matched case- and dash-insensitively; other members, and facts next to a raw token, stay.
    expect(s).toContain('"key":"k"');
    expect(s).toContain('"claims":{"sub":"s1"}');
    // A list of header *names* is not a header map.
    expect(s).toContain('"headers":["authorization"]');
    expect(m.masked).toContain("/input/user/nested/0/client_secret");
    expect(m.masked).toContain("/input/user/nested/0/apiKey");
    expect(m.masked).toContain("/input/list/0/Private_Key");
    expect(m.masked).toContain("/input/subject_token/raw");
  });

  it("masks header lists element by element and leaves values the gateway masked already unrecorded", () => {
    const m = maskParts(
      { request: { headers: { authorization: ["Bearer abc", "DPoP xyz"], cookie: MASKED } } },
      undefined,
      [],
    );
    const headers = (m.input as { request: { headers: Record<string, unknown> } }).request.headers;
    expect(headers.authorization).toEqual([`Bearer ${MASKED}`, `DPoP ${MASKED}`]);
    expect(headers.cookie).toBe(MASKED);
    expect(m.masked).toEqual(["/input/request/headers/authorization"]);
  });

  it("applies to the result too (a policy's upstream headers)", () => {
    const m = maskParts(undefined, { allow: true, headers: { authorization: "Bearer upstream-secret" } }, []);
    expect(m.result).toEqual({ allow: true, headers: { authorization: `Bearer ${MASKED}` } });
    expect(m.masked).toEqual(["/result/headers/authorization"]);
  });

  it("escapes member names in the recorded pointers", () => {
    const m = maskParts({ "a/b": { "c~d": { password: "x" } } }, undefined, []);
    expect(m.masked).toEqual(["/input/a~1b/c~0d/password"]);
  });
});

describe("configured masks (OPA's mask rules)", () => {
  const rules = (r: MaskRule[]) => compileMasks(r);

  it("erases a pointer and records it in `erased`", () => {
    const input = gatewayLikeInput();
    const m = maskParts(input, { allow: true }, rules([{ op: "remove", path: "/input/token/claims/email" }]));
    const claims = (m.input as { token: { claims: Record<string, unknown> } }).token.claims;
    expect(claims).toEqual({ sub: "alice", scope: "payments:read" });
    expect(m.erased).toEqual(["/input/token/claims/email"]);
    expect((input.token as { claims: Record<string, unknown> }).claims.email).toBe("alice@example.com");
  });

  it("upserts a value (replacing or adding) and records it in `masked`", () => {
    const m = maskParts(
      { user: { ssn: "123-45-6789" } },
      { allow: false },
      rules([
        { op: "upsert", path: "/input/user/ssn", value: "**REDACTED**" },
        { op: "upsert", path: "/input/added/deep", value: 1 },
        { op: "upsert", path: "/result/note", value: "checked" },
      ]),
    );
    expect(m.input).toEqual({ user: { ssn: "**REDACTED**" }, added: { deep: 1 } });
    expect(m.result).toEqual({ allow: false, note: "checked" });
    expect(m.masked).toEqual(["/input/user/ssn", "/input/added/deep", "/result/note"]);
  });

  it("ignores pointers to undefined members and handles array indices", () => {
    const m = maskParts(
      { users: [{ name: "a" }, { name: "b" }], s: "x" },
      undefined,
      rules([
        { op: "remove", path: "/input/users/0/name" },
        { op: "remove", path: "/input/users/5" },
        { op: "remove", path: "/input/missing/deeper" },
        { op: "remove", path: "/input/s/inside" },
        { op: "remove", path: "/result/anything" },
      ]),
    );
    expect(m.input).toEqual({ users: [{}, { name: "b" }], s: "x" });
    expect(m.erased).toEqual(["/input/users/0/name"]);
    const whole = maskParts({ a: 1 }, true, rules([{ op: "remove", path: "/input" }]));
    expect(whole.input).toBeUndefined();
    expect(whole.result).toBe(true);
  });

  it("an erased member is no longer listed as masked", () => {
    const m = maskParts(
      gatewayLikeInput(),
      undefined,
      rules([{ op: "remove", path: "/input/request/headers" }]),
    );
    expect(m.masked.some((p) => p.startsWith("/input/request/headers"))).toBe(false);
    expect(m.erased).toEqual(["/input/request/headers"]);
  });

  it("refuses pointers outside /input and /result, and malformed ones", () => {
    expect(() => compileMasks([{ op: "remove", path: "/labels/id" }])).toThrow(/\/input or \/result/);
    expect(() => compileMasks([{ op: "remove", path: "input/x" }])).toThrow();
    expect(() => compileMasks([{ op: "remove", path: "/input/a~2" }])).toThrow();
  });
});

describe("JSON pointers", () => {
  it("round-trips RFC 6901 escapes", () => {
    expect(parsePointer("/input/a~1b/c~0d/0")).toEqual(["input", "a/b", "c~d", "0"]);
    expect(formatPointer(["input", "a/b", "c~d", 0])).toBe("/input/a~1b/c~0d/0");
    expect(parsePointer("")).toBeUndefined();
    expect(parsePointer("/x/~")).toBeUndefined();
  });
});
