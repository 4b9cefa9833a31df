// The attestation settings a gateway segment carries (plain data, as parsed from YAML by the
// gateway's config loader), and the one call that turns them into an AttestationProvider.
import { readFileSync } from "node:fs";
import { EarVerifier, type EarVerifierOptions } from "./ear/verify.js";
import { MemoryNonceStore, type NonceStore } from "./nonce.js";
import { EarAttestationProvider } from "./provider.js";
import { EVIDENCE_MEDIA_TYPE } from "./verifier/evidence.js";
import { VerifierClient } from "./verifier_client.js";

/** Request header carrying a passport EAR. */
export const ATTESTATION_RESULT_HEADER = "attestation-result";
/** Request header carrying evidence for a background check. */
export const ATTESTATION_EVIDENCE_HEADER = "attestation-evidence";

export interface TrustedVerifierConfig extends Pick<
  EarVerifierOptions,
  | "jwks_file"
  | "jwks_url"
  | "algorithms"
  | "profiles"
  | "developers"
  | "max_age_s"
  | "clock_skew_s"
  | "timeout_ms"
> {
  name: string;
}

export interface BackgroundCheckConfig {
  /** Name of the trusted verifier (its keys verify the EARs this one returns). */
  verifier: string;
  /** Base URL of its challenge-response API. */
  url: string;
  /** Content type the evidence is submitted with (default the reference verifier's). */
  media_type?: string;
  timeout_ms?: number;
  nonce_size?: number;
  max_concurrent?: number;
  /** PEM file of the CA that issued the verifier's TLS certificate. */
  ca_file?: string;
}

export interface AttestationConfig {
  verifiers: TrustedVerifierConfig[];
  background_check?: BackgroundCheckConfig;
  /** Refuse passports without `eat_nonce` (default false). */
  require_nonce?: boolean;
  /** Lifetime of nonces from the gateway's nonce endpoint (default 120 s). */
  nonce_ttl_s?: number;
}

export interface BuiltAttestation {
  provider: EarAttestationProvider;
  /** The store behind the nonce endpoint (the given one, or an in-memory one). */
  nonces: NonceStore;
  /** Closes the verifier client's idle connections. */
  close(): void;
}

/** Builds the provider. Throws (at start-up) on unknown profiles, bad key sources, unknown names. */
export function createAttestationProvider(
  cfg: AttestationConfig,
  o: { nonces?: NonceStore } = {},
): BuiltAttestation {
  const verifiers = new Map<string, EarVerifier>();
  for (const v of cfg.verifiers) {
    if (verifiers.has(v.name)) throw new Error(`duplicate attestation verifier "${v.name}"`);
    verifiers.set(v.name, new EarVerifier(v));
  }
  const nonces = o.nonces ?? new MemoryNonceStore({ ttl_s: cfg.nonce_ttl_s ?? 120 });
  let client: VerifierClient | undefined;
  let background: { client: VerifierClient; verifier: EarVerifier } | undefined;
  if (cfg.background_check) {
    const b = cfg.background_check;
    const verifier = verifiers.get(b.verifier);
    if (!verifier) throw new Error(`background_check.verifier "${b.verifier}" is not a configured verifier`);
    client = new VerifierClient({
      url: b.url,
      media_type: b.media_type ?? EVIDENCE_MEDIA_TYPE,
      ...(b.timeout_ms !== undefined ? { timeout_ms: b.timeout_ms } : {}),
      ...(b.nonce_size !== undefined ? { nonce_size: b.nonce_size } : {}),
      ...(b.max_concurrent !== undefined ? { max_concurrent: b.max_concurrent } : {}),
      ...(b.ca_file !== undefined ? { ca: readFileSync(b.ca_file, "utf8") } : {}),
    });
    background = { client, verifier };
  }
  const provider = new EarAttestationProvider({
    verifiers: [...verifiers.values()],
    nonces,
    ...(background ? { background } : {}),
    ...(cfg.require_nonce !== undefined ? { require_nonce: cfg.require_nonce } : {}),
  });
  return { provider, nonces, close: () => client?.close() };
}
