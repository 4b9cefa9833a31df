// The `bundles:` section of the PDP config: types, defaults and validation. Validation runs inside the
// PDP config validator (pdp/server/config.ts), through the small interface below, so that bundle
// errors name the file, line, column and key path exactly like every other config error.
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { isSigningAlgorithm, readKeyFile, SIGNING_ALGORITHMS, type SigningAlgorithm } from "./keys.js";
import { BundleError, DEFAULT_LIMITS } from "./types.js";
import type { EngineChoice } from "../engine/index.js";

export type BundleSource =
  { type: "directory"; path: string } | { type: "file"; path: string } | { type: "http"; url: string };

export interface BundlePolling {
  /** HTTP: the delay between polls is drawn from [min, max]; local sources rescan every min_delay_s. */
  min_delay_s: number;
  max_delay_s: number;
  /** HTTP: ask the server to hold the request up to this long (OPA's `Prefer: wait=N`). */
  long_polling_timeout_s?: number;
  /** HTTP: one request, connect to last byte (a long poll gets this on top of its wait). */
  timeout_s: number;
}

export interface BundleConfig {
  name: string;
  source: BundleSource;
  verification?: { key_file: string; alg: SigningAlgorithm; key_id?: string; scope?: string };
  polling: BundlePolling;
  /** HTTPS sources: the CA to trust instead of the system's, and a client certificate. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** HTTP sources: sent as `Authorization: Bearer <file content>` (e.g. to poll another PDP). */
  bearer_token_file?: string;
  /** One file of the bundle, unpacked (OPA's name). */
  size_limit_bytes: number;
  /** The whole bundle, compressed and unpacked. */
  max_bundle_bytes: number;
  /** The engine that runs the bundle (pdp/engine; the PDP config's `engine`); absent = `rego`. */
  engine?: EngineChoice;
}

export const BUNDLE_DEFAULTS = {
  http: { min_delay_s: 60, max_delay_s: 120 },
  local: { min_delay_s: 10, max_delay_s: 10 },
  timeout_s: 30,
} as const;

/** What the PDP config validator offers (pdp/server/config.ts's Validator satisfies it). */
export interface ConfigChecker {
  err(path: (string | number)[], message: string): void;
  obj(val: unknown, path: (string | number)[], keys: readonly string[]): Record<string, unknown> | undefined;
  has(o: Record<string, unknown>, key: string, path: (string | number)[], required: boolean): boolean;
  str(
    o: Record<string, unknown>,
    key: string,
    path: (string | number)[],
    required?: boolean,
  ): string | undefined;
  int(
    o: Record<string, unknown>,
    key: string,
    path: (string | number)[],
    min: number,
    max: number,
    def: number,
  ): number;
  file(
    o: Record<string, unknown>,
    key: string,
    path: (string | number)[],
    required: boolean,
  ): string | undefined;
  url(o: Record<string, unknown>, key: string, path: (string | number)[]): string | undefined;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const KEYS = [
  "name",
  "source",
  "verification",
  "polling",
  "tls",
  "bearer_token_file",
  "size_limit_bytes",
  "max_bundle_bytes",
];

/** Validates `bundles:` (a list of bundle mappings); relative paths resolve against `dir`. */
export function validateBundles(c: ConfigChecker, val: unknown, dir: string): BundleConfig[] | undefined {
  if (!Array.isArray(val) || val.length === 0) {
    c.err(["bundles"], "must be a non-empty list of bundles ({name, source, …})");
    return undefined;
  }
  if (val.length > 1) {
    // One active revision per PDP: several bundles would have to be merged into one policy.
    c.err(["bundles"], `only one bundle per PDP is supported, got ${val.length}`);
  }
  const out: BundleConfig[] = [];
  const names = new Set<string>();
  val.forEach((item, i) => {
    const b = validateBundle(c, item, ["bundles", i], dir);
    if (!b) return;
    if (names.has(b.name)) c.err(["bundles", i, "name"], `duplicate bundle name ${JSON.stringify(b.name)}`);
    names.add(b.name);
    out.push(b);
  });
  return out.length === val.length ? out : undefined;
}

function validateBundle(
  c: ConfigChecker,
  val: unknown,
  p: (string | number)[],
  dir: string,
): BundleConfig | undefined {
  const o = c.obj(val, p, KEYS);
  if (!o) return undefined;
  const name = c.str(o, "name", p, true);
  if (name !== undefined && !NAME.test(name)) {
    c.err(
      [...p, "name"],
      `must be letters, digits, '.', '_' or '-' (it is a URL path segment), got ${JSON.stringify(name)}`,
    );
  }

  let source: BundleSource | undefined;
  const src = c.str(o, "source", p, true);
  if (src !== undefined) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(src)) {
      const url = c.url(o, "source", p);
      if (url) source = { type: "http", url };
    } else {
      const abs = resolve(dir, src);
      try {
        source = statSync(abs).isDirectory() ? { type: "directory", path: abs } : { type: "file", path: abs };
      } catch {
        c.err([...p, "source"], `not found: ${abs}`);
      }
    }
  }
  const http = source?.type === "http";

  let verification: BundleConfig["verification"];
  if (c.has(o, "verification", p, false)) {
    const vp = [...p, "verification"];
    const v = c.obj(o.verification, vp, ["key_file", "alg", "key_id", "scope"]);
    if (v) {
      const key_file = c.file(v, "key_file", vp, true);
      const alg = c.str(v, "alg", vp, true);
      if (alg !== undefined && !isSigningAlgorithm(alg)) {
        c.err([...vp, "alg"], `must be one of ${SIGNING_ALGORITHMS.join("|")}, got ${JSON.stringify(alg)}`);
      }
      const key_id = c.str(v, "key_id", vp);
      const scope = c.str(v, "scope", vp);
      if (key_file && alg !== undefined && isSigningAlgorithm(alg)) {
        try {
          readKeyFile(key_file, "verification", alg);
          verification = {
            key_file,
            alg,
            ...(key_id !== undefined ? { key_id } : {}),
            ...(scope !== undefined ? { scope } : {}),
          };
        } catch (e) {
          c.err([...vp, "key_file"], e instanceof BundleError ? e.message : String(e));
        }
      }
    }
  }

  const defaults = http ? BUNDLE_DEFAULTS.http : BUNDLE_DEFAULTS.local;
  const polling: BundlePolling = { ...defaults, timeout_s: BUNDLE_DEFAULTS.timeout_s };
  if (c.has(o, "polling", p, false)) {
    const pp = [...p, "polling"];
    const q = c.obj(o.polling, pp, ["min_delay_s", "max_delay_s", "long_polling_timeout_s", "timeout_s"]);
    if (q) {
      polling.min_delay_s = c.int(q, "min_delay_s", pp, 1, 86_400, defaults.min_delay_s);
      polling.max_delay_s = c.int(
        q,
        "max_delay_s",
        pp,
        1,
        86_400,
        Math.max(defaults.max_delay_s, polling.min_delay_s),
      );
      if (polling.max_delay_s < polling.min_delay_s) {
        c.err([...pp, "max_delay_s"], `must be at least min_delay_s (${polling.min_delay_s})`);
      }
      if (q.long_polling_timeout_s !== undefined) {
        if (!http) c.err([...pp, "long_polling_timeout_s"], "applies to http(s) sources only");
        else polling.long_polling_timeout_s = c.int(q, "long_polling_timeout_s", pp, 1, 3600, 60);
      }
      polling.timeout_s = c.int(q, "timeout_s", pp, 1, 600, BUNDLE_DEFAULTS.timeout_s);
    }
  }

  let tls: BundleConfig["tls"];
  if (c.has(o, "tls", p, false)) {
    const tp = [...p, "tls"];
    if (source && source.type !== "http") c.err(tp, "applies to http(s) sources only");
    const t = c.obj(o.tls, tp, ["ca", "cert", "key"]);
    if (t) {
      const ca = c.file(t, "ca", tp, false);
      const cert = c.file(t, "cert", tp, false);
      const key = c.file(t, "key", tp, false);
      if ((t.cert === undefined) !== (t.key === undefined)) c.err(tp, "cert and key go together");
      tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
    }
  }
  let bearer_token_file: string | undefined;
  if (c.has(o, "bearer_token_file", p, false)) {
    if (source && source.type !== "http")
      c.err([...p, "bearer_token_file"], "applies to http(s) sources only");
    bearer_token_file = c.file(o, "bearer_token_file", p, false);
  }

  const size_limit_bytes = c.int(o, "size_limit_bytes", p, 1024, 2 ** 31, DEFAULT_LIMITS.maxFileBytes);
  const max_bundle_bytes = c.int(o, "max_bundle_bytes", p, 1024, 2 ** 31, DEFAULT_LIMITS.maxBundleBytes);

  if (!name || !NAME.test(name) || !source) return undefined;
  return {
    name,
    source,
    ...(verification ? { verification } : {}),
    polling,
    ...(tls ? { tls } : {}),
    ...(bearer_token_file ? { bearer_token_file } : {}),
    size_limit_bytes,
    max_bundle_bytes,
  };
}
