// File digests for bundle signatures, as OPA computes them: structured files (`data.json`,
// `data.yaml`, `.manifest`) over their canonical text (canonical.ts), every other file over its bytes.
import { createHash } from "node:crypto";
import { canonicalText, CanonicalError } from "./canonical.js";
import { MANIFEST } from "./paths.js";
import { BundleError } from "./types.js";

/** OPA's hashing algorithm names → node:crypto names. */
const ALGORITHMS: Record<string, string> = {
  "SHA-224": "sha224",
  "SHA-256": "sha256",
  "SHA-384": "sha384",
  "SHA-512": "sha512",
  "SHA-512-224": "sha512-224",
  "SHA-512-256": "sha512-256",
};

/**
 * OPA also accepts these, but a file whose digest can be collided is not covered by a signature at
 * all; OPA's own signer never writes them.
 */
const REFUSED = new Set(["MD5", "SHA-1"]);

export const DEFAULT_HASH = "SHA-256";

/** Whether OPA hashes this file over its parsed value (util.IsStructuredDoc, for root-level metadata). */
export function isStructured(path: string): boolean {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return path === MANIFEST || base === "data.json" || base === "data.yaml";
}

/** The hex digest of a bundle file. Throws BundleError("signature") for an unusable algorithm. */
export function hashFile(path: string, bytes: Buffer, algorithm: string, maxDepth: number): string {
  if (REFUSED.has(algorithm)) {
    throw new BundleError("signature", `${path}: hashing algorithm ${algorithm} is too weak (use SHA-256)`);
  }
  const name = ALGORITHMS[algorithm];
  if (!name)
    throw new BundleError("signature", `${path}: unsupported hashing algorithm ${JSON.stringify(algorithm)}`);
  const h = createHash(name);
  if (isStructured(path)) {
    try {
      h.update(canonicalText(bytes, maxDepth), "utf8");
    } catch (e) {
      if (e instanceof CanonicalError) throw new BundleError("data", `${path}: cannot parse: ${e.message}`);
      throw e;
    }
  } else {
    h.update(bytes);
  }
  return h.digest("hex");
}
