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

// ---------------------------------------------------------------- projection on the read input paths

/** The shipped policy's read paths for data.portcullis.authz.decision (test/pdp/rego/input_paths.test.ts). */
const READ: readonly (readonly string[])[] = [
  ["attestation", "age_seconds"],
  ["attestation", "status"],
  ["caller", "type"],
  ["delegation", "chain"],
  ["delegation", "depth"],
  ["request", "method"],
  ["request", "path"],
  ["rpc", "tool"],
  ["segment"],
  ["token", "claims", "roles"],
  ["token", "scopes"],
];

describe("decision cache key projected on the input paths the policy reads", () => {
  const SUBJECTS = ["spiffe://demo/agent/a"];
  const pkey = (i: unknown, paths: readonly (readonly string[])[] = READ, over: Partial<KeyParts> = {}) =>
    key(i, { inputPaths: paths, subjects: SUBJECTS, ...over });
  const ptext = (i: unknown, paths: readonly (readonly string[])[] = READ) =>
    keyText(parts(i, { inputPaths: paths, subjects: SUBJECTS }));
  const token = (claims: Record<string, unknown>, scopes = ["payments:read"]) => ({
    token: { type: "jwt", claims: { sub: "spiffe://demo/agent/a", ...claims }, scopes },
  });

  it("holds the read values only: a fresh token of the same agent has the same key", () => {
    const a = input(token({ jti: "j-1", iat: 1_700_000_000, exp: 1_700_003_600 }));
    const b = input(token({ jti: "j-2", iat: 1_700_000_100, exp: 1_700_003_700 }));
    expect(key(a, { subjects: SUBJECTS })).not.toBe(key(b, { subjects: SUBJECTS })); // whole input: a miss
    expect(pkey(a)).toBe(pkey(b));
    expect(ptext(a)).toMatch(
      /^5:rev-1\|25:portcullis\/authz\/decision\|a0\|s1:21:spiffe:\/\/demo\/agent\/a\|p:11:/,
    );
    expect(ptext(a)).not.toContain("j-1");
    // Unread members anywhere: headers, host, peer, authn, the caller's reason.
    expect(pkey(withRequest({ host: "other" }, { accept: "text/html" }))).toBe(pkey(input()));
    expect(pkey(input({ peer: { spiffe_id: "x" }, caller: { type: "ai-agent", reason: "other" } }))).toBe(
      pkey(input()),
    );
  });

  it("changes with every read value", () => {
    const base = pkey(input());
    const variants = [
      input({ segment: "public" }),
      withRequest({ method: "POST" }),
      withRequest({ path: "/payments/other" }),
      input({ caller: { type: "service" } }),
      input({ attestation: { status: "affirming" } }),
      input(token({}, ["payments:write"])),
      input(token({ roles: ["teller"] })),
      input({ rpc: { tool: "get_balance" } }),
      input({ delegation: { depth: 1, chain: [{ sub: "a" }] } }),
    ];
    const keys = new Set(variants.map((v) => pkey(v)));
    expect(keys.size).toBe(variants.length);
    expect(keys.has(base)).toBe(false);
  });

  it("tells a missing value from null, and reads as the engine does", () => {
    const missing = pkey(input());
    expect(pkey(input({ rpc: { tool: null } }))).not.toBe(missing);
    expect(pkey(input({ rpc: null }))).toBe(missing); // input.rpc.tool is undefined either way
    expect(pkey(input({ rpc: "tool" }))).toBe(missing);
    expect(pkey(input({ rpc: ["tool"] }))).toBe(missing);
    expect(pkey(input({ rpc: {} }))).toBe(missing);
    expect(pkey(input({ rpc: { tool: undefined } }))).toBe(missing); // JSON drops undefined members
    expect(pkey(input({ rpc: { tool: () => 1 } }))).toBe(missing);
    expect(pkey(input({ rpc: { tool: "" } }))).not.toBe(missing);
    expect(pkey(input({ rpc: { tool: "1" } }))).not.toBe(pkey(input({ rpc: { tool: 1 } })));
    expect(pkey(input({ rpc: { tool: Number.NaN } }))).toBe(pkey(input({ rpc: { tool: null } })));
    expect(pkey(input({ rpc: { tool: -0 } }))).toBe(pkey(input({ rpc: { tool: 0 } })));
    // Inherited members are not members (the engine reads own members only).
    expect(pkey(input({ rpc: Object.create({ tool: "x" }) as unknown }))).toBe(missing);
  });

  it("never walks into an array with a string segment", () => {
    const paths = [["list", "0"], ["s"]];
    const none = pkey({ s: 1 }, paths);
    expect(pkey({ s: 1, list: ["a"] }, paths)).toBe(none);
    expect(pkey({ s: 1, list: { 0: "a" } }, paths)).not.toBe(none);
    // Read whole, the array is in the key with its order.
    expect(pkey({ list: [1, 2] }, [["list"]])).not.toBe(pkey({ list: [2, 1] }, [["list"]]));
  });

  it("reads class instances and toJSON as JSON does, as the engine is given them", () => {
    class Token {
      scopes = ["payments:read"];
      secret = "x";
    }
    const plain = input({ token: { scopes: ["payments:read"] } });
    expect(pkey(input({ token: new Token() }))).toBe(pkey(plain));
    expect(pkey(input({ token: { toJSON: () => ({ scopes: ["payments:read"] }) } }))).toBe(pkey(plain));
    expect(pkey({ toJSON: () => ({ segment: "payments" }) }, [["segment"]])).toBe(
      pkey({ segment: "payments" }, [["segment"]]),
    );
    expect(pkey({ toJSON: () => "text" }, [["segment"]])).toBeUndefined();
    expect(pkey(input({ segment: 1n }))).toBeUndefined();
    expect(pkey(input({ rpc: { tool: { toJSON: () => undefined } } }))).toBeUndefined();
  });

  it("keeps the noise rules: time, request-id and trace header values, attestation age", () => {
    const paths = [
      ["request", "time_ns"],
      ["request", "headers", "x-request-id"],
      ["request", "headers", "traceparent", "x"],
      ["request", "headers", "accept"],
    ];
    const k = pkey(input(), paths);
    expect(pkey(withRequest({ time_ns: 5 }, { "x-request-id": "r-9" }), paths)).toBe(k);
    // The presence of a noise header stays in the key, its value does not.
    const req = input().request as Record<string, unknown>;
    const { "x-request-id": _gone, ...rest } = req.headers as Record<string, string>;
    expect(pkey(input({ request: { ...req, headers: rest } }), paths)).not.toBe(k);
    expect(pkey(withRequest({}, { accept: "text/html" }), paths)).not.toBe(k);
    // Read whole, `request` and `request.headers` are quieted as in a whole-input key.
    for (const p of [[["request"]], [["request", "headers"]]]) {
      expect(pkey(withRequest({ time_ns: 5 }, { "X-Request-ID": "r-9", traceparent: "t" }), p)).toBe(
        pkey(withRequest({}, { "X-Request-ID": "r-1" }), p),
      );
      expect(pkey(withRequest({}, { accept: "text/html" }), p)).not.toBe(pkey(input(), p));
    }
    // The age: left out, the issue time names the result; without an issue time not cacheable.
    const att = (age: number) => input({ attestation: { status: "affirming", age_seconds: age } });
    expect(pkey(att(12))).toBeUndefined();
    for (const p of [READ, [["attestation"]]]) {
      const at = pkey(att(12), p, { attestationIssuedAt: 1_700_000_000 });
      expect(pkey(att(40), p, { attestationIssuedAt: 1_700_000_000 })).toBe(at);
      expect(pkey(att(12), p, { attestationIssuedAt: 1_700_000_100 })).not.toBe(at);
    }
    // A non-numeric age is a value like any other.
    const odd = (age: unknown) => input({ attestation: { status: "affirming", age_seconds: age } });
    expect(pkey(odd("12"))).not.toBe(pkey(odd("13")));
    const deep = [["attestation", "age_seconds", "n"]];
    expect(pkey(odd({ n: 1 }), deep)).not.toBe(pkey(odd({ n: 2 }), deep));
  });

  it("holds the subjects, in any order, for whole-input keys too", () => {
    const two = ["spiffe://demo/agent/a", "user:alice"];
    const k = pkey(input(), READ, { subjects: two });
    expect(pkey(input(), READ, { subjects: [...two].reverse() })).toBe(k);
    expect(pkey(input(), READ, { subjects: ["spiffe://demo/agent/a"] })).not.toBe(k);
    expect(pkey(input(), READ, { subjects: ["user:bob", "spiffe://demo/agent/a"] })).not.toBe(k);
    expect(key(input(), { subjects: ["a"] })).not.toBe(key(input(), { subjects: ["b"] }));
    // Length prefixes: subjects cannot run into each other.
    expect(key(input(), { subjects: ["a:1:b"] })).not.toBe(key(input(), { subjects: ["a", "b"] }));
  });

  it("never equals a whole-input key or a key for another path list", () => {
    const i = { segment: "payments" };
    expect(keyText(parts(i, { inputPaths: [["segment"]] }))).toMatch(
      /\|p:1:[A-Za-z0-9_-]{22}:\{"0":"payments"\}$/,
    );
    expect(keyText(parts(i))).toMatch(/\|f:\{"segment":"payments"\}$/);
    expect(pkey(i, [["segment"]])).not.toBe(pkey(i, [["segment"], ["x"]]));
    expect(pkey({ a: 1, b: 1 }, [["a"]])).not.toBe(pkey({ a: 1, b: 1 }, [["b"]]));
    // The same path list as another array: the same key.
    expect(pkey(i, [["segment"]])).toBe(pkey(i, [["segment"]]));
  });

  it("does not modify the input", () => {
    const a = withRequest({ time_ns: 7 }, { "x-request-id": "r" });
    const snapshot = JSON.stringify(a);
    pkey(a, [["request"], ["attestation"]]);
    expect(JSON.stringify(a)).toBe(snapshot);
  });
});

describe("decision key digests and subject texts are remembered, never stale", () => {
  it("a repeated key text gives the SHA-256 of that text, and a frozen subject list its own text", async () => {
    const { hash } = await import("node:crypto");
    const subjects = Object.freeze(["spiffe://corp.example/agent/b", "agent-a"]);
    const parts: KeyParts = { revision: "r1", entrypoint: "p/decision", input: input(), subjects };
    for (let i = 0; i < 3; i++) {
      const text = keyText(parts)!;
      expect(text).toContain("s2:7:agent-a:29:spiffe://corp.example/agent/b");
      expect(decisionKey(parts)).toBe(`pd1:${hash("sha256", text, "base64url")}`);
    }
    // Another (unfrozen, unsorted) list with other subjects gets its own text and key.
    const other = { ...parts, subjects: ["z", "agent-a"] };
    expect(keyText(other)).toContain("s2:7:agent-a:1:z|");
    expect(decisionKey(other)).not.toBe(decisionKey(parts));
  });
});
