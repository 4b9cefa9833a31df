// Loading policies and data from the paths given to -d / `test` / `check`, as
// OPA's loader does: .rego files are modules; .json/.yaml/.yml files are data,
// merged into `data` at their directory's path relative to the root given.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, relative, sep } from "node:path";
import { parse as parseYAML } from "yaml";
import type { ModuleSource } from "../pdp/rego/index.js";
import { LoadError } from "./errors.js";

export interface Loaded {
  modules: ModuleSource[];
  /** The merged base document. */
  data: Record<string, unknown>;
  /** The data files read, in load order. */
  dataFiles: string[];
}

const DATA_EXTS = new Set([".json", ".yaml", ".yml"]);

/** Loads every path (a file or a directory, recursively). */
export function loadPaths(paths: readonly string[]): Loaded {
  const loaded: Loaded = { modules: [], data: {}, dataFiles: [] };
  for (const root of paths) {
    let st;
    try {
      st = statSync(root);
    } catch {
      throw new LoadError(root, "no such file or directory");
    }
    if (st.isDirectory()) {
      for (const file of walk(root)) loadFile(loaded, file, relDir(root, file));
    } else {
      loadFile(loaded, root, [], true);
    }
  }
  return loaded;
}

/** Files under dir in a stable order; hidden entries and node_modules are skipped. */
function walk(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of entries) {
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function relDir(root: string, file: string): string[] {
  const rel = relative(root, dirname(file));
  return rel === "" ? [] : rel.split(sep);
}

function loadFile(loaded: Loaded, file: string, dataPath: string[], explicit = false): void {
  const ext = extname(file).toLowerCase();
  if (ext === ".rego") {
    loaded.modules.push({ file, source: readText(file) });
    return;
  }
  if (!DATA_EXTS.has(ext)) {
    if (explicit) throw new LoadError(file, "unsupported file type (want .rego, .json, .yaml or .yml)");
    return;
  }
  const text = readText(file);
  let doc: unknown;
  try {
    doc = ext === ".json" ? JSON.parse(text) : parseYAML(text);
  } catch (e) {
    throw new LoadError(file, `cannot parse ${ext.slice(1)}: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc === undefined || doc === null) return; // empty YAML file
  let value: unknown = doc;
  for (let i = dataPath.length - 1; i >= 0; i--) value = { [dataPath[i]!]: value };
  if (!isObject(value)) throw new LoadError(file, "data file at the root must hold an object");
  mergeInto(loaded.data, value, file, []);
  loaded.dataFiles.push(file);
}

function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    throw new LoadError(file, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function mergeInto(dst: Record<string, unknown>, src: Record<string, unknown>, file: string, path: string[]) {
  for (const k of Object.keys(src)) {
    const a = dst[k];
    const b = src[k];
    if (Object.prototype.hasOwnProperty.call(dst, k) && isObject(a) && isObject(b)) {
      mergeInto(a, b, file, [...path, k]);
    } else if (Object.prototype.hasOwnProperty.call(dst, k)) {
      throw new LoadError(file, `merge error: data.${[...path, k].join(".")} is defined twice`);
    } else {
      Object.defineProperty(dst, k, { value: b, enumerable: true, writable: true, configurable: true });
    }
  }
}

/** Reads an input document (-i): JSON or YAML by extension. */
export function loadInput(file: string): unknown {
  const text = readText(file);
  const ext = extname(file).toLowerCase();
  try {
    return ext === ".yaml" || ext === ".yml" ? parseYAML(text) : JSON.parse(text);
  } catch (e) {
    throw new LoadError(file, `cannot parse input: ${(e as Error).message.split("\n")[0]}`);
  }
}
