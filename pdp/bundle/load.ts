// Bundle files → a verified, checked, compiled bundle, or a BundleError saying why not. The order is
// OPA's (bundle.Reader.Read): signature first (nothing unverified is even parsed as policy), then the
// manifest, data and modules, then the roots, then compilation with our engine, so that a bundle that
// would fail at evaluation time is refused before it can replace a working revision.
import { createHash } from "node:crypto";
import { compile, parseModule, RegoError, RegoErrors, type ModuleSource } from "../rego/index.js";
import type * as ast from "../rego/ast.js";
import { CanonicalError, parseDataFile } from "./canonical.js";
import {
  checkDataRoots,
  checkRootsDisjoint,
  emptyManifest,
  parseManifest,
  rootsContain,
} from "./manifest.js";
import { compareCodePoints, dataPathOf, fileKind, MANIFEST, SIGNATURES } from "./paths.js";
import {
  BundleError,
  DEFAULT_LIMITS,
  type BundleFile,
  type BundleLimits,
  type LoadedBundle,
  type WasmModule,
} from "./types.js";
import { verifyBundle, type VerificationConfig } from "./verify.js";

export interface LoadOptions {
  /** The bundle's name (status, provenance, `GET /bundles/{name}`). */
  name: string;
  /** When set, the bundle must carry a valid signature by this key; when not, it must carry none. */
  verification?: VerificationConfig;
  limits?: BundleLimits;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `sha256:` + 16 hex digits over the files' paths and bytes (the signature file left out). */
export function contentRevision(files: readonly BundleFile[]): string {
  const h = createHash("sha256");
  for (const f of [...files].sort((a, b) => compareCodePoints(a.path, b.path))) {
    if (f.path === SIGNATURES) continue;
    h.update(`${Buffer.byteLength(f.path)}:${f.path}${f.bytes.length}:`).update(f.bytes);
  }
  return `sha256:${h.digest("hex").slice(0, 16)}`;
}

function mergeData(
  dst: Record<string, unknown>,
  src: Record<string, unknown>,
  file: string,
  path: string[],
): void {
  for (const [k, b] of Object.entries(src)) {
    const has = Object.prototype.hasOwnProperty.call(dst, k);
    const a = dst[k];
    if (has && isObject(a) && isObject(b)) {
      mergeData(a, b, file, [...path, k]);
    } else if (has) {
      throw new BundleError("data", `${file}: data.${[...path, k].join(".")} is defined twice`);
    } else {
      // defineProperty: a key named __proto__ in a data file is data, not a prototype.
      Object.defineProperty(dst, k, { value: b, enumerable: true, writable: true, configurable: true });
    }
  }
}

function regoErrorLines(e: unknown): string[] {
  const one = (x: RegoError) =>
    x.location
      ? `${x.location.file}:${x.location.row}:${x.location.col}: ${x.code}: ${x.detail}`
      : `${x.code}: ${x.detail}`;
  if (e instanceof RegoErrors) return e.errors.map(one);
  if (e instanceof RegoError) return [one(e)];
  return [e instanceof Error ? e.message : String(e)];
}

function compileError(lines: string[]): BundleError {
  const summary = lines.length === 1 ? lines[0]! : `${lines.length} errors occurred: ${lines[0]} …`;
  return new BundleError("compile", summary, lines);
}

function packagePath(m: ast.Module): string {
  return m.package.path
    .filter((t): t is ast.StringTerm => t.type === "string")
    .map((t) => t.value)
    .join("/");
}

/** Loads bundle files (from readArchive or readDirectory). Throws BundleError. */
export async function loadBundle(files: readonly BundleFile[], o: LoadOptions): Promise<LoadedBundle> {
  const limits = o.limits ?? DEFAULT_LIMITS;

  for (const f of files) {
    const base = f.path.slice(f.path.lastIndexOf("/") + 1);
    if ((base === MANIFEST || base === SIGNATURES) && f.path !== base) {
      throw new BundleError("archive", `${f.path}: ${base} must be at the bundle root`);
    }
  }

  const signature = await verifyBundle(files, o.verification, limits.maxDataDepth);

  const manifestFile = files.find((f) => f.path === MANIFEST);
  const manifest = manifestFile ? parseManifest(manifestFile.bytes) : emptyManifest();
  if (manifest.rego_version === 0 || Object.values(manifest.file_rego_versions ?? {}).includes(0)) {
    throw new BundleError(
      "compile",
      ".manifest: Rego v0 modules are not supported (this engine reads Rego v1)",
    );
  }
  checkRootsDisjoint(manifest.roots);

  const data: Record<string, unknown> = {};
  const modules: ModuleSource[] = [];
  const wasmFiles: BundleFile[] = [];
  const sorted = [...files].sort((a, b) => compareCodePoints(a.path, b.path));
  for (const f of sorted) {
    const kind = fileKind(f.path);
    if (kind === "rego") {
      modules.push({ file: f.path, source: f.bytes.toString("utf8") });
    } else if (kind === "wasm") {
      wasmFiles.push(f);
    } else if (kind === "data-json" || kind === "data-yaml") {
      let value: unknown;
      try {
        value = parseDataFile(f.bytes, kind === "data-yaml", limits.maxDataDepth);
      } catch (e) {
        if (e instanceof CanonicalError)
          throw new BundleError("data", `${f.path}: cannot parse: ${e.message}`);
        throw e;
      }
      const path = dataPathOf(f.path);
      for (let i = path.length - 1; i >= 0; i--) value = { [path[i]!]: value };
      if (!isObject(value))
        throw new BundleError("data", `${f.path}: a data file at the root must hold an object`);
      mergeData(data, value, f.path, []);
    }
  }

  // Parse first, to check every package against the roots before compiling.
  const parsed: ast.Module[] = [];
  const parseErrors: string[] = [];
  for (const m of modules) {
    try {
      parsed.push(parseModule(m.source, m.file));
    } catch (e) {
      if (!(e instanceof RegoErrors || e instanceof RegoError)) throw e;
      parseErrors.push(...regoErrorLines(e));
    }
  }
  if (parseErrors.length > 0) throw compileError(parseErrors);
  for (const m of parsed) {
    const pkg = packagePath(m);
    if (!rootsContain(manifest.roots, pkg)) {
      throw new BundleError(
        "roots",
        `manifest roots ${JSON.stringify(manifest.roots)} do not permit 'package ${pkg.replace(/\//g, ".")}' in module '${m.file}'`,
      );
    }
  }
  checkDataRoots(manifest.roots, data);

  const wasm: WasmModule[] = wasmFiles.map((f) => ({ path: f.path, bytes: f.bytes, entrypoints: [] }));
  const seenEntrypoints = new Set<string>();
  for (const r of manifest.wasm) {
    const target = wasm.find((w) => w.path === r.module.replace(/^\/+/, ""));
    if (!target) {
      throw new BundleError(
        "manifest",
        `manifest references wasm module '${r.module}' but the module file does not exist`,
      );
    }
    if (!rootsContain(manifest.roots, r.entrypoint)) {
      throw new BundleError(
        "roots",
        `manifest roots ${JSON.stringify(manifest.roots)} do not permit '${r.entrypoint}' entrypoint for wasm module '${r.module}'`,
      );
    }
    if (seenEntrypoints.has(r.entrypoint)) {
      throw new BundleError(
        "manifest",
        `entrypoint '${r.entrypoint}' cannot be used by more than one wasm module`,
      );
    }
    seenEntrypoints.add(r.entrypoint);
    target.entrypoints.push(r.entrypoint);
  }

  let policy;
  try {
    policy = compile({ modules: [], parsed, data });
  } catch (e) {
    if (e instanceof RegoErrors || e instanceof RegoError) throw compileError(regoErrorLines(e));
    throw e;
  }

  return {
    name: o.name,
    manifest,
    revision: manifest.revision !== "" ? manifest.revision : contentRevision(files),
    modules,
    data,
    wasm,
    policy,
    ...(signature ? { signature } : {}),
    files: [...files],
  };
}
