// Building a bundle from a directory, as `opa build -b DIR [--signing-key …]` does: the directory's
// policy and data files as they are, a `.manifest` (the directory's own, with the revision set), and
// a fresh `.signatures.json` when a signing key is given. The result is loaded and compiled before it
// is returned, so an invalid bundle is never written.
import { createPublicKey, KeyObject } from "node:crypto";
import { writeArchive } from "./archive.js";
import { readDirectory } from "./directory.js";
import { contentRevision, loadBundle } from "./load.js";
import { emptyManifest, manifestJSON, parseManifest } from "./manifest.js";
import { MANIFEST, SIGNATURES } from "./paths.js";
import { signatureFile, type SigningOptions } from "./sign.js";
import { DEFAULT_LIMITS, type BundleFile, type BundleLimits, type LoadedBundle } from "./types.js";

export interface BuildOptions {
  /** The manifest revision; default: the directory's `.manifest` revision, else a content hash. */
  revision?: string;
  signing?: SigningOptions;
  limits?: BundleLimits;
}

export interface BuiltBundle {
  archive: Buffer;
  files: BundleFile[];
  bundle: LoadedBundle;
  /** A `.signatures.json` found in the directory and replaced (or dropped when not signing). */
  droppedSignature: boolean;
}

/** Builds (and checks) the bundle of `dir`. Throws BundleError. */
export async function buildBundle(dir: string, o: BuildOptions = {}): Promise<BuiltBundle> {
  const limits = o.limits ?? DEFAULT_LIMITS;
  const found = await readDirectory(dir, limits);
  const droppedSignature = found.some((f) => f.path === SIGNATURES);
  const content = found.filter((f) => f.path !== SIGNATURES && f.path !== MANIFEST);
  const own = found.find((f) => f.path === MANIFEST);

  const manifest = own ? parseManifest(own.bytes) : emptyManifest();
  manifest.revision = o.revision ?? (manifest.revision !== "" ? manifest.revision : contentRevision(content));
  // What `opa build` records for Rego v1 sources, so that an OPA 0.x consumer parses them right.
  manifest.rego_version ??= 1;

  const files: BundleFile[] = [{ path: MANIFEST, bytes: Buffer.from(manifestJSON(manifest)) }, ...content];
  if (o.signing) files.push({ path: SIGNATURES, bytes: await signatureFile(files, o.signing) });

  const verifyKey = o.signing
    ? o.signing.key instanceof KeyObject
      ? createPublicKey(o.signing.key)
      : o.signing.key
    : undefined;
  const bundle = await loadBundle(files, {
    name: "build",
    limits,
    ...(o.signing && verifyKey
      ? {
          verification: {
            alg: o.signing.alg,
            key: verifyKey,
            ...(o.signing.keyId !== undefined ? { keyId: o.signing.keyId } : {}),
            ...(o.signing.scope !== undefined ? { scope: o.signing.scope } : {}),
          },
        }
      : {}),
  });
  return { archive: writeArchive(files), files, bundle, droppedSignature };
}
