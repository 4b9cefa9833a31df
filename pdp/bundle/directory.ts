// A bundle directory → bundle files. Only files a bundle is made of are read (`*.rego`, `data.json`,
// `data.yaml`/`data.yml`, `policy.wasm`, and `.manifest`/`.signatures.json` at the root); hidden
// entries (`.git`, editor files) are skipped, and a symbolic link anywhere is an error: what a link
// points to can change without the directory changing.
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { compareCodePoints, fileKind, MANIFEST, normalizeEntryName, SIGNATURES } from "./paths.js";
import { BundleError, DEFAULT_LIMITS, type BundleFile, type BundleLimits } from "./types.js";

/** Reads the bundle files under `dir`, sorted by path. Throws BundleError ("io" or "archive"). */
export async function readDirectory(
  dir: string,
  limits: BundleLimits = DEFAULT_LIMITS,
): Promise<BundleFile[]> {
  const out: BundleFile[] = [];
  let total = 0;

  const walk = async (abs: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(abs)).sort(compareCodePoints);
    } catch (e) {
      throw new BundleError("io", `cannot read directory ${abs}: ${(e as NodeJS.ErrnoException).code ?? e}`);
    }
    for (const name of names) {
      const relPath = rel === "" ? name : `${rel}/${name}`;
      const isRootMeta = rel === "" && (name === MANIFEST || name === SIGNATURES);
      if (name.startsWith(".") && !isRootMeta) continue;
      const p = join(abs, name);
      let st;
      try {
        st = await lstat(p);
      } catch (e) {
        // Deleted while we walked: the watcher's next event reloads.
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw new BundleError("io", `cannot stat ${p}: ${(e as NodeJS.ErrnoException).code ?? e}`);
      }
      if (st.isSymbolicLink()) {
        throw new BundleError("archive", `${relPath} is a symbolic link; links are not allowed in a bundle`);
      }
      if (st.isDirectory()) {
        if (name === "node_modules") continue;
        await walk(p, relPath);
        continue;
      }
      if (!st.isFile() || fileKind(relPath) === "other") continue;
      // The same name rules as an archive entry: the directory is served as one.
      normalizeEntryName(relPath, false);
      if (st.size > limits.maxFileBytes) {
        throw new BundleError(
          "archive",
          `${relPath}: ${st.size} bytes exceeds the limit of ${limits.maxFileBytes} bytes`,
        );
      }
      total += st.size;
      if (total > limits.maxBundleBytes) {
        throw new BundleError("archive", `bundle exceeds the limit of ${limits.maxBundleBytes} bytes`);
      }
      if (out.length >= limits.maxFiles) {
        throw new BundleError("archive", `bundle has more than ${limits.maxFiles} files`);
      }
      let bytes: Buffer;
      try {
        bytes = await readFile(p);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw new BundleError("io", `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? e}`);
      }
      out.push({ path: relPath, bytes });
    }
  };

  try {
    const st = await lstat(dir);
    if (!st.isDirectory()) throw new BundleError("io", `${dir} is not a directory`);
  } catch (e) {
    if (e instanceof BundleError) throw e;
    throw new BundleError("io", `cannot read directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  await walk(dir, "");
  return out.sort((a, b) => compareCodePoints(a.path, b.path));
}
