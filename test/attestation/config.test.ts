// createAttestationProvider: from plain config to a working provider against the real reference
// verifier, and start-up errors for configs that cannot work.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAttestationProvider } from "../../attestation/config.js";
import { loadPrivateKey } from "../../attestation/keys.js";
import {
  DEMO_CONFIG_HASH,
  DEMO_IMAGE_DIGEST,
  parseVerifierConfig,
  signEvidence,
  startVerifier,
  type RunningVerifier,
} from "../../attestation/verifier/index.js";
import { ensureDevPki, type DevPki } from "../../gateway/pki/index.js";
import { newKey } from "./helpers.js";

const PLANNER = "spiffe://demo.portcullis/agent/planner";
let dir: string;
let pki: DevPki;
let verifier: RunningVerifier;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-attcfg-"));
  pki = await ensureDevPki({ dir, svids: [{ name: "agent", spiffeId: PLANNER }], tokens: [] });
  writeFileSync(join(dir, "verifier.key"), newKey().key.export({ format: "pem", type: "pkcs8" }));
  const yaml = [
    "listen: 127.0.0.1:0",
    "profile: draft",
    "signing_key: verifier.key",
    "reference_values:",
    `  image_digests: ["${DEMO_IMAGE_DIGEST}"]`,
    `  config_hashes: ["${DEMO_CONFIG_HASH}"]`,
    "attesters:",
    "  - name: agent",
    "    public_key: agent.pem",
  ].join("\n");
  verifier = await startVerifier(parseVerifierConfig(yaml, join(dir, "verifier.yaml")));
});
afterAll(async () => {
  await verifier.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("createAttestationProvider", () => {
  it("builds a background-check provider whose nonce store feeds the exchange", async () => {
    const built = createAttestationProvider({
      verifiers: [{ name: "ref", jwks_url: `${verifier.url}/.well-known/jwks.json`, profiles: ["draft"] }],
      background_check: { verifier: "ref", url: verifier.url, timeout_ms: 3000 },
    });
    try {
      const { nonce } = await built.nonces.issue(PLANNER);
      const evidence = await signEvidence(loadPrivateKey(pki.svids.agent!.keyPem), {
        nonce,
        measurements: { image_digest: DEMO_IMAGE_DIGEST, config_hash: DEMO_CONFIG_HASH },
      });
      const r = await built.provider.appraise({
        caller: { spiffeId: PLANNER },
        evidence: { value: evidence },
      });
      expect(r).toMatchObject({ status: "affirming", model: "background-check", verifier: "ref" });
    } finally {
      built.close();
    }
  });

  it("fails at start-up on unknown verifier names, unknown profiles and missing key files", () => {
    expect(() =>
      createAttestationProvider({
        verifiers: [{ name: "a", jwks_url: `${verifier.url}/.well-known/jwks.json` }],
        background_check: { verifier: "b", url: verifier.url },
      }),
    ).toThrow(/not a configured verifier/);
    expect(() =>
      createAttestationProvider({ verifiers: [{ name: "a", jwks_url: "https://x", profiles: ["ear-v9"] }] }),
    ).toThrow(/unknown EAR profile/);
    expect(() =>
      createAttestationProvider({ verifiers: [{ name: "a", jwks_file: join(dir, "none.json") }] }),
    ).toThrow();
    expect(() =>
      createAttestationProvider({ verifiers: [{ name: "a", jwks_url: "http://verifier.example/jwks" }] }),
    ).toThrow(/https/);
  });
});
