// The shapes shared by the bundle reader, writer, verifier and sources. A bundle is OPA's: a set of
// files (`.manifest`, `data.json`/`data.yaml`, `*.rego`, `policy.wasm`, `.signatures.json`) read from
// a directory or a gzipped tarball. Nothing here knows about HTTP or the PDP server.
import type { Engine } from "../engine/index.js";
import type { CompiledPolicy, ModuleSource } from "../rego/index.js";

/** One file of a bundle, by its path relative to the bundle root (`a/b/data.json`, no leading `/`). */
export interface BundleFile {
  path: string;
  bytes: Buffer;
}

/** OPA's `.manifest` (unknown members are kept but not interpreted, as OPA ignores them). */
export interface Manifest {
  revision: string;
  /** Normalised (no leading or trailing `/`); `[""]` (the bundle owns everything) when absent. */
  roots: string[];
  wasm: WasmResolver[];
  rego_version?: number;
  file_rego_versions?: Record<string, number>;
  metadata?: Record<string, unknown>;
}

export interface WasmResolver {
  entrypoint: string;
  module: string;
  annotations?: unknown[];
}

/** A `policy.wasm` carried by the bundle, kept as bytes for a Wasm engine; our Rego engine ignores it. */
export interface WasmModule {
  path: string;
  bytes: Buffer;
  /** The manifest entrypoints resolved to this module (`http/example/authz/allow`). */
  entrypoints: string[];
}

/** Who signed the bundle, when it was verified. */
export interface SignatureInfo {
  algorithm: string;
  keyId?: string;
  scope?: string;
  /** The files the signature covers (every file of the bundle but `.signatures.json`). */
  files: number;
}

/** A bundle that passed every check and compiled: ready to activate. */
export interface LoadedBundle {
  name: string;
  manifest: Manifest;
  /** The manifest revision, or `sha256:` + 16 hex digits of the content when the manifest has none. */
  revision: string;
  modules: ModuleSource[];
  data: Record<string, unknown>;
  wasm: WasmModule[];
  policy: CompiledPolicy;
  signature?: SignatureInfo;
  /** Every file as read (for serving a directory source as an archive). */
  files: BundleFile[];
}

/** What a bundle loader activates: structurally the PDP's ActivePolicy (pdp/server/policy_store.ts). */
export interface ActivatedPolicy {
  policy: CompiledPolicy;
  /** Set when the revision runs on another engine than `policy` (a bundle's policy.wasm). */
  engine?: Engine;
  revision: string;
  name: string;
  source: string;
  activatedAt: Date;
}

/** Where activated revisions go: the PDP's PolicyStore satisfies this. */
export interface RevisionSink {
  activate(p: ActivatedPolicy): void;
}

export type BundleErrorKind =
  | "archive" // corrupt gzip/tar, path tricks, size limits
  | "manifest" // malformed .manifest
  | "signature" // missing, malformed or failing signature
  | "roots" // data or package outside the roots, overlapping roots
  | "data" // malformed data file, conflicting data
  | "compile" // Rego parse/compile errors
  | "fetch" // HTTP download failed
  | "io"; // file system

/** Every reason a bundle is refused. `details` holds one line per underlying error (compile errors). */
export class BundleError extends Error {
  override name = "BundleError";
  constructor(
    readonly kind: BundleErrorKind,
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

/** Bounds on what a bundle may make us hold in memory. */
export interface BundleLimits {
  /** One file, after decompression (OPA's `size_limit_bytes`). */
  maxFileBytes: number;
  /** The whole bundle: the compressed download and the unpacked tar (which also bounds a gzip bomb). */
  maxBundleBytes: number;
  /** Entries of one archive or directory. */
  maxFiles: number;
  /** Nesting depth of a data file. */
  maxDataDepth: number;
}

export const DEFAULT_LIMITS: BundleLimits = {
  maxFileBytes: 64 * 1024 * 1024,
  maxBundleBytes: 256 * 1024 * 1024,
  maxFiles: 10_000,
  maxDataDepth: 1000,
};

/** Logs like the PDP's logger (pdp/server/context.ts), without importing the server. */
export type BundleLogger = (event: {
  level: "info" | "warn" | "error";
  msg: string;
  [k: string]: unknown;
}) => void;
