// Binding a verified result to the caller: by workload identifier, by the client certificate's
// thumbprint, by the DPoP key — and a result about another agent never counts.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bindResult } from "../../attestation/binding.js";
import { jwkThumbprint, loadPublicKey } from "../../attestation/keys.js";
import { ensureDevPki, type DevPki } from "../../gateway/pki/index.js";
import { newKey } from "./helpers.js";

const PLANNER = "spiffe://demo.portcullis/agent/planner";
const OTHER = "spiffe://demo.portcullis/agent/other";
let pki: DevPki;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-bind-"));
  pki = await ensureDevPki({
    dir,
    svids: [
      { name: "agent", spiffeId: PLANNER },
      { name: "other", spiffeId: OTHER },
    ],
    tokens: [],
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the gateway computes for a client certificate on the connection (RFC 8705). */
function thumbprintOf(certPem: string): string {
  const der = Buffer.from(certPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  return createHash("sha256").update(der).digest("base64url");
}

describe("bindResult", () => {
  it("binds by SPIFFE ID or WIMSE identifier, compared as whole URIs", () => {
    expect(bindResult({ sub: PLANNER }, { spiffeId: PLANNER })).toEqual({
      bound: true,
      method: "sub",
      identity: PLANNER,
    });
    const wimse = "wimse://demo.portcullis/agent/planner";
    expect(bindResult({ sub: wimse }, { workloadId: wimse })).toMatchObject({ bound: true, method: "sub" });
    // No prefix matching: a result for /agent/planner does not cover /agent/planner/child.
    const child = bindResult({ sub: PLANNER }, { spiffeId: `${PLANNER}/child` });
    expect(child.bound).toBe(false);
  });

  it("binds by the client certificate's x5t#S256 as the verifier computes it from the registered SVID", () => {
    const x5t = loadPublicKey(pki.svids.agent!.certPem).cert!.x5tS256;
    expect(x5t).toBe(thumbprintOf(pki.svids.agent!.certPem));
    const r = bindResult(
      { cnf: { "x5t#S256": x5t } },
      { certThumbprint: thumbprintOf(pki.svids.agent!.certPem) },
    );
    expect(r).toEqual({ bound: true, method: "x5t#S256", identity: x5t });
    const wrong = bindResult(
      { cnf: { "x5t#S256": x5t } },
      { certThumbprint: thumbprintOf(pki.svids.other!.certPem) },
    );
    expect(wrong).toEqual({
      bound: false,
      reason: expect.stringContaining("not the client certificate of this connection") as string,
    });
  });

  it("binds by DPoP key: cnf.jkt, or cnf.jwk thumbprinted", () => {
    const k = newKey();
    expect(bindResult({ cnf: { jkt: k.kid } }, { dpopJkt: k.kid })).toMatchObject({
      bound: true,
      method: "jkt",
    });
    const jwk = { kty: k.publicJwk.kty, crv: k.publicJwk.crv, x: k.publicJwk.x, y: k.publicJwk.y };
    expect(jwkThumbprint(jwk)).toBe(k.kid);
    expect(bindResult({ cnf: { jwk } }, { dpopJkt: k.kid })).toMatchObject({ bound: true, method: "jkt" });
    expect(bindResult({ cnf: { jkt: k.kid } }, { dpopJkt: newKey().kid }).bound).toBe(false);
  });

  it("adversarial: a DPoP key binding only counts for the key this request proved", () => {
    const k = newKey();
    const other = newKey();
    const jwk = { kty: k.publicJwk.kty, crv: k.publicJwk.crv, x: k.publicJwk.x, y: k.publicJwk.y };
    // Another agent's key, even next to a matching SPIFFE ID: the result was for whoever holds that key.
    expect(
      bindResult({ sub: PLANNER, cnf: { jkt: other.kid } }, { spiffeId: PLANNER, dpopJkt: k.kid }),
    ).toEqual({
      bound: false,
      reason: expect.stringContaining("not the DPoP key of this request") as string,
    });
    // cnf.jkt and cnf.jwk disagreeing: neither spelling is trusted.
    const split = bindResult({ cnf: { jkt: other.kid, jwk } }, { dpopJkt: k.kid });
    expect(split).toEqual({ bound: false, reason: expect.stringContaining("different keys") as string });
    // A wrongly typed member is a broken result, not one whose key binding is skipped in favour of sub.
    for (const cnf of [{ jkt: 42 }, { "x5t#S256": ["a"] }]) {
      const r = bindResult({ sub: PLANNER, cnf }, { spiffeId: PLANNER, dpopJkt: k.kid });
      expect(r).toEqual({ bound: false, reason: expect.stringContaining("is not a string") as string });
    }
    expect(bindResult({ cnf: { jwk: "x" } }, { dpopJkt: k.kid }).bound).toBe(false);
    // No DPoP key proved on this request: a key-only result cannot count.
    expect(bindResult({ cnf: { jkt: k.kid } }, { spiffeId: PLANNER }).bound).toBe(false);
  });

  it("gives none with a reason for a result about another agent", () => {
    const r = bindResult({ sub: OTHER }, { spiffeId: PLANNER, certThumbprint: "abc" });
    expect(r.bound).toBe(false);
    if (!r.bound) {
      expect(r.reason).toContain("another workload");
      expect(r.reason).toContain(OTHER);
    }
  });

  it("refuses when any checkable binding contradicts the caller, even if another matches", () => {
    const x5t = thumbprintOf(pki.svids.other!.certPem);
    // Right name, wrong certificate: the result was for the workload holding another key.
    const r = bindResult(
      { sub: PLANNER, cnf: { "x5t#S256": x5t } },
      { spiffeId: PLANNER, certThumbprint: thumbprintOf(pki.svids.agent!.certPem) },
    );
    expect(r.bound).toBe(false);
  });

  it("refuses results that name nobody, or name only what this request did not prove", () => {
    expect(bindResult({}, { spiffeId: PLANNER })).toEqual({
      bound: false,
      reason: expect.stringContaining("names no workload") as string,
    });
    const unprovable = bindResult({ cnf: { jkt: "abc" } }, { spiffeId: PLANNER });
    expect(unprovable).toEqual({ bound: false, reason: expect.stringContaining("proves none") as string });
    expect(bindResult({ sub: 42 }, { spiffeId: PLANNER }).bound).toBe(false);
    expect(bindResult({ cnf: "x" }, { spiffeId: PLANNER }).bound).toBe(false);
    expect(bindResult({ cnf: { jwk: { kty: "oct", k: "AA" } } }, { dpopJkt: "x" }).bound).toBe(false);
  });
});
