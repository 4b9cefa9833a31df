// Key files for attesters and verifiers: private keys (PKCS#8 PEM or private JWK), public keys (SPKI
// PEM, public JWK or an X.509 certificate), the JWS algorithm each key signs with, and RFC 7638
// thumbprints (used as `kid` and as the `jkt` of a `cnf`).
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  X509Certificate,
  type JsonWebKey,
  type KeyObject,
} from "node:crypto";
import { readFileSync } from "node:fs";

export interface PublicJwk {
  kty: string;
  [member: string]: unknown;
}

export interface LoadedPrivateKey {
  key: KeyObject;
  alg: string;
  publicJwk: PublicJwk;
  /** RFC 7638 thumbprint of the public key. */
  kid: string;
}

export interface LoadedPublicKey {
  key: KeyObject;
  alg: string;
  jwk: PublicJwk;
  kid: string;
  /** Present when the key came from a certificate. */
  cert?: {
    /** RFC 8705 `x5t#S256`: base64url SHA-256 of the DER certificate. */
    x5tS256: string;
    /** URI SANs (a SPIFFE ID for an X.509-SVID). */
    uris: string[];
    notAfter: Date;
  };
}

/** The JWS algorithm a key signs with: one fixed choice per key type, never negotiated. */
export function algForKey(key: KeyObject): string {
  switch (key.asymmetricKeyType) {
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === "prime256v1") return "ES256";
      if (curve === "secp384r1") return "ES384";
      if (curve === "secp521r1") return "ES512";
      throw new Error(`unsupported EC curve ${curve}`);
    }
    case "ed25519":
      return "EdDSA";
    case "rsa": {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < 2048) throw new Error(`RSA keys need at least 2048 bits, got ${bits}`);
      return "PS256";
    }
    default:
      throw new Error(`unsupported key type ${key.asymmetricKeyType}`);
  }
}

const THUMBPRINT_MEMBERS: Record<string, string[]> = {
  EC: ["crv", "kty", "x", "y"],
  RSA: ["e", "kty", "n"],
  OKP: ["crv", "kty", "x"],
};

/** RFC 7638 JWK SHA-256 thumbprint (base64url), computed synchronously. */
export function jwkThumbprint(jwk: { kty?: unknown; [m: string]: unknown }): string {
  const members = typeof jwk.kty === "string" ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (!members) throw new Error(`cannot thumbprint a JWK of kty ${String(jwk.kty)}`);
  const canonical: Record<string, unknown> = {};
  for (const m of members) {
    if (typeof jwk[m] !== "string") throw new Error(`JWK is missing "${m}"`);
    canonical[m] = jwk[m];
  }
  // Members in lexicographic order and no whitespace: JSON.stringify keeps insertion order.
  return createHash("sha256").update(JSON.stringify(canonical)).digest("base64url");
}

function publicJwkOf(key: KeyObject): PublicJwk {
  const jwk = key.export({ format: "jwk" }) as JsonWebKey;
  const out: PublicJwk = { kty: String(jwk.kty) };
  for (const m of ["crv", "x", "y", "n", "e"] as const) if (jwk[m] !== undefined) out[m] = jwk[m];
  return out;
}

function readText(fileOrText: string): string {
  return /^\s*[{-]/.test(fileOrText) ? fileOrText : readFileSync(fileOrText, "utf8");
}

/** A private key from a file (or its text): PKCS#8/SEC1 PEM or a private JWK. */
export function loadPrivateKey(fileOrText: string): LoadedPrivateKey {
  const text = readText(fileOrText);
  const key = text.trimStart().startsWith("{")
    ? createPrivateKey({ key: JSON.parse(text) as JsonWebKey, format: "jwk" })
    : createPrivateKey(text);
  const pub = createPublicKey(key);
  const alg = algForKey(pub);
  const jwk = publicJwkOf(pub);
  const kid = jwkThumbprint(jwk);
  return { key, alg, publicJwk: { ...jwk, kid, alg, use: "sig" }, kid };
}

/** A public key from a file (or its text): a PEM certificate, an SPKI PEM or a public JWK. */
export function loadPublicKey(fileOrText: string): LoadedPublicKey {
  const text = readText(fileOrText);
  let key: KeyObject;
  let cert: LoadedPublicKey["cert"];
  if (text.includes("-----BEGIN CERTIFICATE-----")) {
    const x = new X509Certificate(text);
    key = x.publicKey;
    const uris = (x.subjectAltName ?? "")
      .split(", ")
      .filter((s) => s.startsWith("URI:"))
      .map((s) => s.slice(4));
    cert = {
      x5tS256: createHash("sha256").update(x.raw).digest("base64url"),
      uris,
      notAfter: new Date(x.validTo),
    };
  } else if (text.trimStart().startsWith("{")) {
    const jwk = JSON.parse(text) as JsonWebKey;
    if (jwk.d !== undefined) throw new Error("expected a public key, got a private JWK");
    key = createPublicKey({ key: jwk, format: "jwk" });
  } else {
    if (text.includes("PRIVATE KEY"))
      throw new Error("expected a public key or certificate, got a private key");
    key = createPublicKey(text);
  }
  const alg = algForKey(key);
  const jwk = publicJwkOf(key);
  return { key, alg, jwk, kid: jwkThumbprint(jwk), cert };
}
