// The reference verifier's evidence format: a JWT signed by the attester's key (`kid` = RFC 7638
// thumbprint of that key) carrying the session nonce and the measurements to appraise. Real
// deployments bring TPM quotes, SEV-SNP/TDX reports or PSA tokens; this format exists so the whole
// flow can be run and tested with a software key.
import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";
import type { KeyObject } from "node:crypto";
import type { LoadedPrivateKey } from "../keys.js";
import { nonceBytes, sameNonce } from "../nonce.js";

export const EVIDENCE_MEDIA_TYPE = "application/vnd.portcullis.evidence+jwt";
export const EVIDENCE_TYP = "vnd.portcullis.evidence+jwt";

export type RuntimeValue = string | number | boolean;

export interface Measurements {
  /** The container image, OCI style: `sha256:<hex>`. */
  image_digest: string;
  /** Hash of the workload's configuration, same form. */
  config_hash: string;
  /** Runtime facts (e.g. `debug: false`, `seccomp: "enforcing"`, `tee: "sev-snp"`). */
  runtime?: Record<string, RuntimeValue>;
}

export interface EvidenceClaims extends Measurements {
  eat_nonce: string;
  iat: number;
}

export const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Fa-f0-9]{32,128}$/;
const MAX_RUNTIME_ENTRIES = 32;
export const MAX_EVIDENCE_BYTES = 16 * 1024;

export type EvidenceErrorCode = "malformed" | "unknown_attester" | "signature" | "nonce" | "stale";

export class EvidenceError extends Error {
  override name = "EvidenceError";
  constructor(
    readonly code: EvidenceErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Checks measurement shapes; returns an error message or undefined. */
export function checkMeasurements(m: Partial<Measurements>): string | undefined {
  if (typeof m.image_digest !== "string" || !DIGEST.test(m.image_digest)) {
    return "image_digest must look like sha256:<hex>";
  }
  if (typeof m.config_hash !== "string" || !DIGEST.test(m.config_hash)) {
    return "config_hash must look like sha256:<hex>";
  }
  if (m.runtime !== undefined) {
    if (typeof m.runtime !== "object" || m.runtime === null || Array.isArray(m.runtime)) {
      return "runtime must be an object";
    }
    const entries = Object.entries(m.runtime);
    if (entries.length > MAX_RUNTIME_ENTRIES) return `runtime has more than ${MAX_RUNTIME_ENTRIES} entries`;
    for (const [k, v] of entries) {
      if (k.length > 64 || !["string", "number", "boolean"].includes(typeof v)) {
        return `runtime.${k.slice(0, 64)} must be a string, number or boolean`;
      }
      if (typeof v === "string" && v.length > 256) return `runtime.${k} is too long`;
    }
  }
  return undefined;
}

/** Signs evidence with an attester key (what `portcullis attest` does). */
export async function signEvidence(
  key: LoadedPrivateKey,
  o: { nonce: string; measurements: Measurements; iat?: number },
): Promise<string> {
  const problem = checkMeasurements(o.measurements);
  if (problem) throw new Error(problem);
  const bytes = nonceBytes(o.nonce);
  if (!bytes || bytes.length < 8 || bytes.length > 64)
    throw new Error("nonce must be 8 to 64 bytes of base64");
  const claims: EvidenceClaims = {
    eat_nonce: o.nonce,
    iat: o.iat ?? Math.floor(Date.now() / 1000),
    image_digest: o.measurements.image_digest,
    config_hash: o.measurements.config_hash,
    ...(o.measurements.runtime ? { runtime: o.measurements.runtime } : {}),
  };
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: key.alg, typ: EVIDENCE_TYP, kid: key.kid })
    .sign(key.key);
}

/**
 * The nonce inside our evidence format, read WITHOUT verifying anything: the gateway uses it only to
 * open the verifier session with the nonce it issued; the verifier checks the signature and that
 * nonce, and the gateway checks the EAR's nonce. Undefined for anything else.
 */
export function peekEvidenceNonce(evidence: string): string | undefined {
  if (evidence.length > MAX_EVIDENCE_BYTES) return undefined;
  try {
    if (decodeProtectedHeader(evidence).typ !== EVIDENCE_TYP) return undefined;
    const n = decodeJwt(evidence).eat_nonce;
    return typeof n === "string" ? n : undefined;
  } catch {
    return undefined;
  }
}

export interface EvidenceKey {
  key: KeyObject;
  alg: string;
}

/**
 * Verifies evidence: the attester is registered (by `kid`), the signature verifies with its key, the
 * nonce is the session's, `iat` is recent, and the measurements have the expected shapes.
 */
export async function verifyEvidence(
  token: string,
  lookup: (kid: string) => EvidenceKey | undefined,
  o: { nonce: string; nowMs: number; maxAgeS: number; skewS: number },
): Promise<{ kid: string; claims: EvidenceClaims }> {
  if (token.length > MAX_EVIDENCE_BYTES) throw new EvidenceError("malformed", "evidence too large");
  let kid: unknown;
  let typ: unknown;
  try {
    const h = decodeProtectedHeader(token);
    kid = h.kid;
    typ = h.typ;
  } catch {
    throw new EvidenceError("malformed", "evidence is not a JWS");
  }
  if (typ !== EVIDENCE_TYP) throw new EvidenceError("malformed", `evidence typ must be ${EVIDENCE_TYP}`);
  if (typeof kid !== "string") throw new EvidenceError("unknown_attester", "evidence has no kid");
  const attester = lookup(kid);
  if (!attester)
    throw new EvidenceError("unknown_attester", "evidence is signed by an unregistered attester key");
  let payload: Record<string, unknown>;
  try {
    const r = await jwtVerify(token, attester.key, {
      algorithms: [attester.alg],
      typ: EVIDENCE_TYP,
      currentDate: new Date(o.nowMs),
      clockTolerance: o.skewS,
    });
    payload = r.payload as Record<string, unknown>;
  } catch (e) {
    if (e instanceof errors.JWSSignatureVerificationFailed || e instanceof errors.JOSEAlgNotAllowed) {
      throw new EvidenceError("signature", "evidence signature does not verify with the attester key");
    }
    throw new EvidenceError("malformed", `evidence rejected: ${(e as Error).message}`);
  }
  if (typeof payload.eat_nonce !== "string" || !sameNonce(payload.eat_nonce, o.nonce)) {
    throw new EvidenceError("nonce", "evidence nonce is not the session nonce");
  }
  const iat = payload.iat;
  const now = Math.floor(o.nowMs / 1000);
  if (typeof iat !== "number" || !Number.isInteger(iat))
    throw new EvidenceError("malformed", "evidence iat must be an integer");
  if (iat > now + o.skewS || now - iat > o.maxAgeS + o.skewS) {
    throw new EvidenceError("stale", "evidence iat is outside the accepted window");
  }
  const problem = checkMeasurements(payload as Partial<Measurements>);
  if (problem) throw new EvidenceError("malformed", problem);
  return { kid, claims: payload as unknown as EvidenceClaims };
}
