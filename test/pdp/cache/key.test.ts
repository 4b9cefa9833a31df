import { describe, expect, it } from "vitest";
import { decisionKey, keyText, NOISE_HEADERS, type KeyParts } from "../../../pdp/cache/index.js";

function input(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    segment: "payments",
    request: {
      method: "GET",
      path: "/payments/balance",
      host: "gw.example:8443",
      headers: {
        accept: "*/*",
        authorization: "Bearer [masked]",
        "x-request-id": "r-1",
        traceparent: "00-a-b-01",
      },
      query: {},
      remote_addr: "127.0.0.1",
      time_ns: 1_700_000_000_000_000_000,
    },
    authn: { methods: ["mtls", "bearer"], subject: "spiffe://demo/agent/a" },
    token: {
      type: "jwt",
      claims: { sub: "spiffe://demo/agent/a", scope: "payments:read", exp: 2_000_000_000 },
    },
    caller: { type: "ai-agent", reason: "spiffe path /agent/*" },
    attestation: { status: "none" },
    ...over,
  };
}

const parts = (i: unknown, over: Partial<KeyParts> = {}): KeyParts => ({
  revision: "rev-1",
  entrypoint: "portcullis/authz/decision",
  input: i,
  ...over,
});

const key = (i: unknown, over: Partial<KeyParts> = {}) => decisionKey(parts(i, over));

function withRequest(over: Record<string, unknown>, headers?: Record<string, unknown>) {
  const base = input();
  const req = base.request as Record<string, unknown>;
  return input({
    request: { ...req, ...over, headers: { ...(req.headers as object), ...(headers ?? {}) } },
  });
}

describe("decision cache key", () => {
  it("is a bounded-length SHA-256 string and the same for the same input", () => {
    const k = key(input());
    expect(k).toMatch(/^pd1:[A-Za-z0-9_-]{43}$/);
    expect(key(input())).toBe(k);
  });

  it("is the same for the same document built again, and does not modify the input", () => {
    const a = input();
    const snapshot = JSON.stringify(a);
    expect(key(a)).toBe(key(JSON.parse(JSON.stringify(input())) as unknown));
    expect(JSON.stringify(a)).toBe(snapshot);
  });

  it("ignores the case of noise header names", () => {
    expect(key(withRequest({}, { "X-Request-ID": "a" }))).toBe(key(withRequest({}, { "X-Request-ID": "b" })));
  });

  it("ignores request.time_ns", () => {
    expect(key(withRequest({ time_ns: 1 }))).toBe(key(input()));
  });

  it("ignores the values of request-id and trace headers but not whether they are present", () => {
    const other = withRequest({}, { "x-request-id": "r-2", traceparent: "00-c-d-01" });
    expect(key(other)).toBe(key(input()));
    const req = input().request as Record<string, unknown>;
    const headers = { ...(req.headers as Record<string, string>) };
    delete headers.traceparent;
    expect(key(input({ request: { ...req, headers } }))).not.toBe(key(input()));
    expect([...NOISE_HEADERS]).toEqual(expect.arrayContaining(["x-request-id", "traceparent", "tracestate"]));
  });

  it("keeps every other header value in the key", () => {
    expect(key(withRequest({}, { accept: "application/json" }))).not.toBe(key(input()));
    // A header named like a noise header elsewhere in the input is data, not noise.
    expect(key(input({ rpc: { params: { "x-request-id": "1" } } }))).not.toBe(
      key(input({ rpc: { params: { "x-request-id": "2" } } })),
    );
  });

  it("differs by subject, path, method, claims, segment and peer", () => {
    const k = key(input());
    const variants = [
      input({ authn: { methods: ["mtls", "bearer"], subject: "spiffe://demo/agent/b" } }),
      withRequest({ path: "/payments/other" }),
      withRequest({ method: "POST" }),
      input({ token: { type: "jwt", claims: { sub: "spiffe://demo/agent/a", scope: "payments:write" } } }),
      input({ segment: "public" }),
      input({ peer: { spiffe_id: "spiffe://demo/agent/a" } }),
    ];
    const keys = new Set(variants.map((v) => key(v)));
    expect(keys.size).toBe(variants.length);
    expect(keys.has(k)).toBe(false);
  });

  it("changes with the policy revision and the entrypoint", () => {
    const k = key(input());
    expect(key(input(), { revision: "rev-2" })).not.toBe(k);
    expect(key(input(), { entrypoint: "portcullis/authz/allow" })).not.toBe(k);
    // Length prefixes: moving characters between revision and entrypoint cannot give the same text.
    expect(keyText(parts({}, { revision: "a|1:b", entrypoint: "c" }))).not.toBe(
      keyText(parts({}, { revision: "a", entrypoint: "b|1:c" })),
    );
  });

  it("reads the input as JSON does: undefined members are absent, non-finite numbers null", () => {
    expect(key(input({ extra: undefined }))).toBe(key(input()));
    expect(key(input({ n: Number.NaN }))).toBe(key(input({ n: null })));
    expect(key(input({ list: [undefined] }))).toBe(key(input({ list: [null] })));
    expect(key(input({ s: "1" }))).not.toBe(key(input({ s: 1 })));
  });

  it("keys an attestation by its issue time instead of its age", () => {
    const att = (age: number) => input({ attestation: { status: "affirming", age_seconds: age } });
    // Without an issue time the ever-changing age cannot be keyed: not cacheable.
    expect(key(att(12))).toBeUndefined();
    const k = key(att(12), { attestationIssuedAt: 1_700_000_000 });
    expect(k).toBeDefined();
    expect(key(att(40), { attestationIssuedAt: 1_700_000_000 })).toBe(k);
    expect(key(att(12), { attestationIssuedAt: 1_700_000_100 })).not.toBe(k);
    // A result without an age does not need an issue time, and never shares a key with an aged one.
    const none = input({ attestation: { status: "affirming" } });
    expect(key(none)).toBeDefined();
    expect(key(none, { attestationIssuedAt: 1_700_000_000 })).not.toBe(k);
  });

  it("refuses what it cannot write canonically", () => {
    expect(key(input({ big: 1n }))).toBeUndefined();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(key(input({ cyclic }))).toBeUndefined();
    expect(key(input({ toJSON: () => undefined }))).toBeUndefined();
    expect(key("not an object")).toBeUndefined();
  });
});
