// Signing a bundle the way `opa build --signing-key` / `opa sign` do: `.signatures.json` holds one JWS
// whose payload lists every other file with its SHA-256 digest (structured files over their parsed
// value), plus `keyid` (OPA's deprecated claim, for older verifiers) and an optional `scope`.
import { CompactSign } from "jose";
import { DEFAULT_HASH, hashFile } from "./hash.js";
import type { BundleKey, SigningAlgorithm } from "./keys.js";
import { compareCodePoints, SIGNATURES } from "./paths.js";
import { DEFAULT_LIMITS, type BundleFile } from "./types.js";

export interface SigningOptions {
  alg: SigningAlgorithm;
  key: BundleKey;
  keyId?: string;
  scope?: string;
}

export interface SignedFileInfo {
  name: string;
  hash: string;
  algorithm: string;
}

/** The `files` claim: every file but `.signatures.json`, in path order. */
export function fileList(
  files: readonly BundleFile[],
  maxDepth = DEFAULT_LIMITS.maxDataDepth,
): SignedFileInfo[] {
  return files
    .filter((f) => f.path !== SIGNATURES)
    .sort((a, b) => compareCodePoints(a.path, b.path))
    .map((f) => ({
      name: f.path,
      hash: hashFile(f.path, f.bytes, DEFAULT_HASH, maxDepth),
      algorithm: DEFAULT_HASH,
    }));
}

/** The bytes of `.signatures.json` for `files` (OPA writes it indented by one space). */
export async function signatureFile(files: readonly BundleFile[], o: SigningOptions): Promise<Buffer> {
  const payload: Record<string, unknown> = { files: fileList(files) };
  if (o.keyId !== undefined) payload.keyid = o.keyId;
  if (o.scope !== undefined) payload.scope = o.scope;
  const jws = await new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ alg: o.alg, typ: "JWT", ...(o.keyId !== undefined ? { kid: o.keyId } : {}) })
    .sign(o.key);
  return Buffer.from(JSON.stringify({ signatures: [jws] }, null, " "));
}
