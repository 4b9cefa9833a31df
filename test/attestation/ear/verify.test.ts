// EAR verification with real keys, real signed JWTs and a real JWKS server: both profiles, every
// rejection path, and the status arithmetic (worst submodule, vector worse than the stated tier).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EarError } from "../../../attestation/ear/errors.js";
import { EAR_DRAFT_PROFILE, VERAISON_PROFILE } from "../../../attestation/ear/profiles.js";
import { EarVerifier, type EarVerifierOptions } from "../../../attestation/ear/verify.js";
import {
  deadPort,
  draftClaims,
  jwksOf,
  newKey,
  now,
  serveJwks,
  signEarClaims,
  veraisonClaims,
  VERIFIER_ID,
  type TestServer,
} from "../helpers.js";

const key = newKey();
const otherKey = newKey();
let jwksServer: TestServer;
let dir: string;

beforeAll(async () => {
  jwksServer = await serveJwks(jwksOf(key));
  dir = mkdtempSync(join(tmpdir(), "portcullis-ear-"));
});
afterAll(async () => {
  await jwksServer.close();
  rmSync(dir, { recursive: true, force: true });
});

function verifier(o: Partial<EarVerifierOptions> = {}): EarVerifier {
  return new EarVerifier({ name: "test-verifier", jwks: jwksOf(key), ...o });
}

async function rejection(p: Promise<unknown>): Promise<EarError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(EarError);
  return e as EarError;
}

describe("EAR profiles", () => {
  it("parses the draft profile: claim names, tiers, raw values, verifier id, validity", async () => {
    const v = verifier({ jwks: undefined, jwks_url: `${jwksServer.url}/jwks.json`, max_age_s: 120 });
    const claims = draftClaims({ ear_status: "affirming" });
    const ear = await v.verify(await signEarClaims(key, claims));
    expect(ear.profile).toBe(EAR_DRAFT_PROFILE);
    expect(ear.verifier).toBe("test-verifier");
    expect(ear.verifierId).toEqual(VERIFIER_ID);
    expect(ear.status).toBe("affirming");
    expect(ear.submods.workload).toEqual({
      status: "affirming",
      verifier_status: "affirming",
      trust_vector: {
        "instance-identity": { tier: "affirming", value: 2 },
        executables: { tier: "affirming", value: 2 },
        configuration: { tier: "affirming", value: 2 },
      },
      policy_ids: ["urn:test:policy:1"],
    });
    // min(exp = iat + 300, iat + max age 120)
    expect(ear.validUntil).toBe((claims.iat as number) + 120);
    expect(ear.claims.sub).toBe("spiffe://demo.portcullis/agent/planner");
    expect(jwksServer.requests).toBeGreaterThan(0);
  });

  it("parses Veraison's profile: dotted claim names and a single appraisal policy id", async () => {
    const path = join(dir, "jwks.json");
    writeFileSync(path, JSON.stringify(jwksOf(key)));
    const v = verifier({ jwks: undefined, jwks_file: path });
    const ear = await v.verify(await signEarClaims(key, veraisonClaims()));
    expect(ear.profile).toBe(VERAISON_PROFILE);
    expect(ear.status).toBe("affirming");
    expect(ear.expiresAt).toBeUndefined();
    expect(ear.submods.PARSEC_TPM!.policy_ids).toEqual(["policy:PARSEC_TPM"]);
    expect(ear.trustVector.hardware).toEqual({ tier: "affirming", value: 2 });
  });

  it("does not read one profile's claim names under the other", async () => {
    // Veraison names under the draft profile: the draft parser finds no ear_status.
    const mixed = veraisonClaims({ eat_profile: EAR_DRAFT_PROFILE, ear_verifier_id: VERIFIER_ID });
    const e = await rejection(verifier().verify(await signEarClaims(key, mixed)));
    expect(e.code).toBe("malformed");
    expect(e.message).toContain("ear_status");
  });

  it("refuses unknown, unconfigured and missing profiles", async () => {
    const unknown = await rejection(
      verifier().verify(await signEarClaims(key, draftClaims({ eat_profile: "tag:example.com,2026:ear" }))),
    );
    expect(unknown.code).toBe("profile");
    const unconfigured = await rejection(
      verifier({ profiles: ["draft"] }).verify(await signEarClaims(key, veraisonClaims())),
    );
    expect(unconfigured.code).toBe("profile");
    const { eat_profile: _p, ...noProfile } = draftClaims();
    expect((await rejection(verifier().verify(await signEarClaims(key, noProfile)))).code).toBe("profile");
    expect(() => verifier({ profiles: ["tag:example.com,2026:ear"] })).toThrow(/unknown EAR profile/);
  });
});

describe("EAR signature and algorithms", () => {
  it("rejects a result from a key the verifier does not publish", async () => {
    const e = await rejection(verifier().verify(await signEarClaims(otherKey, draftClaims())));
    expect(e.code).toBe("unknown_key");
  });

  it("rejects a result signed by another key under the trusted kid", async () => {
    const e = await rejection(
      verifier().verify(await signEarClaims(otherKey, draftClaims(), { kid: key.kid })),
    );
    expect(e.code).toBe("signature");
  });

  it("rejects a tampered trust vector (signature no longer verifies)", async () => {
    const bad = draftClaims();
    (bad.submods as Record<string, Record<string, unknown>>).workload!.ear_trustworthiness_vector = {
      executables: 96,
    };
    (bad.submods as Record<string, Record<string, unknown>>).workload!.ear_status = "contraindicated";
    const token = await signEarClaims(key, bad);
    const [h, p, s] = token.split(".");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
    (payload.submods as Record<string, Record<string, unknown>>).workload = {
      ear_status: "affirming",
      ear_trustworthiness_vector: { executables: 2 },
    };
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${s}`;
    expect((await rejection(verifier().verify(forged))).code).toBe("signature");
    // The untouched token is still read as contraindicated.
    expect((await verifier().verify(token)).status).toBe("contraindicated");
  });

  it("enforces the algorithm allow-list", async () => {
    const p384 = newKey("P-384");
    const v = new EarVerifier({ name: "v", jwks: jwksOf(p384), algorithms: ["ES256"] });
    expect((await rejection(v.verify(await signEarClaims(p384, draftClaims())))).code).toBe("algorithm");
    expect(() => new EarVerifier({ name: "v", jwks: jwksOf(key), algorithms: ["HS256"] })).toThrow();
    expect(() => new EarVerifier({ name: "v", jwks: jwksOf(key), algorithms: ["none"] })).toThrow();
  });

  it("rejects unsigned and malformed tokens", async () => {
    const payload = Buffer.from(JSON.stringify(draftClaims())).toString("base64url");
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${payload}.`;
    for (const t of [
      none,
      "not-a-jwt",
      "a.b.c",
      "x".repeat(40_000),
      `${payload}.${payload}.${payload}.x.y`,
    ]) {
      expect((await rejection(verifier().verify(t))).code).toBe("malformed");
    }
  });

  it("rejects another token type signed by the same key", async () => {
    const e = await rejection(verifier().verify(await signEarClaims(key, draftClaims(), { typ: "at+jwt" })));
    expect(e.code).toBe("malformed");
    // The EAT media type is fine.
    await verifier().verify(await signEarClaims(key, draftClaims(), { typ: "application/eat-jwt" }));
  });

  it("reports unreachable keys as keys_unavailable, never as a verified result", async () => {
    const v = verifier({ jwks: undefined, jwks_url: `http://127.0.0.1:${await deadPort()}/jwks.json` });
    expect((await rejection(v.verify(await signEarClaims(key, draftClaims())))).code).toBe(
      "keys_unavailable",
    );
  });
});

describe("EAR freshness", () => {
  it("rejects an expired result", async () => {
    const t = await signEarClaims(key, draftClaims({ iat: now() - 200, exp: now() - 100 }));
    expect((await rejection(verifier().verify(t))).code).toBe("expired");
  });

  it("rejects a result older than the maximum age even without exp", async () => {
    const t = await signEarClaims(key, veraisonClaims({ iat: now() - 400 }));
    const e = await rejection(verifier({ max_age_s: 300 }).verify(t));
    expect(e.code).toBe("too_old");
    // The same token is fine under a longer maximum age.
    expect((await verifier({ max_age_s: 600 }).verify(t)).status).toBe("affirming");
  });

  it("tolerates bounded clock skew and no more", async () => {
    const soon = await signEarClaims(key, draftClaims({ iat: now() + 10 }));
    expect((await verifier({ clock_skew_s: 30 }).verify(soon)).status).toBe("affirming");
    const future = await signEarClaims(key, draftClaims({ iat: now() + 120 }));
    expect((await rejection(verifier({ clock_skew_s: 30 }).verify(future))).code).toBe("not_yet_valid");
    expect(() => verifier({ clock_skew_s: 3600 })).toThrow(/clock_skew_s/);
  });

  it("requires integer times", async () => {
    for (const extra of [{ iat: now() + 0.5 }, { iat: String(now()) }, { exp: now() + 60.5 }]) {
      const t = await signEarClaims(key, draftClaims(extra));
      expect((await rejection(verifier().verify(t))).code).toBe("malformed");
    }
    const { iat: _i, ...noIat } = draftClaims();
    expect((await rejection(verifier().verify(await signEarClaims(key, noIat)))).code).toBe("malformed");
  });

  it("checks eat_nonce against the nonce we issued, in either base64 alphabet", async () => {
    const bytes = Buffer.from("fb++/ff//fb++/ff//fb++/ff//fb+", "base64");
    const t = await signEarClaims(key, draftClaims({ eat_nonce: bytes.toString("base64") }));
    const ear = await verifier().verify(t, { nonce: bytes.toString("base64url") });
    expect(ear.nonces).toEqual([bytes.toString("base64")]);
    const other = await rejection(verifier().verify(t, { nonce: Buffer.alloc(24, 7).toString("base64url") }));
    expect(other.code).toBe("nonce");
    const missing = await rejection(
      verifier().verify(await signEarClaims(key, draftClaims()), { nonce: bytes.toString("base64url") }),
    );
    expect(missing.code).toBe("nonce");
  });
});

describe("EAR claims", () => {
  it("takes the worst submodule status", async () => {
    const claims = draftClaims({
      submods: {
        a: { ear_status: "affirming", ear_trustworthiness_vector: { executables: 2 } },
        b: { ear_status: "warning", ear_trustworthiness_vector: { executables: 33 } },
        c: { ear_status: "contraindicated", ear_trustworthiness_vector: { hardware: 97 } },
      },
    });
    const ear = await verifier().verify(await signEarClaims(key, claims));
    expect(ear.status).toBe("contraindicated");
    expect(ear.trustVector).toEqual({
      executables: { tier: "warning", value: 33 },
      hardware: { tier: "contraindicated", value: 97 },
    });
    expect(Object.keys(ear.submods)).toEqual(["a", "b", "c"]);
  });

  it("ranks none below warning and above affirming, so an unappraised component never looks good", async () => {
    const two = (s: string) =>
      draftClaims({ submods: { a: { ear_status: "affirming" }, b: { ear_status: s } } });
    expect((await verifier().verify(await signEarClaims(key, two("none")))).status).toBe("none");
    expect((await verifier().verify(await signEarClaims(key, two("warning")))).status).toBe("warning");
  });

  it("makes a submodule no better than its worst vector claim", async () => {
    const claims = draftClaims({
      submods: {
        w: {
          ear_status: "affirming",
          ear_trustworthiness_vector: { executables: 96, "file-system": -33, configuration: 0, made_up: 127 },
        },
      },
    });
    const ear = await verifier().verify(await signEarClaims(key, claims));
    expect(ear.submods.w!.verifier_status).toBe("affirming");
    expect(ear.submods.w!.status).toBe("contraindicated");
    // 0 is "no claim"; unknown keys are ignored.
    expect(ear.submods.w!.trust_vector).toEqual({
      executables: { tier: "contraindicated", value: 96 },
      "file-system": { tier: "warning", value: -33 },
    });
  });

  it("lets a worse top-level status win", async () => {
    const ear = await verifier().verify(await signEarClaims(key, draftClaims({ ear_status: "warning" })));
    expect(ear.status).toBe("warning");
  });

  it("rejects unknown status strings and out-of-range vector values", async () => {
    const bad = [
      { submods: { a: { ear_status: "AFFIRMING" } } },
      { submods: { a: { ear_status: "great" } } },
      { submods: { a: { ear_status: 2 } } },
      { submods: { a: { ear_status: "affirming", ear_trustworthiness_vector: { executables: 200 } } } },
      { submods: { a: { ear_status: "affirming", ear_trustworthiness_vector: { executables: -129 } } } },
      { submods: { a: { ear_status: "affirming", ear_trustworthiness_vector: { executables: 2.5 } } } },
      { submods: { a: { ear_status: "affirming", ear_trustworthiness_vector: { executables: "2" } } } },
      { submods: { a: { ear_status: "affirming", ear_trustworthiness_vector: [2] } } },
      { submods: {} },
      { submods: [] },
      { ear_status: "excellent" },
      { ear_verifier_id: "veraison" },
      { eat_nonce: 42 },
    ];
    for (const extra of bad) {
      const e = await rejection(verifier().verify(await signEarClaims(key, draftClaims(extra))));
      expect(e.code, JSON.stringify(extra)).toBe("malformed");
    }
  });

  it("keeps a __proto__ submodule label as plain data", async () => {
    const payload = JSON.stringify(draftClaims()).replace('"workload"', '"__proto__"');
    const ear = await verifier().verify(
      await signEarClaims(key, JSON.parse(payload) as Record<string, unknown>),
    );
    expect(Object.keys(ear.submods)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(ear.submods)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).status).toBeUndefined();
  });

  it("checks the verifier identity against the allow-list", async () => {
    const t = await signEarClaims(key, draftClaims());
    expect((await verifier({ developers: [VERIFIER_ID.developer] }).verify(t)).status).toBe("affirming");
    expect((await rejection(verifier({ developers: ["https://other.example"] }).verify(t))).code).toBe(
      "verifier",
    );
  });
});
