// Bundle file names: the one place that decides whether a name is safe and what kind of file it is.
// Entries are never written to disk, but a name is still refused when it could mean something else
// to another tool (`..`, `C:`, backslashes, control characters): a bundle we accept must be one that
// extracts to the same tree everywhere. A single leading `/` is how `opa build` writes every name and
// means the bundle root.
import { BundleError } from "./types.js";

export const MANIFEST = ".manifest";
export const SIGNATURES = ".signatures.json";

export type FileKind = "manifest" | "signatures" | "rego" | "data-json" | "data-yaml" | "wasm" | "other";

/**
 * The bundle-relative path of an archive entry (`/a/./b.rego` is refused, `/a/b.rego` → `a/b.rego`).
 * Returns undefined for the root directory itself (`./`, `/`). Throws BundleError("archive").
 */
export function normalizeEntryName(raw: string, isDir: boolean): string | undefined {
  const bad = (why: string) => new BundleError("archive", `unsafe entry name ${JSON.stringify(raw)}: ${why}`);
  if (raw.length === 0) throw bad("empty");
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c) throw bad("control character or backslash");
  }
  let name = raw;
  if (name.startsWith("//")) throw bad("absolute path");
  if (name.startsWith("/")) name = name.slice(1);
  while (name.startsWith("./")) name = name.slice(2);
  if (isDir || name.endsWith("/")) name = name.replace(/\/+$/, "");
  if (name === "" || name === ".") return undefined;
  const segments = name.split("/");
  for (const s of segments) {
    if (s === "") throw bad("empty path segment");
    if (s === "." || s === "..") throw bad(`"${s}" path segment`);
  }
  if (/^[A-Za-z]:/.test(segments[0]!)) throw bad("drive letter");
  return name;
}

/** What a file means to a bundle, by OPA's rules (file names decide, not contents). */
export function fileKind(path: string): FileKind {
  if (path === MANIFEST) return "manifest";
  if (path === SIGNATURES) return "signatures";
  const base = path.slice(path.lastIndexOf("/") + 1);
  if (base.endsWith(".rego")) return "rego";
  if (base === "data.json") return "data-json";
  if (base === "data.yaml" || base === "data.yml") return "data-yaml";
  if (base === "policy.wasm") return "wasm";
  return "other";
}

/** The data path a data file lands at: its directory (`a/b/data.json` → ["a", "b"]). */
export function dataPathOf(path: string): string[] {
  const i = path.lastIndexOf("/");
  return i < 0 ? [] : path.slice(0, i).split("/");
}

/** Byte-wise (UTF-8, = code point) order, which is how Go sorts strings. */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
