// A ready-to-run reference verifier for demos: signing key, its JWKS, and a config that registers
// the dev agent's X.509-SVID as attester with demo reference values.
import { createHash, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadPrivateKey } from "../keys.js";

function digest(label: string): string {
  return "sha256:" + createHash("sha256").update(label).digest("hex");
}

/** The image digest and config hash the demo agent reports and the demo verifier approves. */
export const DEMO_IMAGE_DIGEST = digest("portcullis demo agent image");
export const DEMO_CONFIG_HASH = digest("portcullis demo agent config");
export const DEMO_RUNTIME = { debug: false } as const;
export const DEMO_VERIFIER_LISTEN = "127.0.0.1:8710";

export interface DevVerifierOptions {
  dir: string;
  /** Attesters by name → certificate or public key file. */
  attesters: { name: string; public_key: string }[];
  profile?: string;
  listen?: string;
  /** Replace an existing signing key. */
  force?: boolean;
}

export interface DevVerifier {
  dir: string;
  config: string;
  signingKey: string;
  jwks: string;
  keyReused: boolean;
  files: string[];
}

export function writeDevVerifier(o: DevVerifierOptions): DevVerifier {
  const dir = resolve(o.dir);
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const signingKey = join(dir, "verifier.key");
  const keyReused = !o.force && existsSync(signingKey);
  if (!keyReused) {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    writeFileSync(signingKey, JSON.stringify(privateKey.export({ format: "jwk" }), null, 2) + "\n", {
      mode: 0o600,
    });
    files.push(signingKey);
  }
  const key = loadPrivateKey(signingKey);
  const jwks = join(dir, "verifier-jwks.json");
  writeFileSync(jwks, JSON.stringify({ keys: [key.publicJwk] }, null, 2) + "\n");
  files.push(jwks);

  const yaml = [
    "# Reference verifier (portcullis verifier --config …); see docs/attestation.md.",
    `listen: ${o.listen ?? DEMO_VERIFIER_LISTEN}`,
    `profile: ${o.profile ?? "veraison"}`,
    "signing_key: verifier.key",
    "ear_ttl_s: 300",
    "reference_values:",
    `  image_digests: ["${DEMO_IMAGE_DIGEST}"]`,
    `  config_hashes: ["${DEMO_CONFIG_HASH}"]`,
    "  runtime:",
    ...Object.entries(DEMO_RUNTIME).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
    "attesters:",
    ...o.attesters.flatMap((a) => [
      `  - name: ${a.name}`,
      `    public_key: ${JSON.stringify(resolve(a.public_key))}`,
    ]),
    "",
  ].join("\n");
  const config = join(dir, "verifier.yaml");
  writeFileSync(config, yaml);
  files.push(config);
  return { dir, config, signingKey, jwks, keyReused, files };
}
