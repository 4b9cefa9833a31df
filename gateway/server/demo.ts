// The demo segment: mTLS + RFC 9068 bearer tokens from the dev PKI in `dir`,
// AI agents recognised by SPIFFE path. One definition for `portcullis demo`,
// the gateway benchmark and the gateway tests.
import { join } from "node:path";
import { DEFAULTS, type Segment, type SegmentAttestation } from "../config/index.js";
import { DEV_AUDIENCE, DEV_ISSUER, DEV_TRUST_DOMAIN } from "../pki/names.js";

export function demoSegment(
  dir: string,
  upstream: string,
  port = 0,
  overrides: Partial<Segment> = {},
): Segment {
  return {
    name: "payments",
    listen: `127.0.0.1:${port}`,
    host: "127.0.0.1",
    port,
    upstream,
    tls: {
      cert: join(dir, "gateway.pem"),
      key: join(dir, "gateway.key"),
      client_ca: [join(dir, "ca.pem")],
      client_auth: "require",
      trust_domains: [DEV_TRUST_DOMAIN],
    },
    authentication: { all: ["mtls", "bearer"] },
    authenticators: {
      bearer: {
        issuer: DEV_ISSUER,
        audience: [DEV_AUDIENCE],
        jwks_file: join(dir, "jwks.json"),
        algorithms: ["ES256"],
        clock_skew_s: 30,
        max_token_bytes: 8192,
      },
    },
    caller_types: [{ type: "ai-agent", spiffe_path: "/agent/*" }],
    limits: { max_header_bytes: 16384, max_body_bytes: 1024 * 1024 },
    ...overrides,
  };
}

/** The demo verifier's name, as `input.attestation.verifier` reports it. */
export const DEMO_VERIFIER_NAME = "demo-verifier";

/**
 * The demo segment's `attestation:`: passports signed by the reference verifier whose JWKS `portcullis
 * demo` wrote into `dir` (`verifier-jwks.json`), and background checks against that verifier at `url`.
 */
export function demoAttestation(dir: string, verifierUrl: string): SegmentAttestation {
  return {
    verifiers: [
      {
        name: DEMO_VERIFIER_NAME,
        jwks_file: join(dir, "verifier-jwks.json"),
        profiles: ["veraison", "draft"],
        max_age_s: 300,
        clock_skew_s: 30,
      },
    ],
    background_check: { verifier: DEMO_VERIFIER_NAME, url: verifierUrl, timeout_ms: 2000 },
    nonce_ttl_s: DEFAULTS.attestation_nonce_ttl_s,
    nonce_path: DEFAULTS.attestation_nonce_path,
    result_header: DEFAULTS.attestation_result_header,
    evidence_header: DEFAULTS.attestation_evidence_header,
  };
}
