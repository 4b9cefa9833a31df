// Key material for bundle signatures: a PEM key (RSA or EC; public or certificate to verify, private
// to sign) or an HMAC secret. The algorithm always comes from configuration, never from a token, so a
// public key can never be used as an HMAC secret (the classic algorithm-confusion attack).
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { BundleError } from "./types.js";

/** The JWS algorithms OPA accepts for bundle signatures. */
export const SIGNING_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "HS256",
  "HS384",
  "HS512",
] as const;

export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export function isSigningAlgorithm(s: string): s is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(s);
}

export type BundleKey = KeyObject | Uint8Array;

const EC_CURVES: Record<string, string> = { ES256: "prime256v1", ES384: "secp384r1", ES512: "secp521r1" };

/** An HMAC secret file's bytes; one trailing newline (what editors and `echo` add) is not part of it. */
function secret(bytes: Buffer): Uint8Array {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end--;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  if (end === 0) throw new BundleError("signature", "the HMAC secret is empty");
  return new Uint8Array(bytes.subarray(0, end));
}

function checkKeyType(key: KeyObject, alg: SigningAlgorithm): void {
  const type = key.asymmetricKeyType;
  const ok = alg.startsWith("ES")
    ? type === "ec" && key.asymmetricKeyDetails?.namedCurve === EC_CURVES[alg]
    : alg.startsWith("PS")
      ? type === "rsa" || type === "rsa-pss"
      : type === "rsa";
  if (!ok) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new BundleError("signature", `a ${type}${curve ? ` ${curve}` : ""} key cannot be used with ${alg}`);
  }
}

/** A verification key from PEM bytes (public key, certificate, or a private key's public half) or a secret. */
export function verificationKey(alg: SigningAlgorithm, bytes: Buffer): BundleKey {
  if (alg.startsWith("HS")) return secret(bytes);
  let key: KeyObject;
  try {
    key = createPublicKey(bytes);
  } catch (e) {
    throw new BundleError("signature", `not a PEM public key or certificate: ${(e as Error).message}`);
  }
  checkKeyType(key, alg);
  return key;
}

/** A signing key from PEM bytes (PKCS#8, PKCS#1 or SEC1 private key) or a secret. */
export function signingKey(alg: SigningAlgorithm, bytes: Buffer): BundleKey {
  if (alg.startsWith("HS")) return secret(bytes);
  let key: KeyObject;
  try {
    key = createPrivateKey(bytes);
  } catch (e) {
    throw new BundleError("signature", `not a PEM private key: ${(e as Error).message}`);
  }
  checkKeyType(key, alg);
  return key;
}

/** Reads a key file; errors name the file. */
export function readKeyFile(
  file: string,
  kind: "verification" | "signing",
  alg: SigningAlgorithm,
): BundleKey {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new BundleError("io", `cannot read ${kind} key ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  try {
    return kind === "verification" ? verificationKey(alg, bytes) : signingKey(alg, bytes);
  } catch (e) {
    if (e instanceof BundleError) throw new BundleError(e.kind, `${file}: ${e.message}`);
    throw e;
  }
}
