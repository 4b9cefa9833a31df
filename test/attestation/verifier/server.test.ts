// The reference verifier as a real HTTP server: the Veraison-shaped session API, appraisal against
// reference values with an honest trust vector, every evidence rejection, and its config checks.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EarVerifier } from "../../../attestation/ear/verify.js";
import { EAR_DRAFT_PROFILE, VERAISON_PROFILE } from "../../../attestation/ear/profiles.js";
import { loadPrivateKey, loadPublicKey, type LoadedPrivateKey } from "../../../attestation/keys.js";
import {
  DEMO_CONFIG_HASH,
  DEMO_IMAGE_DIGEST,
  EVIDENCE_MEDIA_TYPE,
  parseVerifierConfig,
  signEvidence,
  startVerifier,
  VerifierConfigError,
  type Measurements,
  type RunningVerifier,
} from "../../../attestation/verifier/index.js";
import { ensureDevPki, type DevPki } from "../../../gateway/pki/index.js";
import { newKey } from "../helpers.js";

const PLANNER = "spiffe://demo.portcullis/agent/planner";
const BAD_DIGEST = "sha256:" + "ba".repeat(32);
const DENIED_DIGEST = "sha256:" + "de".repeat(32);
const GOOD: Measurements = {
  image_digest: DEMO_IMAGE_DIGEST,
  config_hash: DEMO_CONFIG_HASH,
  runtime: { debug: false },
};

let dir: string;
let pki: DevPki;
let agentKey: LoadedPrivateKey;
let verifierKey: LoadedPrivateKey;
const running: RunningVerifier[] = [];

function configText(extra = ""): string {
  return [
    "listen: 127.0.0.1:0",
    "signing_key: verifier.key",
    "reference_values:",
    `  image_digests: ["${DEMO_IMAGE_DIGEST}"]`,
    `  denied_image_digests: ["${DENIED_DIGEST}"]`,
    `  config_hashes: ["${DEMO_CONFIG_HASH}"]`,
    "  runtime: {debug: false}",
    "attesters:",
    "  - name: agent",
    "    public_key: agent.pem",
    extra,
  ].join("\n");
}

async function start(extra = ""): Promise<RunningVerifier> {
  const v = await startVerifier(parseVerifierConfig(configText(extra), join(dir, "verifier.yaml")));
  running.push(v);
  return v;
}

interface SessionBody {
  nonce: string;
  expiry: string;
  accept: string[];
  state: string;
  evidence?: { type: string; value: string };
  result?: string;
}

async function newSession(
  base: string,
  query = "nonceSize=32",
): Promise<{ location: string; body: SessionBody }> {
  const res = await fetch(`${base}/challenge-response/v1/newSession?${query}`, {
    method: "POST",
    headers: { accept: "application/rats-challenge-response-session+json" },
  });
  expect(res.status).toBe(201);
  expect(res.headers.get("content-type")).toBe("application/rats-challenge-response-session+json");
  return {
    location: new URL(res.headers.get("location")!, base).href,
    body: (await res.json()) as SessionBody,
  };
}

async function submit(location: string, evidence: string, type = EVIDENCE_MEDIA_TYPE) {
  const res = await fetch(location, { method: "POST", headers: { "content-type": type }, body: evidence });
  return { status: res.status, body: (await res.json()) as SessionBody & { code?: string; detail?: string } };
}

/** The whole exchange with the agent key (or another); returns the verified EAR. */
async function attest(v: RunningVerifier, m: Measurements, key = agentKey, profiles = ["veraison", "draft"]) {
  const s = await newSession(v.url);
  const r = await submit(s.location, await signEvidence(key, { nonce: s.body.nonce, measurements: m }));
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.state).toBe("complete");
  const ear = await new EarVerifier({
    name: "ref",
    jwks_url: `${v.url}/.well-known/jwks.json`,
    profiles,
  }).verify(r.body.result!, { nonce: s.body.nonce });
  return { ear, session: s, response: r.body };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-verifier-"));
  pki = await ensureDevPki({ dir, svids: [{ name: "agent", spiffeId: PLANNER }], tokens: [] });
  agentKey = loadPrivateKey(pki.svids.agent!.keyPem);
  verifierKey = newKey();
  writeFileSync(join(dir, "verifier.key"), verifierKey.key.export({ format: "pem", type: "pkcs8" }));
});
afterAll(async () => {
  await Promise.all(running.map((v) => v.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("reference verifier: appraisal", () => {
  it("affirms matching measurements and binds the EAR to the registered SVID", async () => {
    const v = await start();
    const { ear, session, response } = await attest(v, GOOD);
    expect(ear.profile).toBe(VERAISON_PROFILE);
    expect(ear.status).toBe("affirming");
    expect(ear.submods.agent!.trust_vector).toEqual({
      "instance-identity": { tier: "affirming", value: 2 },
      executables: { tier: "affirming", value: 2 },
      configuration: { tier: "affirming", value: 2 },
    });
    expect(ear.submods.agent!.policy_ids[0]).toMatch(/^urn:portcullis:verifier:policy:[0-9a-f]{16}$/);
    expect(ear.submods.agent!.nonce).toBe(session.body.nonce);
    expect(ear.claims.sub).toBe(PLANNER);
    expect(ear.claims.cnf).toEqual({ "x5t#S256": loadPublicKey(pki.svids.agent!.certPem).cert!.x5tS256 });
    expect(response.evidence!.type).toBe(EVIDENCE_MEDIA_TYPE);
    expect(ear.expiresAt! - ear.issuedAt).toBe(300);
  });

  it("does not affirm executables for an image digest that is not a reference value", async () => {
    const v = await start();
    const { ear } = await attest(v, { ...GOOD, image_digest: BAD_DIGEST });
    expect(ear.trustVector.executables).toEqual({ tier: "warning", value: 33 });
    expect(ear.status).toBe("warning");
  });

  it("contraindicates a denied image digest", async () => {
    const v = await start();
    const { ear } = await attest(v, { ...GOOD, image_digest: DENIED_DIGEST });
    expect(ear.trustVector.executables).toEqual({ tier: "contraindicated", value: 96 });
    expect(ear.status).toBe("contraindicated");
  });

  it("warns on an unknown config hash and on runtime facts that differ from the reference", async () => {
    const v = await start();
    const unknownConfig = await attest(v, { ...GOOD, config_hash: BAD_DIGEST });
    expect(unknownConfig.ear.trustVector.configuration).toEqual({ tier: "warning", value: -33 });
    const debug = await attest(v, { ...GOOD, runtime: { debug: true } });
    expect(debug.ear.trustVector.configuration).toEqual({ tier: "warning", value: -34 });
    expect(debug.ear.trustVector.executables!.tier).toBe("affirming");
    expect(debug.ear.status).toBe("warning");
  });

  it("claims runtime-opaque only when TEE types are configured", async () => {
    const v = await start();
    expect((await attest(v, GOOD)).ear.trustVector["runtime-opaque"]).toBeUndefined();
    const withTee = await startVerifier(
      parseVerifierConfig(
        configText().replace("  runtime: {debug: false}", "  tee: [sev-snp]"),
        join(dir, "v.yaml"),
      ),
    );
    running.push(withTee);
    const none = await attest(withTee, GOOD);
    expect(none.ear.trustVector["runtime-opaque"]).toEqual({ tier: "contraindicated", value: 96 });
    const tee = await attest(withTee, { ...GOOD, runtime: { tee: "sev-snp" } });
    expect(tee.ear.trustVector["runtime-opaque"]).toEqual({ tier: "affirming", value: 2 });
  });

  it("issues the draft profile when configured, with a top-level ear_status", async () => {
    const v = await startVerifier(
      parseVerifierConfig(configText().replace("listen:", "profile: draft\nlisten:"), join(dir, "d.yaml")),
    );
    running.push(v);
    const { ear } = await attest(v, GOOD);
    expect(ear.profile).toBe(EAR_DRAFT_PROFILE);
    expect(ear.claims.ear_status).toBe("affirming");
    expect(ear.claims.ear_verifier_id).toEqual(ear.verifierId);
    // A relying party that accepts only Veraison's profile refuses it.
    await expect(
      new EarVerifier({
        name: "ref",
        jwks_url: `${v.url}/.well-known/jwks.json`,
        profiles: ["veraison"],
      }).verify((await attest(v, GOOD)).response.result!),
    ).rejects.toThrow(/eat_profile/);
  });
});

describe("reference verifier: refused evidence", () => {
  let v: RunningVerifier;
  beforeAll(async () => {
    v = await start();
  });

  it("refuses evidence whose signature does not verify, and the session is then spent", async () => {
    const s = await newSession(v.url);
    const forged = await signEvidence(
      { ...newKey(), kid: agentKey.kid },
      { nonce: s.body.nonce, measurements: GOOD },
    );
    const r = await submit(s.location, forged);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("signature");
    expect(r.body.result).toBeUndefined();
    const state = (await (await fetch(s.location)).json()) as SessionBody;
    expect(state.state).toBe("failed");
    const again = await submit(
      s.location,
      await signEvidence(agentKey, { nonce: s.body.nonce, measurements: GOOD }),
    );
    expect(again.status).toBe(409);
  });

  it("refuses evidence from an attester key it does not know", async () => {
    const s = await newSession(v.url);
    const r = await submit(
      s.location,
      await signEvidence(newKey(), { nonce: s.body.nonce, measurements: GOOD }),
    );
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("unknown_attester");
  });

  it("refuses evidence over another nonce", async () => {
    const s = await newSession(v.url);
    const r = await submit(
      s.location,
      await signEvidence(agentKey, { nonce: Buffer.alloc(32, 9).toString("base64"), measurements: GOOD }),
    );
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("nonce");
  });

  it("refuses malformed evidence, wrong media types and stale evidence", async () => {
    let s = await newSession(v.url);
    expect((await submit(s.location, "garbage")).status).toBe(400);
    s = await newSession(v.url);
    const ok = await signEvidence(agentKey, { nonce: s.body.nonce, measurements: GOOD });
    expect((await submit(s.location, ok, "application/json")).status).toBe(415);
    s = await newSession(v.url);
    const old = await signEvidence(agentKey, {
      nonce: s.body.nonce,
      measurements: GOOD,
      iat: Math.floor(Date.now() / 1000) - 3600,
    });
    const r = await submit(s.location, old);
    expect(r.status).toBe(400);
    expect(r.body.code).toBe("stale");
    s = await newSession(v.url);
    const big = await fetch(s.location, {
      method: "POST",
      headers: { "content-type": EVIDENCE_MEDIA_TYPE },
      body: "x".repeat(100_000),
    });
    expect(big.status).toBe(413);
  });
});

describe("reference verifier: API", () => {
  it("takes a caller's nonce (standard or URL-safe base64) and bounds nonce sizes", async () => {
    const v = await start();
    const nonce = Buffer.alloc(16, 0xfb);
    const s = await newSession(v.url, `nonce=${encodeURIComponent(nonce.toString("base64url"))}`);
    expect(s.body.nonce).toBe(nonce.toString("base64"));
    expect(s.body.accept).toEqual([EVIDENCE_MEDIA_TYPE]);
    expect(s.body.state).toBe("waiting");
    for (const q of ["nonceSize=4", "nonceSize=65", "nonceSize=abc", "nonce=AAAA", "nonce=%21%21"]) {
      const res = await fetch(`${v.url}/challenge-response/v1/newSession?${q}`, { method: "POST" });
      expect(res.status, q).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("publishes its key, answers health, and 404s unknown sessions; DELETE ends a session", async () => {
    const v = await start();
    const jwks = (await (await fetch(`${v.url}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    expect(jwks.keys.map((k) => k.kid)).toEqual([verifierKey.kid]);
    const wk = (await (await fetch(`${v.url}/.well-known/veraison/verification`)).json()) as Record<
      string,
      unknown
    >;
    expect(wk["media-types"]).toEqual([EVIDENCE_MEDIA_TYPE]);
    expect((await fetch(`${v.url}/health`)).status).toBe(200);
    expect((await fetch(`${v.url}/challenge-response/v1/session/${"0".repeat(32)}`)).status).toBe(404);
    const s = await newSession(v.url);
    expect((await fetch(s.location, { method: "DELETE" })).status).toBe(204);
    expect((await fetch(s.location)).status).toBe(404);
  });

  it("refuses new sessions when its session table is full", async () => {
    const v = await start("max_sessions: 2");
    await newSession(v.url);
    await newSession(v.url);
    const res = await fetch(`${v.url}/challenge-response/v1/newSession?nonceSize=16`, { method: "POST" });
    expect(res.status).toBe(503);
  });
});

describe("reference verifier: config", () => {
  it("reports every problem with file, line and key path", () => {
    const text = [
      "listen: nowhere",
      "profile: fancy",
      "signing_key: missing.key",
      "colour: blue",
      "reference_values:",
      "  image_digests: [md5]",
      "attesters:",
      "  - name: a",
      "    public_key: agent.pem",
      "  - name: a",
      "    public_key: agent.pem",
    ].join("\n");
    let err: VerifierConfigError | undefined;
    try {
      parseVerifierConfig(text, join(dir, "bad.yaml"));
    } catch (e) {
      err = e as VerifierConfigError;
    }
    expect(err).toBeInstanceOf(VerifierConfigError);
    const msg = err!.message;
    expect(msg).toMatch(/bad\.yaml:1:\d+: listen: must be host:port/);
    expect(msg).toMatch(/bad\.yaml:2:\d+: profile: unknown EAR profile/);
    expect(msg).toMatch(/signing_key: not found/);
    expect(msg).toMatch(/bad\.yaml:4:\d+: colour: unknown key/);
    expect(msg).toMatch(/reference_values\.image_digests\[0\]: must look like sha256/);
    expect(msg).toMatch(/attesters\[1\]\.name: duplicate attester name/);
    expect(msg).toMatch(/attesters\[1\]\.public_key: same key as attester/);
  });

  it("takes the attester's workload id from its SVID, or from config", () => {
    const fromCert = parseVerifierConfig(configText(), join(dir, "verifier.yaml"));
    expect(fromCert.attesters[0]!.id).toBe(PLANNER);
    const explicit = parseVerifierConfig(
      configText("    id: wimse://demo.portcullis/agent/x"),
      join(dir, "verifier.yaml"),
    );
    expect(explicit.attesters[0]!.id).toBe("wimse://demo.portcullis/agent/x");
    expect(() => parseVerifierConfig(configText("    id: https://x"), join(dir, "verifier.yaml"))).toThrow(
      /spiffe:\/\/ or wimse:\/\//,
    );
  });
});
