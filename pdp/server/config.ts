// The configuration of `portcullis pdp`: its types, defaults and validation, from a YAML file or from
// the quick-form flags. Like the gateway's loader (which pdp/ may not import) every error names the
// file, line, column and key path, all errors are reported at once, and unknown keys are errors: a
// misspelt `auth` setting must not silently leave the PDP open.
import { ASYMMETRIC_JWS_ALGORITHMS } from "../../lib/jws_algorithms.js";
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, resolve } from "node:path";
import { validateBundles, type BundleConfig } from "../bundle/config.js";
import { ENGINE_CHOICES, type EngineChoice } from "../engine/types.js";
import { parseDecisionLogConfig, type DecisionLogConfig } from "../decision_log/index.js";
import { isLoopbackHost } from "../../lib/loopback.js";
import {
  describeValue as describe,
  parseYamlConfig,
  unreadable,
  YamlValidator,
  type ConfigIssue,
  type ParsedYaml,
} from "../../lib/yaml_config.js";

export type ClientAuthConfig =
  | { type: "none" }
  | {
      type: "bearer";
      jwks_file?: string;
      jwks_url?: string;
      issuer: string;
      audience: string[];
      algorithms: string[];
      clock_skew_s: number;
    }
  | { type: "mtls" };

export interface PdpLimits {
  /** Request body bytes, after gzip decompression too. */
  max_body_bytes: number;
  /** Nesting depth of a JSON/YAML request body. */
  max_depth: number;
  /** Wall-clock bound of one evaluation (and of a whole AuthZEN batch). */
  eval_timeout_ms: number;
  /** Items of one AuthZEN evaluations request. */
  max_evaluations: number;
}

export interface PdpConfig {
  /** The config file, when there is one. */
  file?: string;
  listen: { host: string; port: number };
  /** Policy and data paths (files or directories), absolute; empty when `bundles` is used. */
  policies: string[];
  /** OPA-format bundles (docs/bundles.md): exclusive with `policies`. */
  bundles?: BundleConfig[];
  tls?: { cert: string; key: string; client_ca: string[] };
  auth: ClientAuthConfig;
  limits: PdpLimits;
  authzen: {
    /** The decision answering AuthZEN requests, as a slash-separated path under data. */
    entrypoint: string;
    /** The PDP identifier published in the metadata; default: derived from each request's Host. */
    pdp_identifier?: string;
  };
  /** Decision logs (docs/decision-logs.md); absent = off, as in OPA. */
  decision_logs?: DecisionLogConfig;
  /** The policy engine (docs/engines.md); absent = `rego`. Copied into every bundle's config. */
  engine?: EngineChoice;
  /** The Data API's in-process decision cache (docs/pdp-api.md); absent = every request evaluates. */
  cache?: { ttl_s: number; max_entries: number };
}

export type { ConfigIssue };

export const PDP_DEFAULTS = {
  listen: "127.0.0.1:8181",
  entrypoint: "portcullis/authz/decision",
  max_body_bytes: 1024 * 1024,
  max_depth: 64,
  eval_timeout_ms: 1000,
  max_evaluations: 1000,
  clock_skew_s: 60,
  algorithms: ["ES256", "ES384", "RS256", "PS256", "EdDSA"],
} as const;

/** Asymmetric JWS algorithms only (lib/jws_algorithms.ts). */
export const ALLOWED_ALGORITHMS: readonly string[] = ASYMMETRIC_JWS_ALGORITHMS;

export class PdpConfigError extends Error {
  override name = "PdpConfigError";
  constructor(readonly issues: ConfigIssue[]) {
    super(formatIssues(issues));
  }
}

/** `file:line:col: path: message`, one per line. */
export function formatIssues(issues: ConfigIssue[]): string {
  const lines = issues.map((e) => {
    const at = e.line !== undefined ? `${e.file}:${e.line}:${e.col ?? 1}` : e.file;
    return `${at}: ${e.path === "" ? "" : e.path + ": "}${e.message}`;
  });
  return `invalid config (${issues.length} error${issues.length === 1 ? "" : "s"}):\n${lines.join("\n")}`;
}

/** Reads and validates a YAML config file. Throws PdpConfigError listing every problem. */
export function loadPdpConfig(file: string): PdpConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    throw new PdpConfigError([unreadable(abs, e)]);
  }
  return parsePdpConfig(text, abs);
}

/** Validates config text as if read from `file` (relative paths resolve against its directory). */
export function parsePdpConfig(text: string, file: string): PdpConfig {
  const abs = resolve(file);
  const parsed = parseYamlConfig(text, abs);
  if (Array.isArray(parsed)) throw new PdpConfigError(parsed);
  const v = new Validator(abs, dirname(abs), parsed);
  const config = v.config(parsed.value, true);
  if (v.issues.length > 0 || !config) throw new PdpConfigError(v.issues);
  return { ...config, file: abs };
}

/**
 * Validates a config built from command-line flags (the quick form): same rules, except that `auth`
 * may be left out, which means `none` on a loopback address only. `source` names the origin in errors.
 */
export function pdpConfigFromObject(value: Record<string, unknown>, source: string, cwd: string): PdpConfig {
  const v = new Validator(source, cwd, undefined);
  const config = v.config(value, false);
  if (v.issues.length > 0 || !config) throw new PdpConfigError(v.issues);
  return config;
}

/** `host:port`, `[v6]:port` or `:port` (all interfaces); undefined when malformed. */
export function parseListen(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? (m[2] === "" ? "0.0.0.0" : m[2]!);
  if (m[1] !== undefined && isIP(m[1]) !== 6) return undefined;
  if (m[1] === undefined && isIP(host) === 0 && !HOSTNAME.test(host)) return undefined;
  return { host, port };
}

type Path = (string | number)[];
type Obj = Record<string, unknown>;

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const ENTRYPOINT = /^[A-Za-z_][A-Za-z0-9_]*(?:\/[A-Za-z_][A-Za-z0-9_]*)*$/;

class Validator extends YamlValidator {
  constructor(
    source: string,
    private readonly dir: string,
    yaml: ParsedYaml | undefined,
  ) {
    super(source, yaml);
  }

  has(o: Obj, key: string, path: Path, required: boolean): boolean {
    if (o[key] === undefined) {
      if (required) this.err([...path, key], "is required");
      return false;
    }
    return true;
  }

  str(o: Obj, key: string, path: Path, required = false): string | undefined {
    if (!this.has(o, key, path, required)) return undefined;
    const v = o[key];
    if (typeof v !== "string" || v === "") {
      this.err([...path, key], `must be a non-empty string, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  strList(o: Obj, key: string, path: Path, required = false): string[] | undefined {
    if (!this.has(o, key, path, required)) return undefined;
    const v = o[key];
    if (typeof v === "string" && v !== "") return [v];
    if (!Array.isArray(v) || v.length === 0) {
      this.err([...path, key], `must be a string or a non-empty list of strings, got ${describe(v)}`);
      return undefined;
    }
    let ok = true;
    v.forEach((x, i) => {
      if (typeof x !== "string" || x === "") {
        this.err([...path, key, i], `must be a non-empty string, got ${describe(x)}`);
        ok = false;
      }
    });
    return ok ? (v as string[]) : undefined;
  }

  int(o: Obj, key: string, path: Path, min: number, max: number, def: number): number {
    if (!this.has(o, key, path, false)) return def;
    const v = o[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.err([...path, key], `must be an integer from ${min} to ${max}, got ${describe(v)}`);
      return def;
    }
    return v;
  }

  /** Files, resolved against the config file's directory (or the working directory), that must exist. */
  files(o: Obj, key: string, path: Path, required: boolean): string[] | undefined {
    const list = this.strList(o, key, path, required);
    if (!list) return undefined;
    const out = list.map((s) => resolve(this.dir, s));
    out.forEach((abs, i) => {
      if (!existsSync(abs))
        this.err(Array.isArray(o[key]) ? [...path, key, i] : [...path, key], `not found: ${abs}`);
    });
    return out;
  }

  file(o: Obj, key: string, path: Path, required: boolean): string | undefined {
    if (this.has(o, key, path, required) && Array.isArray(o[key])) {
      this.err([...path, key], `must be a single file name, got a list`);
      return undefined;
    }
    return this.files(o, key, path, required)?.[0];
  }

  url(o: Obj, key: string, path: Path): string | undefined {
    const s = this.str(o, key, path);
    if (s === undefined) return undefined;
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      this.err([...path, key], `must be an absolute URL, got ${JSON.stringify(s)}`);
      return undefined;
    }
    const ok = u.protocol === "https:" || (u.protocol === "http:" && isLoopbackHost(u.hostname));
    if (!ok) {
      this.err([...path, key], `must be an https URL (http only on loopback), got ${JSON.stringify(s)}`);
      return undefined;
    }
    return s;
  }

  config(val: unknown, authRequired: boolean): PdpConfig | undefined {
    if (val === null || val === undefined) {
      this.err([], "config is empty");
      return undefined;
    }
    const root = this.obj(
      val,
      [],
      [
        "listen",
        "policies",
        "bundles",
        "tls",
        "auth",
        "limits",
        "authzen",
        "decision_logs",
        "engine",
        "cache",
      ],
    );
    if (!root) return undefined;

    let listen: PdpConfig["listen"] | undefined = parseListen(PDP_DEFAULTS.listen);
    const listenText = this.str(root, "listen", []);
    if (listenText !== undefined) {
      listen = parseListen(listenText);
      if (!listen)
        this.err(["listen"], `must be host:port, [ipv6]:port or :port, got ${JSON.stringify(listenText)}`);
    }

    // Policies come from plain paths or from bundles, not both: one source of truth per PDP.
    const bundles = root.bundles === undefined ? undefined : validateBundles(this, root.bundles, this.dir);
    if (root.bundles !== undefined && root.policies !== undefined) {
      this.err(["policies"], "cannot be combined with bundles");
    }
    const policies = root.bundles !== undefined ? [] : this.files(root, "policies", [], true);
    const engine = this.engine(root, bundles !== undefined);

    let tls: PdpConfig["tls"];
    if (this.has(root, "tls", [], false)) {
      const o = this.obj(root.tls, ["tls"], ["cert", "key", "client_ca"]);
      if (o) {
        const cert = this.file(o, "cert", ["tls"], true);
        const key = this.file(o, "key", ["tls"], true);
        const client_ca = this.files(o, "client_ca", ["tls"], false) ?? [];
        if (cert && key) tls = { cert, key, client_ca };
      }
    }

    let auth: ClientAuthConfig | undefined;
    if (!this.has(root, "auth", [], authRequired)) {
      // Only the quick form gets here: without client authentication it serves loopback only.
      auth = { type: "none" };
      if (listen && !isLoopbackHost(listen.host)) {
        this.err(
          ["listen"],
          `without client authentication the quick form listens on loopback only, got ${listen.host}; ` +
            "use --jwks or --client-ca, or a config file with `auth: {type: none}` to expose the PDP",
        );
      }
    } else {
      auth = this.auth(root.auth, tls);
    }

    const limits: PdpLimits = {
      max_body_bytes: PDP_DEFAULTS.max_body_bytes,
      max_depth: PDP_DEFAULTS.max_depth,
      eval_timeout_ms: PDP_DEFAULTS.eval_timeout_ms,
      max_evaluations: PDP_DEFAULTS.max_evaluations,
    };
    if (this.has(root, "limits", [], false)) {
      const o = this.obj(root.limits, ["limits"], Object.keys(limits));
      if (o) {
        const p = ["limits"];
        limits.max_body_bytes = this.int(
          o,
          "max_body_bytes",
          p,
          64,
          256 * 1024 * 1024,
          limits.max_body_bytes,
        );
        limits.max_depth = this.int(o, "max_depth", p, 2, 10_000, limits.max_depth);
        limits.eval_timeout_ms = this.int(o, "eval_timeout_ms", p, 1, 60_000, limits.eval_timeout_ms);
        limits.max_evaluations = this.int(o, "max_evaluations", p, 1, 100_000, limits.max_evaluations);
      }
    }

    let cache: PdpConfig["cache"];
    if (this.has(root, "cache", [], false)) {
      const o = this.obj(root.cache, ["cache"], ["ttl_s", "max_entries"]);
      if (o) {
        cache = {
          ttl_s: this.int(o, "ttl_s", ["cache"], 0, 86_400, 60),
          max_entries: this.int(o, "max_entries", ["cache"], 1, 10_000_000, 10_000),
        };
      }
    }

    const authzen: PdpConfig["authzen"] = { entrypoint: PDP_DEFAULTS.entrypoint };
    if (this.has(root, "authzen", [], false)) {
      const o = this.obj(root.authzen, ["authzen"], ["entrypoint", "pdp_identifier"]);
      if (o) {
        const ep = this.str(o, "entrypoint", ["authzen"]);
        if (ep !== undefined && !ENTRYPOINT.test(ep)) {
          this.err(
            ["authzen", "entrypoint"],
            `must be a slash-separated rule path, got ${JSON.stringify(ep)}`,
          );
        } else if (ep !== undefined) authzen.entrypoint = ep;
        const id = this.str(o, "pdp_identifier", ["authzen"]);
        if (id !== undefined) {
          // The AuthZEN identifier is an https URL without query or fragment (§ PDP metadata).
          let u: URL | undefined;
          try {
            u = new URL(id);
          } catch {
            u = undefined;
          }
          if (!u || u.protocol !== "https:" || u.search || u.hash || id.includes("?") || id.includes("#")) {
            this.err(
              ["authzen", "pdp_identifier"],
              `must be an https URL without query or fragment, got ${JSON.stringify(id)}`,
            );
          } else authzen.pdp_identifier = id.replace(/\/$/, "");
        }
      }
    }

    const decision_logs =
      root.decision_logs === undefined
        ? undefined
        : parseDecisionLogConfig(root.decision_logs, {
            err: (p, m) => this.err(["decision_logs", ...p], m),
            resolvePath: (f) => resolve(this.dir, f),
          });

    if (this.issues.length > 0 || !listen || !policies || !auth) return undefined;
    return {
      listen,
      policies,
      ...(tls ? { tls } : {}),
      auth,
      limits,
      authzen,
      ...(decision_logs ? { decision_logs } : {}),
      ...(bundles ? { bundles: engine ? bundles.map((b) => ({ ...b, engine })) : bundles } : {}),
      ...(engine ? { engine } : {}),
      ...(cache ? { cache } : {}),
    };
  }

  /** `engine: auto|rego|wasm`; only a bundle can carry a policy.wasm, so `wasm` needs `bundles`. */
  private engine(root: Obj, hasBundles: boolean): EngineChoice | undefined {
    const e = this.str(root, "engine", []);
    if (e === undefined) return undefined;
    if (!(ENGINE_CHOICES as readonly string[]).includes(e)) {
      this.err(["engine"], `must be one of ${ENGINE_CHOICES.join("|")}, got ${JSON.stringify(e)}`);
      return undefined;
    }
    if (e === "wasm" && !hasBundles) {
      this.err(["engine"], "wasm runs a bundle's policy.wasm and needs `bundles`, not `policies`");
      return undefined;
    }
    return e as EngineChoice;
  }

  private auth(val: unknown, tls: PdpConfig["tls"]): ClientAuthConfig | undefined {
    const keys = ["type", "jwks_file", "jwks_url", "issuer", "audience", "algorithms", "clock_skew_s"];
    const o = this.obj(val, ["auth"], keys);
    if (!o) return undefined;
    const type = this.str(o, "type", ["auth"], true);
    if (type === undefined) return undefined;
    const onlyType = (t: string) => {
      for (const k of keys)
        if (k !== "type" && o[k] !== undefined) this.err(["auth", k], `does not apply to type ${t}`);
    };
    switch (type) {
      case "none":
        onlyType(type);
        return { type: "none" };
      case "mtls":
        onlyType(type);
        if (!tls) this.err(["auth", "type"], "mtls needs a `tls` section with cert, key and client_ca");
        else if (tls.client_ca.length === 0)
          this.err(["tls"], "client_ca is required when auth.type is mtls");
        return { type: "mtls" };
      case "bearer": {
        const p = ["auth"];
        const jwks_file = this.file(o, "jwks_file", p, false);
        const jwks_url = this.url(o, "jwks_url", p);
        if ((o.jwks_file === undefined) === (o.jwks_url === undefined)) {
          this.err(p, "bearer needs exactly one of jwks_file and jwks_url");
        }
        const issuer = this.str(o, "issuer", p, true);
        const audience = this.strList(o, "audience", p, true);
        const algorithms = this.strList(o, "algorithms", p) ?? [...PDP_DEFAULTS.algorithms];
        algorithms.forEach((a, i) => {
          if (!ALLOWED_ALGORITHMS.includes(a)) {
            this.err(
              Array.isArray(o.algorithms) ? [...p, "algorithms", i] : [...p, "algorithms"],
              `must be one of ${ALLOWED_ALGORITHMS.join("|")}, got ${JSON.stringify(a)}`,
            );
          }
        });
        const clock_skew_s = this.int(o, "clock_skew_s", p, 0, 600, PDP_DEFAULTS.clock_skew_s);
        if (!issuer || !audience) return undefined;
        return {
          type: "bearer",
          ...(jwks_file ? { jwks_file } : {}),
          ...(jwks_url ? { jwks_url } : {}),
          issuer,
          audience,
          algorithms,
          clock_skew_s,
        };
      }
      default:
        this.err(["auth", "type"], `must be one of bearer|mtls|none, got ${JSON.stringify(type)}`);
        return undefined;
    }
  }
}
