// `bundle.tar.gz` ⇄ bundle files. Decompression runs off the event loop (zlib's thread pool) and stops
// at the bundle size limit, so a gzip bomb costs at most that much memory and never blocks requests.
import { promisify } from "node:util";
import { gunzip, gzipSync, constants as zlibConstants } from "node:zlib";
import { compareCodePoints, MANIFEST, SIGNATURES } from "./paths.js";
import { readTar, writeTar } from "./tar.js";
import { BundleError, DEFAULT_LIMITS, type BundleFile, type BundleLimits } from "./types.js";

const gunzipAsync = promisify(gunzip);

/** The files of a gzipped tarball. Throws BundleError("archive"). */
export async function readArchive(gz: Buffer, limits: BundleLimits = DEFAULT_LIMITS): Promise<BundleFile[]> {
  if (gz.length > limits.maxBundleBytes) {
    throw new BundleError(
      "archive",
      `bundle of ${gz.length} bytes exceeds the limit of ${limits.maxBundleBytes} bytes`,
    );
  }
  if (gz.length < 2 || gz[0] !== 0x1f || gz[1] !== 0x8b) {
    throw new BundleError("archive", "corrupt archive: not gzip data");
  }
  let tar: Buffer;
  try {
    tar = await gunzipAsync(gz, { maxOutputLength: limits.maxBundleBytes });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ERR_BUFFER_TOO_LARGE" || e instanceof RangeError) {
      throw new BundleError(
        "archive",
        `bundle expands past the limit of ${limits.maxBundleBytes} bytes (gzip bomb?)`,
      );
    }
    throw new BundleError("archive", `corrupt archive: ${(e as Error).message}`);
  }
  return readTar(tar, limits).map((e) => ({ path: e.path, bytes: e.data }));
}

/**
 * A gzipped tarball of `files`, written as `opa build` names entries (`/path`), in a fixed order —
 * `.manifest`, `.signatures.json`, then by path — with fixed metadata: the same files give the same
 * bytes.
 */
export function writeArchive(files: readonly BundleFile[]): Buffer {
  const rank = (p: string) => (p === MANIFEST ? 0 : p === SIGNATURES ? 1 : 2);
  const sorted = [...files].sort((a, b) => rank(a.path) - rank(b.path) || compareCodePoints(a.path, b.path));
  const tar = writeTar(sorted.map((f) => ({ name: `/${f.path}`, data: f.bytes })));
  return gzipSync(tar, { level: zlibConstants.Z_BEST_COMPRESSION });
}
