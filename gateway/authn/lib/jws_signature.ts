// The JWS signature check of the request path: one node:crypto call on a KeyObject, run on the libuv
// threadpool. jose selects and imports the key (jwks.ts); only the final OpenSSL call is made here.
// The proxy's event loop is what limits its throughput, and a P-256 verification is ~60 µs of CPU: on
// the threadpool it costs the event loop ~11 µs (the job's setup and completion), inline all 60, and
// through jose's compactVerify 29 (`npm run bench:jws`, bench/RESULTS.md).
import { constants, verify, type KeyObject } from "node:crypto";

interface AlgSpec {
  /** node:crypto digest; null for EdDSA (the curve fixes it). */
  hash: string | null;
  keyTypes: readonly string[];
  /** EC only: the one curve the algorithm allows (RFC 7518 §3.4). */
  curve?: string;
  /** ECDSA: the raw r||s length (RFC 7518 §3.4), checked before OpenSSL sees it. */
  sigBytes?: number;
  pss?: boolean;
}

const ALGS: Record<string, AlgSpec> = {
  ES256: { hash: "sha256", keyTypes: ["ec"], curve: "prime256v1", sigBytes: 64 },
  ES384: { hash: "sha384", keyTypes: ["ec"], curve: "secp384r1", sigBytes: 96 },
  ES512: { hash: "sha512", keyTypes: ["ec"], curve: "secp521r1", sigBytes: 132 },
  RS256: { hash: "sha256", keyTypes: ["rsa"] },
  RS384: { hash: "sha384", keyTypes: ["rsa"] },
  RS512: { hash: "sha512", keyTypes: ["rsa"] },
  PS256: { hash: "sha256", keyTypes: ["rsa", "rsa-pss"], pss: true },
  PS384: { hash: "sha384", keyTypes: ["rsa", "rsa-pss"], pss: true },
  PS512: { hash: "sha512", keyTypes: ["rsa", "rsa-pss"], pss: true },
  EdDSA: { hash: null, keyTypes: ["ed25519", "ed448"] },
  Ed25519: { hash: null, keyTypes: ["ed25519"] },
};

const HASH_BYTES: Record<string, number> = { sha256: 32, sha384: 48, sha512: 64 };

/** Algorithms this module verifies; any other allowed one takes jose's own path. */
export function isFastAlgorithm(alg: string): boolean {
  return Object.hasOwn(ALGS, alg);
}

/**
 * Whether `key` may verify `alg`: a public key of the algorithm's type (and curve), RSA of at least
 * 2048 bits as jose requires. A key that does not fit is a configuration or forgery problem, never a
 * reason to try it anyway.
 */
export function keyFits(alg: string, key: KeyObject): boolean {
  const spec = ALGS[alg];
  if (!spec || key.type !== "public") return false;
  const type = key.asymmetricKeyType ?? "";
  if (!spec.keyTypes.includes(type)) return false;
  const details = key.asymmetricKeyDetails ?? {};
  if (spec.curve !== undefined && details.namedCurve !== spec.curve) return false;
  if (type === "rsa" || type === "rsa-pss") return (details.modulusLength ?? 0) >= 2048;
  return true;
}

/** RFC 7515 §5.2 step 8 for `alg` over the compact form's ASCII signing input; never rejects. */
export function verifySignature(
  alg: string,
  key: KeyObject,
  signingInput: string,
  signature: Buffer,
): Promise<boolean> {
  const spec = ALGS[alg];
  if (!spec || !keyFits(alg, key)) return Promise.resolve(false);
  if (spec.sigBytes !== undefined && signature.length !== spec.sigBytes) return Promise.resolve(false);
  const data = Buffer.from(signingInput, "latin1");
  const options =
    spec.sigBytes !== undefined
      ? { key, dsaEncoding: "ieee-p1363" as const }
      : spec.pss
        ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[spec.hash!] }
        : spec.hash === null
          ? key
          : { key, padding: constants.RSA_PKCS1_PADDING };
  return new Promise((resolve) => {
    try {
      // OpenSSL refuses malformed signatures with an error; for the caller that is just "not valid".
      verify(spec.hash, data, options, signature, (err, ok) => resolve(err === null && ok));
    } catch {
      resolve(false);
    }
  });
}
