// `.manifest` and bundle roots, by OPA's rules (bundle/bundle.go): roots are path prefixes the bundle
// owns, `[""]` (everything) by default; they must not overlap; every package and every data value
// must lie under one of them; Wasm entrypoints too.
import { BundleError, type Manifest, type WasmResolver } from "./types.js";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The default manifest of a bundle without `.manifest`. */
export function emptyManifest(): Manifest {
  return { revision: "", roots: [""], wasm: [] };
}

/** Parses and validates `.manifest` (JSON). Throws BundleError("manifest"). */
export function parseManifest(bytes: Buffer): Manifest {
  const bad = (msg: string) => new BundleError("manifest", `.manifest: ${msg}`);
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString("utf8"));
  } catch (e) {
    throw bad(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(v)) throw bad("must be a JSON object");
  const m = emptyManifest();
  if (v.revision !== undefined && v.revision !== null) {
    if (typeof v.revision !== "string") throw bad("revision must be a string");
    m.revision = v.revision;
  }
  if (v.roots !== undefined && v.roots !== null) {
    if (!Array.isArray(v.roots) || v.roots.some((r) => typeof r !== "string")) {
      throw bad("roots must be a list of strings");
    }
    m.roots = (v.roots as string[]).map((r) => r.replace(/^\/+|\/+$/g, ""));
  }
  if (v.wasm !== undefined && v.wasm !== null) {
    if (!Array.isArray(v.wasm)) throw bad("wasm must be a list");
    m.wasm = v.wasm.map((w, i): WasmResolver => {
      if (!isObject(w) || typeof w.entrypoint !== "string" || typeof w.module !== "string") {
        throw bad(`wasm[${i}] must have string entrypoint and module`);
      }
      return {
        entrypoint: w.entrypoint.replace(/^\/+|\/+$/g, ""),
        module: w.module,
        ...(Array.isArray(w.annotations) ? { annotations: w.annotations as unknown[] } : {}),
      };
    });
  }
  if (v.rego_version !== undefined && v.rego_version !== null) {
    if (v.rego_version !== 0 && v.rego_version !== 1) throw bad("rego_version must be 0 or 1");
    m.rego_version = v.rego_version;
  }
  if (v.file_rego_versions !== undefined && v.file_rego_versions !== null) {
    if (!isObject(v.file_rego_versions)) throw bad("file_rego_versions must be an object");
    const out: Record<string, number> = {};
    for (const [glob, ver] of Object.entries(v.file_rego_versions)) {
      if (ver !== 0 && ver !== 1) throw bad(`file_rego_versions[${JSON.stringify(glob)}] must be 0 or 1`);
      out[glob] = ver;
    }
    m.file_rego_versions = out;
  }
  if (v.metadata !== undefined && v.metadata !== null) {
    if (!isObject(v.metadata)) throw bad("metadata must be an object");
    m.metadata = v.metadata;
  }
  return m;
}

/** The manifest as `opa build` writes it (Go struct member order; empty members left out). */
export function manifestJSON(m: Manifest): string {
  const out: Record<string, unknown> = { revision: m.revision, roots: m.roots };
  if (m.wasm.length > 0) out.wasm = m.wasm;
  if (m.rego_version !== undefined) out.rego_version = m.rego_version;
  if (m.file_rego_versions && Object.keys(m.file_rego_versions).length > 0) {
    out.file_rego_versions = m.file_rego_versions;
  }
  if (m.metadata && Object.keys(m.metadata).length > 0) out.metadata = m.metadata;
  return JSON.stringify(out) + "\n";
}

// ---- roots ----

function segments(path: string): string[] {
  return path.split("/");
}

/** Whether `root` contains `other` (both as segment lists); the root `""` contains everything. */
function rootContains(root: string[], other: string[]): boolean {
  if (root.length === 1 && root[0] === "") return true;
  if (root.length > other.length) return false;
  return root.every((s, i) => s === other[i]);
}

export function rootsOverlap(a: string, b: string): boolean {
  const x = segments(a);
  const y = segments(b);
  return rootContains(x, y) || rootContains(y, x);
}

export function rootsContain(roots: readonly string[], path: string): boolean {
  const s = segments(path);
  return roots.some((r) => rootContains(segments(r), s));
}

/** Overlapping roots make ownership ambiguous: refused. */
export function checkRootsDisjoint(roots: readonly string[]): void {
  for (let i = 0; i < roots.length; i++) {
    for (let j = i + 1; j < roots.length; j++) {
      if (rootsOverlap(roots[i]!, roots[j]!)) {
        throw new BundleError("roots", `manifest has overlapped roots: '${roots[i]}' and '${roots[j]}'`);
      }
    }
  }
}

/** Every data value must be under a root (OPA's dfs over the bundle's data). */
export function checkDataRoots(roots: readonly string[], data: Record<string, unknown>): void {
  const visit = (value: unknown, path: string[]): void => {
    const p = path.join("/");
    if (rootsContain(roots, p)) return;
    if (isObject(value) && roots.some((r) => rootContains(path.length === 0 ? [""] : path, segments(r)))) {
      for (const [k, v] of Object.entries(value)) visit(v, [...path, k]);
      return;
    }
    throw new BundleError(
      "roots",
      `manifest roots ${JSON.stringify(roots)} do not permit data at path '/${p}' (hint: check bundle directory structure)`,
    );
  };
  visit(data, []);
}
