import { describe, expect, it } from "vitest";
import { AuthnCombiner, type AuthnExpr } from "../../../gateway/authn/combine.js";
import { MtlsAuthenticator } from "../../../gateway/authn/mtls.js";
import { AuthnError, type Authenticator, type AuthnResult } from "../../../gateway/authn/types.js";
import { facts } from "./helpers.js";

type Outcome = "ok" | "missing" | "error";

/** A real Authenticator whose outcome is chosen per test (the combiner is what is under test). */
function fixed(
  name: string,
  outcome: Outcome,
  code: "invalid_token" | "invalid_request" = "invalid_token",
): Authenticator {
  return {
    name,
    async authenticate(): Promise<AuthnResult> {
      if (outcome === "ok") return { kind: "ok", identity: { method: name, subject: `sub-${name}` } };
      if (outcome === "error") return { kind: "error", error: new AuthnError(code, `${name} failed`) };
      return { kind: "none" };
    },
  };
}

const OUTCOMES: Outcome[] = ["ok", "missing", "error"];

async function run(expr: AuthnExpr, a: Outcome, b: Outcome) {
  return new AuthnCombiner(expr, [fixed("a", a), fixed("b", b, "invalid_request")]).authenticate(facts({}));
}

describe("combine: every pair of outcomes", () => {
  for (const a of OUTCOMES) {
    for (const b of OUTCOMES) {
      it(`all[a=${a}, b=${b}]`, async () => {
        const r = await run({ all: ["a", "b"] }, a, b);
        if (a === "error") expect(!r.ok && r.error.description).toBe("a failed");
        else if (b === "error") expect(!r.ok && r.error.code).toBe("invalid_request");
        else if (a === "missing" || b === "missing") expect(!r.ok && r.error.code).toBe("missing");
        else expect(r.ok && r.methods).toEqual(["a", "b"]);
      });
      it(`any[a=${a}, b=${b}]`, async () => {
        const r = await run({ any: ["a", "b"] }, a, b);
        if (a === "error") expect(!r.ok && r.error.description).toBe("a failed");
        else if (b === "error") expect(!r.ok && r.error.code).toBe("invalid_request");
        else if (a === "ok" || b === "ok") {
          expect(r.ok && r.methods).toEqual([a, b].flatMap((o, i) => (o === "ok" ? [["a", "b"][i]] : [])));
        } else expect(!r.ok && r.error.code).toBe("missing");
      });
    }
  }
});

describe("combine: identity and nesting", () => {
  const peer = { spiffeId: "spiffe://corp.example/agent/planner", trustDomain: "corp.example" };

  it("token identity wins over mTLS for the subject; mTLS alone names the caller", async () => {
    const c = new AuthnCombiner({ all: ["mtls", "bearer"] }, [
      new MtlsAuthenticator(),
      fixed("bearer", "ok"),
    ]);
    const r = await c.authenticate(facts({}, peer));
    expect(r.ok && r.methods).toEqual(["mtls", "bearer"]);
    expect(r.ok && r.identity.subject).toBe("sub-bearer");
    expect(r.ok && r.identities.mtls.subject).toBe(peer.spiffeId);
    const only = await new AuthnCombiner("mtls", [new MtlsAuthenticator()]).authenticate(facts({}, peer));
    expect(only.ok && only.identity.subject).toBe(peer.spiffeId);
    const none = await new AuthnCombiner("mtls", [new MtlsAuthenticator()]).authenticate(facts({}));
    expect(!none.ok && none.error.code).toBe("missing");
  });

  it("the issue's example: any[all[mtls,bearer], all[mtls,api_key]]", async () => {
    const expr: AuthnExpr = { any: [{ all: ["mtls", "bearer"] }, { all: ["mtls", "api_key"] }] };
    const make = (bearer: Outcome, apiKey: Outcome) =>
      new AuthnCombiner(expr, [new MtlsAuthenticator(), fixed("bearer", bearer), fixed("api_key", apiKey)]);
    const viaKey = await make("missing", "ok").authenticate(facts({}, peer));
    expect(viaKey.ok && viaKey.methods).toEqual(["mtls", "api_key"]);
    const noCert = await make("ok", "missing").authenticate(facts({}));
    expect(!noCert.ok && noCert.error.code).toBe("missing");
    // A bad token next to a good key is not silently dropped.
    const badToken = await make("error", "ok").authenticate(facts({}, peer));
    expect(!badToken.ok && badToken.error.code).toBe("invalid_token");
  });

  it("each authenticator runs once even when named twice", async () => {
    let calls = 0;
    const counted: Authenticator = { name: "x", authenticate: async () => (calls++, { kind: "none" }) };
    await new AuthnCombiner({ any: ["x", { all: ["x"] }] }, [counted]).authenticate(facts({}));
    expect(calls).toBe(1);
  });

  it("a throwing authenticator fails closed", async () => {
    const boom: Authenticator = {
      name: "boom",
      authenticate: () => Promise.reject(new Error("bug")),
    };
    const r = await new AuthnCombiner({ any: ["boom", "ok"] }, [boom, fixed("ok", "ok")]).authenticate(
      facts({}),
    );
    expect(!r.ok && r.error.code).toBe("unavailable");
  });

  it("rejects bad expressions at start-up", () => {
    const auths = [fixed("a", "ok")];
    expect(() => new AuthnCombiner("nope", auths)).toThrow(/unknown authenticator/);
    expect(() => new AuthnCombiner({ any: [] }, auths)).toThrow(/non-empty/);
    expect(() => new AuthnCombiner({ any: ["a"], all: ["a"] } as unknown as AuthnExpr, auths)).toThrow();
  });
});

describe("combine: a repeat of the same identities reuses the outcome", () => {
  const peer = { spiffeId: "spiffe://corp.example/agent/planner", trustDomain: "corp.example" };

  /** Returns whatever `next` currently holds, synchronously (as a cached bearer token does). */
  function switchable(name: string, next: { result: AuthnResult }): Authenticator {
    return {
      name,
      authenticate: () => Promise.resolve(next.result),
      authenticateSync: () => next.result,
    };
  }

  it("same peer and same token identity: the same frozen result; any change: a fresh one", () => {
    const token = { method: "bearer", subject: "agent-1" };
    const next: { result: AuthnResult } = { result: { kind: "ok", identity: token } };
    const c = new AuthnCombiner({ all: ["mtls", "bearer"] }, [
      new MtlsAuthenticator(),
      switchable("bearer", next),
    ]);
    const first = c.authenticateSync(facts({}, peer));
    // A new result object with the same identity (as every bearer cache hit is) still counts as a repeat.
    next.result = { kind: "ok", identity: token };
    const second = c.authenticateSync(facts({}, peer));
    expect(second).toBe(first);
    expect(Object.isFrozen(second)).toBe(true);
    expect(second?.ok && Object.isFrozen(second.methods)).toBe(true);

    next.result = { kind: "ok", identity: { method: "bearer", subject: "agent-2" } };
    const other = c.authenticateSync(facts({}, peer));
    expect(other).not.toBe(first);
    expect(other?.ok && other.identity.subject).toBe("agent-2");

    next.result = { kind: "error", error: new AuthnError("invalid_token", "bad") };
    const failed = c.authenticateSync(facts({}, peer));
    expect(failed?.ok).toBe(false);
    next.result = { kind: "none" };
    const missing = c.authenticateSync(facts({}, peer));
    expect(!missing?.ok && missing?.error.code).toBe("missing");
  });

  it("an mTLS identity is reused per peer only while its facts are unchanged", () => {
    const m = new MtlsAuthenticator();
    const p = { ...peer, certThumbprint: "t1" };
    const a = m.authenticateSync(facts({}, p));
    expect(m.authenticateSync(facts({}, p))).toBe(a);
    expect(a.kind === "ok" && Object.isFrozen(a.identity)).toBe(true);
    p.certThumbprint = "t2";
    const b = m.authenticateSync(facts({}, p));
    expect(b).not.toBe(a);
    expect(b.kind === "ok" && b.identity.claims?.["x5t#S256"]).toBe("t2");
    const other = m.authenticateSync(facts({}, { ...peer, certThumbprint: "t1" }));
    expect(other.kind === "ok" && other.identity.subject).toBe(peer.spiffeId);
  });
});
