// appraise(request facts) → input.attestation, through real parts: the reference verifier as a real
// HTTP server, real dev SVIDs, gateway-issued nonces. Passport and background-check models, binding,
// replay, caching, and every failure ending as `status: none` with a reason.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CallerFacts } from "../../attestation/binding.js";
import { EarVerifier } from "../../attestation/ear/verify.js";
import { loadPrivateKey, type LoadedPrivateKey } from "../../attestation/keys.js";
import { MemoryNonceStore } from "../../attestation/nonce.js";
import { EarAttestationProvider } from "../../attestation/provider.js";
import {
  DEMO_CONFIG_HASH,
  DEMO_IMAGE_DIGEST,
  EVIDENCE_MEDIA_TYPE,
  parseVerifierConfig,
  signEvidence,
  startVerifier,
  type Measurements,
  type RunningVerifier,
} from "../../attestation/verifier/index.js";
import { VerifierClient } from "../../attestation/verifier_client.js";
import { ensureDevPki, type DevPki } from "../../gateway/pki/index.js";
import {
  deadPort,
  draftClaims,
  jwksOf,
  newKey,
  now,
  serve,
  signEarClaims,
  type TestServer,
} from "./helpers.js";

const PLANNER = "spiffe://demo.portcullis/agent/planner";
const OTHER = "spiffe://demo.portcullis/agent/other";
const GOOD: Measurements = { image_digest: DEMO_IMAGE_DIGEST, config_hash: DEMO_CONFIG_HASH };
const DENIED = "sha256:" + "de".repeat(32);

let dir: string;
let pki: DevPki;
let agentKey: LoadedPrivateKey;
let otherKey: LoadedPrivateKey;
let verifier: RunningVerifier;
let appraisals = 0;
const clients: VerifierClient[] = [];
const servers: TestServer[] = [];

function thumbprint(certPem: string): string {
  const der = Buffer.from(certPem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  return createHash("sha256").update(der).digest("base64url");
}

let planner: CallerFacts;
let other: CallerFacts;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-provider-"));
  pki = await ensureDevPki({
    dir,
    svids: [
      { name: "agent", spiffeId: PLANNER },
      { name: "other", spiffeId: OTHER },
    ],
    tokens: [],
  });
  agentKey = loadPrivateKey(pki.svids.agent!.keyPem);
  otherKey = loadPrivateKey(pki.svids.other!.keyPem);
  planner = { spiffeId: PLANNER, certThumbprint: thumbprint(pki.svids.agent!.certPem) };
  other = { spiffeId: OTHER, certThumbprint: thumbprint(pki.svids.other!.certPem) };
  writeFileSync(join(dir, "verifier.key"), newKey().key.export({ format: "pem", type: "pkcs8" }));
  const yaml = [
    "listen: 127.0.0.1:0",
    "signing_key: verifier.key",
    "reference_values:",
    `  image_digests: ["${DEMO_IMAGE_DIGEST}"]`,
    `  denied_image_digests: ["${DENIED}"]`,
    `  config_hashes: ["${DEMO_CONFIG_HASH}"]`,
    "attesters:",
    "  - name: agent",
    "    public_key: agent.pem",
    "  - name: other",
    "    public_key: other.pem",
  ].join("\n");
  verifier = await startVerifier(parseVerifierConfig(yaml, join(dir, "verifier.yaml")), (e) => {
    if (e.msg === "evidence appraised") appraisals++;
  });
});
afterAll(async () => {
  for (const c of clients) c.close();
  await verifier.close();
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

function earVerifier(): EarVerifier {
  return new EarVerifier({ name: "reference", jwks_url: `${verifier.url}/.well-known/jwks.json` });
}

function client(url = verifier.url, timeout_ms = 3000): VerifierClient {
  const c = new VerifierClient({ url, media_type: EVIDENCE_MEDIA_TYPE, timeout_ms });
  clients.push(c);
  return c;
}

/** What an agent does for a passport: evidence over the gateway's nonce → the verifier → an EAR. */
async function passportFor(key: LoadedPrivateKey, nonce: string, m: Measurements = GOOD): Promise<string> {
  const out = await client().appraise(await signEvidence(key, { nonce, measurements: m }), { nonce });
  if (!out.ok) throw out.failure;
  return out.ear;
}

describe("passport model", () => {
  it("affirms a fresh, bound passport once per nonce; re-presenting the same EAR is served from cache", async () => {
    const nonces = new MemoryNonceStore();
    const provider = new EarAttestationProvider({ verifiers: [earVerifier()], nonces, require_nonce: true });
    const { nonce } = await nonces.issue(PLANNER);
    const ear = await passportFor(agentKey, nonce);
    const first = await provider.appraise({ caller: planner, result: ear });
    expect(first).toMatchObject({
      status: "affirming",
      model: "passport",
      verifier: "reference",
      bound_to: { method: "sub", identity: PLANNER },
      trust_vector: { executables: { tier: "affirming", value: 2 } },
    });
    expect(first.age_seconds).toBeGreaterThanOrEqual(0);
    expect(first.age_seconds).toBeLessThan(60);
    expect(first.expires_at).toBe(first.issued_at! + 300);
    // Same token again: no second nonce consumption, same answer.
    expect((await provider.appraise({ caller: planner, result: ear })).status).toBe("affirming");
  });

  it("refuses a second result carrying an already used nonce (replay)", async () => {
    const nonces = new MemoryNonceStore();
    const provider = new EarAttestationProvider({ verifiers: [earVerifier()], nonces });
    const { nonce } = await nonces.issue(PLANNER);
    expect(
      (await provider.appraise({ caller: planner, result: await passportFor(agentKey, nonce) })).status,
    ).toBe("affirming");
    const replay = await provider.appraise({ caller: planner, result: await passportFor(agentKey, nonce) });
    expect(replay).toMatchObject({ status: "none", model: "passport" });
    expect(replay.reason).toContain("replay");
  });

  it("takes a nonce the gateway never issued as no nonce: timestamp freshness, unless nonces are required", async () => {
    const nonces = new MemoryNonceStore();
    const foreign = await passportFor(agentKey, Buffer.alloc(32, 5).toString("base64url"));
    const lenient = new EarAttestationProvider({ verifiers: [earVerifier()], nonces });
    expect((await lenient.appraise({ caller: planner, result: foreign })).status).toBe("affirming");
    const strict = new EarAttestationProvider({ verifiers: [earVerifier()], nonces, require_nonce: true });
    const r = await strict.appraise({ caller: planner, result: foreign });
    expect(r).toMatchObject({ status: "none", reason: "attestation nonce is not one the gateway issued" });
  });

  it("refuses a result over a nonce issued to another caller without spending it", async () => {
    const nonces = new MemoryNonceStore();
    const provider = new EarAttestationProvider({ verifiers: [earVerifier()], nonces });
    const { nonce } = await nonces.issue(OTHER);
    const ear = await passportFor(otherKey, nonce);
    expect((await provider.appraise({ caller: planner, result: ear })).reason).toContain("another caller");
    expect((await provider.appraise({ caller: other, result: ear })).status).toBe("affirming");
  });

  it("gives none for a result bound to another agent, and it never helps that caller", async () => {
    const provider = new EarAttestationProvider({ verifiers: [earVerifier()] });
    const theirs = await passportFor(otherKey, Buffer.alloc(32, 6).toString("base64url"));
    const stolen = await provider.appraise({ caller: planner, result: theirs });
    expect(stolen.status).toBe("none");
    expect(stolen.reason).toContain("another workload");
    expect(stolen.trust_vector).toBeUndefined();
    // The rightful owner still gets it.
    expect((await provider.appraise({ caller: other, result: theirs })).status).toBe("affirming");
  });

  it("passes a contraindicated result through, so the policy can deny everywhere", async () => {
    const provider = new EarAttestationProvider({ verifiers: [earVerifier()] });
    const ear = await passportFor(agentKey, Buffer.alloc(32, 7).toString("base64url"), {
      ...GOOD,
      image_digest: DENIED,
    });
    expect(await provider.appraise({ caller: planner, result: ear })).toMatchObject({
      status: "contraindicated",
      trust_vector: { executables: { tier: "contraindicated", value: 96 } },
    });
  });

  it("gives none with a reason for wrong signers, expired and malformed results, and missing nonces", async () => {
    const rogue = newKey();
    const provider = new EarAttestationProvider({ verifiers: [earVerifier()], require_nonce: true });
    const cases: [string, string][] = [
      [
        await signEarClaims(rogue, draftClaims({ eat_nonce: "AAAAAAAAAAAAAAAA" })),
        "not signed by a trusted verifier",
      ],
      ["garbage", "not a compact JWS"],
      [await passportFor(agentKey, Buffer.alloc(32, 8).toString("base64url")), "affirming"],
    ];
    for (const [token, expected] of cases) {
      const r = await provider.appraise({ caller: planner, result: token });
      if (expected === "affirming") expect(r.status).toBe("affirming");
      else expect(r).toMatchObject({ status: "none", reason: expect.stringContaining(expected) as string });
    }
    const trusted = newKey();
    const strict = new EarAttestationProvider({
      verifiers: [new EarVerifier({ name: "t", jwks: jwksOf(trusted) })],
      require_nonce: true,
    });
    const expired = await signEarClaims(trusted, draftClaims({ iat: now() - 100, exp: now() - 60 }));
    expect((await strict.appraise({ caller: planner, result: expired })).reason).toContain("expired");
    const noNonce = await signEarClaims(trusted, draftClaims());
    expect((await strict.appraise({ caller: planner, result: noNonce })).reason).toContain("no nonce");
  });

  it("tries each trusted verifier and reports the one whose key signed", async () => {
    const k = newKey();
    const down = new EarVerifier({
      name: "down",
      jwks_url: `http://127.0.0.1:${await deadPort()}/jwks.json`,
    });
    const provider = new EarAttestationProvider({
      verifiers: [down, earVerifier(), new EarVerifier({ name: "second", jwks: jwksOf(k) })],
    });
    const r = await provider.appraise({ caller: planner, result: await signEarClaims(k, draftClaims()) });
    expect(r).toMatchObject({ status: "affirming", verifier: "second" });
    // Signed by nobody we trust while one verifier's keys are unreachable: reported as the outage.
    const nobody = await provider.appraise({
      caller: planner,
      result: await signEarClaims(newKey(), draftClaims()),
    });
    expect(nobody).toMatchObject({ status: "none", verifier: "down", reason: "verifier keys unavailable" });
  });
});

describe("background-check model", () => {
  function provider(c = client()) {
    const nonces = new MemoryNonceStore();
    return {
      nonces,
      p: new EarAttestationProvider({
        verifiers: [],
        nonces,
        background: { client: c, verifier: earVerifier() },
      }),
    };
  }

  it("asks the verifier once per evidence and affirms the bound caller", async () => {
    const { nonces, p } = provider();
    const { nonce } = await nonces.issue(PLANNER);
    const evidence = await signEvidence(agentKey, { nonce, measurements: GOOD });
    const before = appraisals;
    const r = await p.appraise({ caller: planner, evidence: { value: evidence } });
    expect(r).toMatchObject({ status: "affirming", model: "background-check", verifier: "reference" });
    expect((await p.appraise({ caller: planner, evidence: { value: evidence } })).status).toBe("affirming");
    expect(appraisals - before).toBe(1);
    // New evidence over the spent nonce is a replay, refused before the verifier is asked.
    const again = await signEvidence(agentKey, { nonce, measurements: GOOD });
    const replay = await p.appraise({ caller: planner, evidence: { value: again } });
    expect(replay.reason).toContain("replay");
    expect(appraisals - before).toBe(1);
  });

  it("verifier down: none with the reason, never affirming", async () => {
    const { nonces, p } = provider(client(`http://127.0.0.1:${await deadPort()}`));
    const { nonce } = await nonces.issue(PLANNER);
    const r = await p.appraise({
      caller: planner,
      evidence: { value: await signEvidence(agentKey, { nonce, measurements: GOOD }) },
    });
    expect(r).toMatchObject({ status: "none", model: "background-check" });
    expect(r.reason).toContain("verifier unreachable");
  });

  it("verifier slow: none after the timeout", async () => {
    const slow = await serve(() => {});
    servers.push(slow);
    const { nonces, p } = provider(client(slow.url, 150));
    const { nonce } = await nonces.issue(PLANNER);
    const r = await p.appraise({
      caller: planner,
      evidence: { value: await signEvidence(agentKey, { nonce, measurements: GOOD }) },
    });
    expect(r.status).toBe("none");
    expect(r.reason).toContain("verifier timeout");
  });

  it("invalid evidence: none with the verifier's reason", async () => {
    const { nonces, p } = provider();
    const { nonce } = await nonces.issue(PLANNER);
    const forged = await signEvidence({ ...newKey(), kid: agentKey.kid }, { nonce, measurements: GOOD });
    const r = await p.appraise({ caller: planner, evidence: { value: forged } });
    expect(r.status).toBe("none");
    expect(r.reason).toContain("verifier rejected");
    // Evidence without any nonce cannot be fresh.
    const r2 = await p.appraise({ caller: planner, evidence: { value: "opaque-evidence" } });
    expect(r2.reason).toContain("no nonce");
  });

  it("another agent's evidence gives that agent's result, which does not count for this caller", async () => {
    const { nonces, p } = provider();
    const { nonce } = await nonces.issue(PLANNER);
    const theirs = await signEvidence(otherKey, { nonce, measurements: GOOD });
    const r = await p.appraise({ caller: planner, evidence: { value: theirs } });
    expect(r.status).toBe("none");
    expect(r.reason).toContain("another workload");
  });
});

it("without anything presented the status is none", async () => {
  const p = new EarAttestationProvider({ verifiers: [earVerifier()] });
  expect(await p.appraise({ caller: planner })).toEqual({
    status: "none",
    reason: "no attestation result or evidence presented",
  });
});
