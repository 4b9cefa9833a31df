// One named bundle kept up to date from its source and activated into the PDP. Loads run one at a
// time; a bundle that fails any check (signature, roots, data, compilation, a corrupt archive) is
// rejected with a log line and a status entry while the previous revision keeps serving. Activation
// is a single reference swap in the store: a request takes the active revision once, at its start,
// so in-flight evaluations finish on the revision they started with and no request ever fails
// because of a reload.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { activationEngine } from "../engine/select.js";
import type { Engine } from "../engine/types.js";
import { readArchive, writeArchive } from "./archive.js";
import type { BundleConfig } from "./config.js";
import { readDirectory } from "./directory.js";
import { HttpPoller } from "./http_poller.js";
import { readKeyFile } from "./keys.js";
import { loadBundle } from "./load.js";
import {
  BundleError,
  DEFAULT_LIMITS,
  type BundleFile,
  type BundleLimits,
  type BundleLogger,
  type LoadedBundle,
  type RevisionSink,
} from "./types.js";
import type { VerificationConfig } from "./verify.js";
import { watchForChanges } from "./watch.js";

/** The active bundle as served at `GET /bundles/{name}`. */
export interface ServedBundle {
  name: string;
  revision: string;
  /** Quoted strong ETag, derived from the revision and the archive bytes. */
  etag: string;
  archive: Buffer;
}

/** Bundle status, in the shape of OPA's status API (`bundles.{name}`), plus `source` and `last_error`. */
export interface BundleStatus {
  name: string;
  source: string;
  active_revision?: string;
  last_successful_activation?: string;
  last_successful_download?: string;
  last_successful_request?: string;
  last_request?: string;
  /** Present while the latest attempt failed (OPA clears them on success). */
  code?: string;
  message?: string;
  errors?: string[];
  /** The most recent failure, kept after later successes. */
  last_error?: { time: string; code: string; message: string; errors?: string[] };
  signed?: { algorithm: string; key_id?: string; scope?: string };
}

export type BundleEvent =
  | { type: "activated"; name: string; revision: string }
  | { type: "rejected"; name: string; error: BundleError }
  | { type: "fetch_error"; name: string; error: BundleError }
  | { type: "unchanged"; name: string };

export interface BundleManagerOptions {
  config: BundleConfig;
  sink: RevisionSink;
  log: BundleLogger;
  /** Quiet time after the last file event before a local source is reread (default 250 ms). */
  debounceMs?: number;
  userAgent?: string;
}

function sourceText(c: BundleConfig): string {
  return c.source.type === "http" ? c.source.url : c.source.path;
}

/** The ETag of an archive served for a revision (printable, quote-free, so always a valid ETag). */
export function bundleEtag(revision: string, archive: Buffer): string {
  const h = createHash("sha256").update(revision).update("\n").update(archive).digest("hex");
  return `"${h.slice(0, 32)}"`;
}

export class BundleManager {
  readonly name: string;
  private readonly config: BundleConfig;
  private readonly limits: BundleLimits;
  private readonly verification: VerificationConfig | undefined;
  private readonly status_: BundleStatus;
  private served: ServedBundle | undefined;
  private active: LoadedBundle | undefined;
  /** What the last processed input hashed to, so an unchanged rescan is a no-op. */
  private lastInput = "";
  private running = false;
  private pending = false;
  private idle: Promise<void> = Promise.resolve();
  private stopWatch: (() => void) | undefined;
  private poller: HttpPoller | undefined;
  private readonly listeners = new Set<(e: BundleEvent) => void>();
  private readonly changeWaiters = new Set<() => void>();

  constructor(private readonly o: BundleManagerOptions) {
    this.config = o.config;
    this.name = o.config.name;
    this.limits = {
      ...DEFAULT_LIMITS,
      maxFileBytes: o.config.size_limit_bytes,
      maxBundleBytes: o.config.max_bundle_bytes,
    };
    const v = o.config.verification;
    this.verification = v
      ? {
          alg: v.alg,
          key: readKeyFile(v.key_file, "verification", v.alg),
          ...(v.key_id !== undefined ? { keyId: v.key_id } : {}),
          ...(v.scope !== undefined ? { scope: v.scope } : {}),
        }
      : undefined;
    this.status_ = { name: this.name, source: sourceText(o.config) };
  }

  /**
   * Starts following the source. A local source is loaded once before this resolves and a failure
   * is thrown (a PDP should not start on a broken bundle it could have checked); an HTTP source is
   * polled in the background and the PDP is not ready until its first activation.
   */
  async start(): Promise<void> {
    const src = this.config.source;
    if (src.type === "http") {
      this.startPoller(src.url);
      return;
    }
    let firstError: BundleError | undefined;
    const once = (e: BundleEvent) => {
      if (e.type === "rejected") firstError = e.error;
    };
    this.listeners.add(once);
    try {
      await this.rescan();
    } finally {
      this.listeners.delete(once);
    }
    const interval = this.config.polling.min_delay_s * 1000;
    this.stopWatch =
      src.type === "directory"
        ? watchForChanges({
            dir: src.path,
            recursive: true,
            debounceMs: this.o.debounceMs ?? 250,
            intervalMs: interval,
            onChange: () => void this.rescan(),
          })
        : watchForChanges({
            dir: dirname(src.path),
            recursive: false,
            only: basename(src.path),
            debounceMs: this.o.debounceMs ?? 250,
            intervalMs: interval,
            onChange: () => void this.rescan(),
          });
    if (firstError) {
      await this.stop();
      throw firstError;
    }
  }

  async stop(): Promise<void> {
    this.stopWatch?.();
    this.stopWatch = undefined;
    await this.poller?.stop();
    this.poller = undefined;
    await this.idle;
  }

  /** Rereads a local source now (what a file event or SIGHUP does); for HTTP, polls now. */
  reload(): Promise<void> {
    if (this.poller) {
      this.poller.poke();
      return Promise.resolve();
    }
    return this.rescan();
  }

  onEvent(listener: (e: BundleEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): BundleStatus {
    return structuredClone(this.status_);
  }

  /** The active bundle's archive, or undefined before the first activation. */
  current(): ServedBundle | undefined {
    return this.served;
  }

  /** The last activated bundle (modules, data, Wasm modules, manifest). */
  loaded(): LoadedBundle | undefined {
    return this.active;
  }

  /** Resolves when the served ETag differs from `etag`, or after `ms`, or when `signal` aborts. */
  waitForChange(etag: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.served && this.served.etag !== etag) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.changeWaiters.delete(finish);
        signal?.removeEventListener("abort", finish);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.changeWaiters.add(finish);
      signal?.addEventListener("abort", finish, { once: true });
    });
  }

  private emit(e: BundleEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure is not the bundle's.
      }
    }
  }

  private startPoller(url: string): void {
    const t = this.config.tls;
    const read = (f: string | undefined) => (f ? readFileSync(f) : undefined);
    const tokenFile = this.config.bearer_token_file;
    this.poller = new HttpPoller(
      {
        url,
        minDelayMs: this.config.polling.min_delay_s * 1000,
        maxDelayMs: this.config.polling.max_delay_s * 1000,
        ...(this.config.polling.long_polling_timeout_s !== undefined
          ? { longPollTimeoutS: this.config.polling.long_polling_timeout_s }
          : {}),
        timeoutMs: this.config.polling.timeout_s * 1000,
        maxBytes: this.limits.maxBundleBytes,
        ...(t?.ca ? { ca: read(t.ca) } : {}),
        ...(t?.cert ? { cert: read(t.cert), key: read(t.key) } : {}),
        ...(tokenFile ? { bearerToken: () => readFileSync(tokenFile, "utf8").trim() } : {}),
        ...(this.o.userAgent ? { userAgent: this.o.userAgent } : {}),
      },
      {
        onBundle: async (bytes) => {
          const now = new Date().toISOString();
          this.status_.last_request = this.status_.last_successful_request = now;
          this.status_.last_successful_download = now;
          await this.serialized(() => this.process(() => readArchive(bytes, this.limits), bytes));
        },
        onNotModified: () => {
          const now = new Date().toISOString();
          this.status_.last_request = this.status_.last_successful_request = now;
          this.emit({ type: "unchanged", name: this.name });
        },
        onError: (error) => {
          this.status_.last_request = new Date().toISOString();
          this.fail(error, "bundle download failed");
          this.emit({ type: "fetch_error", name: this.name, error });
        },
      },
    );
    this.poller.start();
  }

  /** Runs `fn` after every earlier load; concurrent rescans collapse into one more run. */
  private serialized(fn: () => Promise<void>): Promise<void> {
    const next = this.idle.then(fn, fn);
    this.idle = next.catch(() => undefined);
    return next;
  }

  private rescan(): Promise<void> {
    if (this.running) {
      this.pending = true;
      return this.idle;
    }
    this.running = true;
    const run = async () => {
      try {
        do {
          this.pending = false;
          await this.scanOnce();
        } while (this.pending);
      } finally {
        this.running = false;
      }
    };
    return this.serialized(run);
  }

  private async scanOnce(): Promise<void> {
    const src = this.config.source;
    if (src.type === "directory") {
      let files: BundleFile[];
      try {
        files = await readDirectory(src.path, this.limits);
      } catch (e) {
        this.rejectOnce(e);
        return;
      }
      await this.process(async () => files, undefined, inputHash(files));
    } else if (src.type === "file") {
      let bytes: Buffer;
      try {
        bytes = await readFile(src.path);
      } catch (e) {
        this.rejectOnce(
          new BundleError("io", `cannot read ${src.path}: ${(e as NodeJS.ErrnoException).code ?? e}`),
        );
        return;
      }
      await this.process(() => readArchive(bytes, this.limits), bytes);
    }
  }

  /**
   * Loads what `files` yields and activates it, unless it is the input processed last time. `archive`
   * is what gets served (a directory is served as a fresh archive of its files).
   */
  private async process(
    files: () => Promise<BundleFile[]>,
    archive: Buffer | undefined,
    hash?: string,
  ): Promise<void> {
    const key =
      hash ??
      createHash("sha256")
        .update(archive ?? Buffer.alloc(0))
        .digest("hex");
    if (key === this.lastInput) {
      this.emit({ type: "unchanged", name: this.name });
      return;
    }
    this.lastInput = key;
    let bundle: LoadedBundle;
    let engine: Engine | undefined;
    try {
      bundle = await loadBundle(await files(), {
        name: this.name,
        ...(this.verification ? { verification: this.verification } : {}),
        limits: this.limits,
      });
      // A policy.wasm that cannot run is refused like Rego that does not compile (docs/engines.md).
      engine = await activationEngine(this.config.engine ?? "rego", bundle).catch((e: unknown) => {
        throw new BundleError("compile", e instanceof Error ? e.message : String(e));
      });
    } catch (e) {
      this.reject(e);
      return;
    }
    const served = archive ?? writeArchive(bundle.files);
    const now = new Date();
    // The swap: from here on new requests see the new revision; running ones keep the one they took.
    this.o.sink.activate({
      policy: bundle.policy,
      ...(engine ? { engine } : {}),
      revision: bundle.revision,
      name: this.name,
      source: sourceText(this.config),
      activatedAt: now,
    });
    this.active = bundle;
    this.served = {
      name: this.name,
      revision: bundle.revision,
      etag: bundleEtag(bundle.revision, served),
      archive: served,
    };
    const st = this.status_;
    st.active_revision = bundle.revision;
    st.last_successful_activation = now.toISOString();
    delete st.code;
    delete st.message;
    delete st.errors;
    if (bundle.signature) {
      st.signed = {
        algorithm: bundle.signature.algorithm,
        ...(bundle.signature.keyId !== undefined ? { key_id: bundle.signature.keyId } : {}),
        ...(bundle.signature.scope !== undefined ? { scope: bundle.signature.scope } : {}),
      };
    } else delete st.signed;
    this.o.log({
      level: "info",
      msg: "bundle activated",
      bundle: this.name,
      revision: bundle.revision,
      source: st.source,
      signed: bundle.signature !== undefined,
    });
    for (const w of [...this.changeWaiters]) w();
    this.emit({ type: "activated", name: this.name, revision: bundle.revision });
  }

  /** A source that cannot be read is reported once, not at every rescan, until something changes. */
  private rejectOnce(e: unknown): void {
    const key = `error:${e instanceof Error ? e.message : String(e)}`;
    if (key === this.lastInput) {
      this.emit({ type: "unchanged", name: this.name });
      return;
    }
    this.lastInput = key;
    this.reject(e);
  }

  private reject(e: unknown): void {
    const error =
      e instanceof BundleError ? e : new BundleError("io", e instanceof Error ? e.message : String(e));
    this.fail(error, "bundle rejected; the previous revision keeps serving");
    this.emit({ type: "rejected", name: this.name, error });
  }

  private fail(error: BundleError, msg: string): void {
    const st = this.status_;
    const code = `bundle_${error.kind}_error`;
    st.code = code;
    st.message = error.message;
    if (error.details.length > 0) st.errors = error.details;
    else delete st.errors;
    st.last_error = {
      time: new Date().toISOString(),
      code,
      message: error.message,
      ...(error.details.length > 0 ? { errors: error.details } : {}),
    };
    this.o.log({
      level: "error",
      msg,
      bundle: this.name,
      source: st.source,
      active_revision: st.active_revision ?? null,
      kind: error.kind,
      error: error.message,
      ...(error.details.length > 1 ? { errors: error.details } : {}),
    });
  }
}

/** A digest of a directory's files, to skip rescans that found nothing new. */
function inputHash(files: readonly BundleFile[]): string {
  const h = createHash("sha256");
  for (const f of files) h.update(`${f.path}\0${f.bytes.length}\0`).update(f.bytes);
  return h.digest("hex");
}
