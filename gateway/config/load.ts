// Loads and validates the YAML config of `portcullis serve`. Hand-written
// rather than a JSON Schema: every error must name the file, the key path and
// the problem in the user's words, cross-field rules (the `authentication`
// expression, duplicate listeners) need code anyway, and all errors are
// reported at once. Unknown keys are errors: a misspelt security setting must
// not silently fall back to a weaker default.
import { ASYMMETRIC_JWS_ALGORITHMS } from "../../lib/jws_algorithms.js";
import { existsSync, readFileSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, resolve } from "node:path";
import { isMap, isNode, isScalar, LineCounter, parseDocument } from "yaml";
import { parseDecisionLogConfig } from "../../pdp/decision_log/index.js";
import { resolveProfile } from "../../attestation/ear/profiles.js";
import { EAR_ALGORITHMS, EAR_DEFAULTS } from "../../attestation/ear/verify.js";
import type { TrustedVerifierConfig } from "../../attestation/config.js";
// Translation patterns are validated by the code that runs them, so the two can never disagree.
import { compilePattern } from "../identity/translation_pattern.js";
import { parseWorkloadId } from "../identity/workload_id.js";
import type {
  AssertionIssuer,
  AuthExpr,
  Authenticators,
  CallerTypeRule,
  ClientAuth,
  BearerConfig,
  Config,
  ConfigIssue,
  Limits,
  RemotePdpConfig,
  Segment,
  SegmentAttestation,
  SegmentTls,
  TranslationRule,
} from "./types.js";
import { isLoopbackHost } from "../../lib/loopback.js";
import {
  describeValue as describe,
  formatPath,
  parseYamlConfig,
  unreadable,
  YamlValidator,
  type ParsedYaml,
} from "../../lib/yaml_config.js";

export const DEFAULTS = {
  entrypoint: "portcullis/authz/decision",
  cache_ttl_s: 60,
  cache_max_entries: 10_000,
  pdp_timeout_ms: 200,
  pdp_max_concurrency: 64,
  pdp_max_queue: 1024,
  client_auth: "require" as ClientAuth,
  max_header_bytes: 16 * 1024,
  max_body_bytes: 1024 * 1024,
  clock_skew_s: 60,
  max_token_bytes: 8 * 1024,
  algorithms: ["ES256", "ES384", "RS256", "PS256", "EdDSA"],
  dpop_proof_algorithms: ["ES256", "ES384", "PS256", "RS256", "EdDSA"],
  dpop_proof_max_age_s: 60,
  dpop_replay_cache_max_entries: 100_000,
  introspection_timeout_ms: 2000,
  introspection_cache_ttl_s: 60,
  api_key_header: "x-api-key",
  psk_header: "x-psk",
  session_cookie: "__Host-portcullis-session",
  max_cookie_bytes: 4096,
  attestation_result_header: "attestation-result",
  attestation_evidence_header: "attestation-evidence",
  attestation_nonce_path: "/.well-known/portcullis/attestation-nonce",
  attestation_nonce_ttl_s: 120,
  attestation_timeout_ms: 2000,
} as const;

/** Asymmetric JWS algorithms only (lib/jws_algorithms.ts). */
export const ALLOWED_ALGORITHMS: readonly string[] = ASYMMETRIC_JWS_ALGORITHMS;

/** The keys of a local JWT verifier (JwtVerifierConfig): `bearer`, `dpop` and `session`. */
const JWT_VERIFIER_KEYS = ["issuer", "audience", "jwks_uri", "jwks_file", "algorithms", "clock_skew_s"];

/** The keys of an RFC 9068 access-token verifier, shared by `bearer` and `dpop` (accessToken()). */
const ACCESS_TOKEN_KEYS = [...JWT_VERIFIER_KEYS, "max_token_bytes"];

const AUTHENTICATOR_KINDS = [
  "bearer",
  "dpop",
  "introspection",
  "api_key",
  "basic",
  "psk",
  "jwt_assertion",
  "session",
] as const;

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly errors: ConfigIssue[]) {
    super(formatIssues(errors));
  }
}

/** `file:line:col: path: message`, one per line. */
export function formatIssues(errors: ConfigIssue[]): string {
  const lines = errors.map((e) => {
    const at = e.line !== undefined ? `${e.file}:${e.line}:${e.col ?? 1}` : e.file;
    return `${at}: ${e.path === "" ? "" : e.path + ": "}${e.message}`;
  });
  return `invalid config (${errors.length} error${errors.length === 1 ? "" : "s"}):\n${lines.join("\n")}`;
}

export interface LoadOptions {
  /** Check that referenced files exist (default true); off for validating a config elsewhere. */
  checkFiles?: boolean;
}

/** Reads, validates and completes a config file. Throws ConfigError listing every problem. */
export function loadConfig(file: string, options: LoadOptions = {}): Config {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (e) {
    throw new ConfigError([unreadable(abs, e)]);
  }
  return parseConfig(text, abs, options);
}

/** Validates config text as if read from `file` (relative paths resolve against its directory). */
export function parseConfig(text: string, file: string, options: LoadOptions = {}): Config {
  const abs = resolve(file);
  const parsed = parseYamlConfig(text, abs);
  if (Array.isArray(parsed)) throw new ConfigError(parsed);
  const v = new Validator(abs, parsed, options.checkFiles ?? true);
  const config = v.config(parsed.value);
  if (v.issues.length > 0 || !config) throw new ConfigError(v.issues);
  return config;
}

type Path = (string | number)[];
type StrOpts = { required?: boolean; pattern?: RegExp; what?: string; oneOf?: readonly string[] };
type Obj = Record<string, unknown>;

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const SEGMENT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const ENTRYPOINT = /^[A-Za-z_][A-Za-z0-9_]*(?:\/[A-Za-z_][A-Za-z0-9_]*)*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
const SPIFFE_PATH_GLOB = /^(?:\/(?:[A-Za-z0-9._-]+|\*|\*\*))+$/;
const CALLER_TYPE = /^[a-z][a-z0-9-]*$/;
const VERIFIER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;
// Plain segments only (no `.`/`..`): the path is compared with the normalised request path.
const NONCE_PATH = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._~-]+)+$/;

class Validator extends YamlValidator {
  private readonly dir: string;

  constructor(
    file: string,
    yaml: ParsedYaml,
    private readonly checkFiles: boolean,
  ) {
    super(file, yaml);
    this.dir = dirname(file);
  }

  private present(o: Obj, key: string, path: Path, required: boolean): boolean {
    if (!(key in o)) {
      if (required) this.err([...path, key], "is required");
      return false;
    }
    return true;
  }

  str(o: Obj, key: string, path: Path, opt: StrOpts = {}): string | undefined {
    if (!this.present(o, key, path, opt.required ?? false)) return undefined;
    return this.strValue(o[key], [...path, key], opt);
  }

  private strValue(v: unknown, p: Path, opt: StrOpts): string | undefined {
    if (typeof v !== "string" || v === "") {
      this.err(p, `must be a non-empty string, got ${describe(v)}`);
      return undefined;
    }
    if (opt.oneOf && !opt.oneOf.includes(v)) {
      this.err(p, `must be one of ${opt.oneOf.join("|")}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    if (opt.pattern && !opt.pattern.test(v)) {
      this.err(p, `must be ${opt.what ?? `a string matching ${opt.pattern}`}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  int(o: Obj, key: string, path: Path, min: number, max: number, def: number): number {
    if (!this.present(o, key, path, false)) return def;
    const v = o[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.err([...path, key], `must be an integer from ${min} to ${max}, got ${describe(v)}`);
      return def;
    }
    return v;
  }

  bool(o: Obj, key: string, path: Path): boolean | undefined {
    if (!this.present(o, key, path, false)) return undefined;
    if (typeof o[key] !== "boolean") {
      this.err([...path, key], `must be true or false, got ${describe(o[key])}`);
      return undefined;
    }
    return o[key] as boolean;
  }

  /** A string or a list of strings, as a list. */
  strList(o: Obj, key: string, path: Path, opt: StrOpts = {}): string[] | undefined {
    if (!this.present(o, key, path, opt.required ?? false)) return undefined;
    const v = o[key];
    if (typeof v === "string") return this.str(o, key, path, opt) === undefined ? undefined : [v];
    if (!Array.isArray(v) || v.length === 0) {
      this.err([...path, key], `must be a string or a non-empty list of strings, got ${describe(v)}`);
      return undefined;
    }
    const out: string[] = [];
    v.forEach((_, i) => {
      const s = this.strValue(v[i], [...path, key, i], opt);
      if (s !== undefined) out.push(s);
    });
    return out.length === v.length ? out : undefined;
  }

  /** A file path, resolved against the config file's directory. */
  path(o: Obj, key: string, path: Path, required: boolean): string | undefined {
    const s = this.str(o, key, path, { required });
    if (s === undefined) return undefined;
    const abs = resolve(this.dir, s);
    if (this.checkFiles && !existsSync(abs)) this.err([...path, key], `file not found: ${abs}`);
    return abs;
  }

  paths(o: Obj, key: string, path: Path, required: boolean): string[] | undefined {
    const list = this.strList(o, key, path, { required });
    if (list === undefined) return undefined;
    const out = list.map((s) => resolve(this.dir, s));
    out.forEach((abs, i) => {
      if (this.checkFiles && !existsSync(abs)) {
        this.err(Array.isArray(o[key]) ? [...path, key, i] : [...path, key], `file not found: ${abs}`);
      }
    });
    return out;
  }

  url(
    o: Obj,
    key: string,
    path: Path,
    opt: { required?: boolean; schemes: string[]; httpOnLoopback?: boolean; bare?: boolean },
  ): string | undefined {
    const s = this.str(o, key, path, { required: opt.required });
    if (s === undefined) return undefined;
    const p = [...path, key];
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      this.err(p, `must be an absolute URL, got ${JSON.stringify(s)}`);
      return undefined;
    }
    const scheme = u.protocol.slice(0, -1);
    const ok =
      opt.schemes.includes(scheme) || (opt.httpOnLoopback && scheme === "http" && isLoopbackHost(u.hostname));
    if (!ok) {
      const loop = opt.httpOnLoopback ? " (http only on loopback)" : "";
      this.err(p, `must be a ${opt.schemes.join(" or ")} URL${loop}, got ${JSON.stringify(s)}`);
      return undefined;
    }
    if (u.username || u.password) {
      this.err(p, "must not contain credentials (use a *_file setting)");
      return undefined;
    }
    if (opt.bare && (u.search || u.hash)) {
      this.err(p, "must not have a query or fragment");
      return undefined;
    }
    return s;
  }

  config(val: unknown): Config | undefined {
    if (val === null || val === undefined) {
      this.err([], "config is empty");
      return undefined;
    }
    const root = this.obj(val, [], ["pdp", "cache", "segments", "decision_logs"]);
    if (!root) return undefined;

    let pdp: Config["pdp"] | undefined;
    if (this.present(root, "pdp", [], true)) {
      const o = this.obj(
        root.pdp,
        ["pdp"],
        ["policies", "entrypoint", "url", "timeout_ms", "max_concurrency", "max_queue", "auth"],
      );
      if (o) {
        const entrypoint =
          this.str(o, "entrypoint", ["pdp"], { pattern: ENTRYPOINT, what: "a slash-separated rule path" }) ??
          DEFAULTS.entrypoint;
        if ("url" in o) pdp = this.remotePdp(o, entrypoint);
        else {
          const policies = this.path(o, "policies", ["pdp"], true);
          if (policies) pdp = { policies, entrypoint };
        }
      }
    }

    let cache: Config["cache"] = { ttl_s: DEFAULTS.cache_ttl_s, max_entries: DEFAULTS.cache_max_entries };
    if (this.present(root, "cache", [], false)) {
      const o = this.obj(
        root.cache,
        ["cache"],
        ["redis", "ttl_s", "max_entries", "key_prefix", "timeout_ms"],
      );
      if (o) {
        const redis =
          typeof o.redis === "object" && o.redis !== null
            ? this.redisNodes(o.redis, ["cache", "redis"])
            : this.url(o, "redis", ["cache"], { schemes: ["redis", "rediss"] });
        const key_prefix = this.str(o, "key_prefix", ["cache"]);
        cache = {
          ...(redis !== undefined ? { redis } : {}),
          ...(key_prefix !== undefined ? { key_prefix } : {}),
          ...("timeout_ms" in o ? { timeout_ms: this.int(o, "timeout_ms", ["cache"], 1, 10_000, 50) } : {}),
          ttl_s: this.int(o, "ttl_s", ["cache"], 0, 86_400, DEFAULTS.cache_ttl_s),
          max_entries: this.int(o, "max_entries", ["cache"], 1, 10_000_000, DEFAULTS.cache_max_entries),
        };
      }
    }

    const segments: Segment[] = [];
    const indices: number[] = [];
    if (this.present(root, "segments", [], true)) {
      const list = root.segments;
      if (!Array.isArray(list) || list.length === 0) {
        this.err(["segments"], `must be a non-empty list, got ${describe(list)}`);
      } else {
        list.forEach((s, i) => {
          const seg = this.segment(s, ["segments", i]);
          if (seg) {
            segments.push(seg);
            indices.push(i);
          }
        });
        this.duplicates(segments, indices);
      }
    }
    const decision_logs =
      root.decision_logs === undefined
        ? undefined
        : parseDecisionLogConfig(root.decision_logs, {
            err: (p, m) => this.err(["decision_logs", ...p], m),
            resolvePath: (f) => resolve(this.dir, f),
          });
    this.attestationStores(segments, indices, cache);
    if (!pdp || this.issues.length > 0) return undefined;
    return { file: this.configFile, pdp, cache, segments, ...(decision_logs ? { decision_logs } : {}) };
  }

  /**
   * `attestation.store`: nonces and verified results in the gateway's Redis (`cache.redis`, the default
   * when it is set) under the segment's own prefix, so replicas share them; `memory` keeps them per process.
   */
  private attestationStores(segments: Segment[], indices: number[], cache: Config["cache"]): void {
    segments.forEach((s, i) => {
      const a = s.attestation;
      if (!a) return;
      if (a.store === "redis" && cache.redis === undefined) {
        this.err(["segments", indices[i]!, "attestation", "store"], "is redis, but cache.redis is not set");
        return;
      }
      if (a.store === undefined && cache.redis !== undefined) a.store = "redis";
      if (a.store === "redis" && cache.redis !== undefined) {
        a.redis = {
          endpoint: cache.redis,
          key_prefix: `${cache.key_prefix ?? "portcullis:"}att:${s.name}:`,
          timeout_ms: cache.timeout_ms ?? 50,
        };
      }
    });
  }

  /** `pdp.url` and its client settings (gateway/server/remote_pdp.ts); `policies` must not be set too. */
  private remotePdp(o: Obj, entrypoint: string): RemotePdpConfig | undefined {
    if ("policies" in o) this.err(["pdp", "policies"], "set exactly one of policies / url");
    const url = this.url(o, "url", ["pdp"], { required: true, schemes: ["https"], httpOnLoopback: true });
    const timeout_ms = this.int(o, "timeout_ms", ["pdp"], 1, 60_000, DEFAULTS.pdp_timeout_ms);
    const max_concurrency = this.int(o, "max_concurrency", ["pdp"], 1, 10_000, DEFAULTS.pdp_max_concurrency);
    const max_queue = this.int(o, "max_queue", ["pdp"], 0, 1_000_000, DEFAULTS.pdp_max_queue);
    const auth: RemotePdpConfig["auth"] = {};
    if (this.present(o, "auth", ["pdp"], false)) {
      const a = this.obj(o.auth, ["pdp", "auth"], ["bearer_token_file", "cert", "key", "ca"]);
      if (a) {
        const token = this.path(a, "bearer_token_file", ["pdp", "auth"], false);
        const cert = this.path(a, "cert", ["pdp", "auth"], false);
        const key = this.path(a, "key", ["pdp", "auth"], false);
        const ca = this.paths(a, "ca", ["pdp", "auth"], false);
        if ("cert" in a !== "key" in a) {
          this.err(["pdp", "auth", "cert" in a ? "key" : "cert"], "is required with the other of cert / key");
        }
        if (token !== undefined) auth.bearer_token_file = token;
        if (cert !== undefined) auth.cert = cert;
        if (key !== undefined) auth.key = key;
        if (ca !== undefined) auth.ca = ca;
      }
    }
    if (url === undefined) return undefined;
    if (url.startsWith("http:") && (auth.cert !== undefined || auth.ca !== undefined)) {
      this.err(["pdp", "url"], "must be https when auth.cert or auth.ca is set");
    }
    return { url, entrypoint, timeout_ms, max_concurrency, max_queue, auth };
  }

  /** `cache.redis` as a mapping: `{sentinels: [host:port…], name}` or `{cluster: [host:port…]}`. */
  private redisNodes(val: unknown, p: Path): Exclude<Config["cache"]["redis"], string> | undefined {
    const o = this.obj(val, p, ["sentinels", "name", "cluster"]);
    if (!o) return undefined;
    const node = { pattern: /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, what: "host:port" };
    if ("cluster" in o) {
      if ("sentinels" in o || "name" in o) this.err(p, "cluster cannot be combined with sentinels/name");
      const cluster = this.strList(o, "cluster", p, { ...node, required: true });
      return cluster ? { cluster } : undefined;
    }
    const sentinels = this.strList(o, "sentinels", p, { ...node, required: true });
    const name = this.str(o, "name", p, { required: true });
    return sentinels && name ? { sentinels, name } : undefined;
  }

  private duplicates(segments: Segment[], indices: number[]): void {
    const names = new Map<string, number>();
    const ports = new Map<number, { host: string; index: number }[]>();
    const wildcard = (h: string) => h === "0.0.0.0" || h === "::" || h === "";
    segments.forEach((s, n) => {
      const index = indices[n]!;
      const prev = names.get(s.name);
      if (prev !== undefined)
        this.err(["segments", index, "name"], `duplicate segment name (also segments[${prev}])`);
      else names.set(s.name, index);
      // Port 0 asks the OS for a free port, so it never collides.
      if (s.port === 0) return;
      const same = ports.get(s.port) ?? [];
      const clash = same.find((o) => o.host === s.host || wildcard(o.host) || wildcard(s.host));
      if (clash) this.err(["segments", index, "listen"], `address already used by segments[${clash.index}]`);
      same.push({ host: s.host, index });
      ports.set(s.port, same);
    });
  }

  private listen(o: Obj, path: Path): { listen: string; host: string; port: number } | undefined {
    const s = this.str(o, "listen", path, { required: true });
    if (s === undefined) return undefined;
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
    const host = m ? (m[1] ?? m[2]!) : "";
    const port = m ? Number(m[3]) : NaN;
    const hostOk = m && (m[1] !== undefined ? isIP(host) === 6 : isIP(host) === 4 || HOSTNAME.test(host));
    if (!m || !hostOk || port > 65_535) {
      this.err(
        [...path, "listen"],
        `must be host:port (IPv6 as [addr]:port, port 0-65535), got ${JSON.stringify(s)}`,
      );
      return undefined;
    }
    return { listen: s, host, port };
  }

  private segment(val: unknown, path: Path): Segment | undefined {
    const keys = [
      "name",
      "listen",
      "upstream",
      "tls",
      "authentication",
      "authenticators",
      "caller_types",
      "limits",
      "local_trust_domain",
      "identity_translation",
      "attestation",
    ];
    const o = this.obj(val, path, keys);
    if (!o) return undefined;
    const name = this.str(o, "name", path, {
      required: true,
      pattern: SEGMENT_NAME,
      what: "lower-case letters, digits, - and _ (starting with a letter or digit)",
    });
    const listen = this.listen(o, path);
    const upstream = this.url(o, "upstream", path, {
      required: true,
      schemes: ["http", "https"],
      bare: true,
    });
    const tls = this.present(o, "tls", path, true) ? this.tls(o.tls, [...path, "tls"]) : undefined;
    const authenticators = this.present(o, "authenticators", path, false)
      ? this.authenticators(o.authenticators, [...path, "authenticators"])
      : {};
    let authentication: AuthExpr | undefined;
    if (this.present(o, "authentication", path, true) && tls && authenticators) {
      const methods = new Set(Object.keys(authenticators));
      if (tls.client_auth !== "none") methods.add("mtls");
      authentication = this.authExpr(o.authentication, [...path, "authentication"], methods, 0);
    }
    const caller_types = this.callerTypes(o, path);
    const limits = this.limits(o, path);
    const local_trust_domain = this.str(o, "local_trust_domain", path, {
      pattern: TRUST_DOMAIN,
      what: "a trust domain name (a-z 0-9 . - _)",
    });
    const identity_translation = this.identityTranslation(o, path);
    const attestation = "attestation" in o ? this.attestation(o.attestation, [...path, "attestation"]) : null;
    if (!name || !listen || !upstream || !tls || !authenticators || !authentication || !caller_types) {
      return undefined;
    }
    if (!identity_translation || attestation === undefined) return undefined;
    return {
      name,
      ...listen,
      upstream,
      tls,
      authentication,
      authenticators,
      caller_types,
      limits,
      ...(local_trust_domain !== undefined ? { local_trust_domain } : {}),
      ...(identity_translation.length > 0 ? { identity_translation } : {}),
      ...(attestation ? { attestation } : {}),
    };
  }

  /**
   * `attestation:` — the attestation module's own config keys (its provider does the rest of the checking
   * at start-up), plus the headers and the nonce endpoint path of this segment.
   */
  private attestation(val: unknown, path: Path): SegmentAttestation | undefined {
    const o = this.obj(val, path, [
      "verifiers",
      "background_check",
      "require_nonce",
      "nonce_ttl_s",
      "nonce_path",
      "result_header",
      "evidence_header",
      "store",
    ]);
    if (!o) return undefined;
    const before = this.issues.length;
    const verifiers: TrustedVerifierConfig[] = [];
    // Names as written, valid entries or not, so one mistake is not reported again as another.
    const names = new Set<string>();
    if (this.present(o, "verifiers", path, true)) {
      const list = o.verifiers;
      if (!Array.isArray(list) || list.length === 0) {
        this.err([...path, "verifiers"], `must be a non-empty list, got ${describe(list)}`);
      } else {
        list.forEach((it, i) => {
          const v = this.trustedVerifier(it, [...path, "verifiers", i]);
          const name = (it as Obj | null)?.name;
          if (typeof name === "string") {
            if (names.has(name)) {
              this.err([...path, "verifiers", i, "name"], `duplicate verifier name "${name}"`);
            }
            names.add(name);
          }
          if (v) verifiers.push(v);
        });
      }
    }
    let background_check: SegmentAttestation["background_check"];
    if ("background_check" in o) {
      const p = [...path, "background_check"];
      const b = this.obj(o.background_check, p, [
        "verifier",
        "url",
        "media_type",
        "timeout_ms",
        "max_concurrent",
        "nonce_size",
        "ca_file",
      ]);
      if (b) {
        const verifier = this.str(b, "verifier", p, { required: true });
        if (verifier !== undefined && Array.isArray(o.verifiers) && !names.has(verifier)) {
          this.err(
            [...p, "verifier"],
            `must name an entry of attestation.verifiers, got ${JSON.stringify(verifier)}`,
          );
        }
        const url = this.url(b, "url", p, {
          required: true,
          schemes: ["https"],
          httpOnLoopback: true,
          bare: true,
        });
        const media_type = this.str(b, "media_type", p, {
          pattern: MEDIA_TYPE,
          what: "a media type like application/vnd.example+jwt",
        });
        const timeout_ms = this.int(b, "timeout_ms", p, 1, 60_000, DEFAULTS.attestation_timeout_ms);
        const max_concurrent =
          "max_concurrent" in b ? this.int(b, "max_concurrent", p, 1, 1024, 32) : undefined;
        const nonce_size = "nonce_size" in b ? this.int(b, "nonce_size", p, 8, 64, 32) : undefined;
        const ca_file = this.path(b, "ca_file", p, false);
        if (verifier !== undefined && url !== undefined) {
          background_check = {
            verifier,
            url,
            timeout_ms,
            ...(media_type !== undefined ? { media_type } : {}),
            ...(max_concurrent !== undefined ? { max_concurrent } : {}),
            ...(nonce_size !== undefined ? { nonce_size } : {}),
            ...(ca_file !== undefined ? { ca_file } : {}),
          };
        }
      }
    }
    const require_nonce = this.bool(o, "require_nonce", path);
    const nonce_ttl_s = this.int(o, "nonce_ttl_s", path, 1, 3600, DEFAULTS.attestation_nonce_ttl_s);
    const nonce_path =
      this.str(o, "nonce_path", path, {
        pattern: NONCE_PATH,
        what: "an absolute path of plain segments, like /.well-known/portcullis/attestation-nonce",
      }) ?? DEFAULTS.attestation_nonce_path;
    if (nonce_path === "/.well-known/oauth-protected-resource") {
      this.err([...path, "nonce_path"], "is the protected resource metadata path");
    }
    const header = (key: string, def: string): string =>
      (this.str(o, key, path, { pattern: HEADER_NAME, what: "an HTTP header name" }) ?? def).toLowerCase();
    const result_header = header("result_header", DEFAULTS.attestation_result_header);
    const evidence_header = header("evidence_header", DEFAULTS.attestation_evidence_header);
    if (result_header === evidence_header) {
      this.err([...path, "evidence_header"], "must differ from result_header");
    }
    // Resolved against `cache.redis` once the whole file is read (attestationStores).
    const store = this.str(o, "store", path, { oneOf: ["memory", "redis"] }) as
      SegmentAttestation["store"] | undefined;
    if (this.issues.length > before) return undefined;
    return {
      ...(store !== undefined ? { store } : {}),
      verifiers,
      ...(background_check ? { background_check } : {}),
      ...(require_nonce !== undefined ? { require_nonce } : {}),
      nonce_ttl_s,
      nonce_path,
      result_header,
      evidence_header,
    };
  }

  /** One `attestation.verifiers` entry: whose signed results count, and how fresh they must be. */
  private trustedVerifier(val: unknown, p: Path): TrustedVerifierConfig | undefined {
    const v = this.obj(val, p, [
      "name",
      "jwks_file",
      "jwks_url",
      "algorithms",
      "profiles",
      "developers",
      "max_age_s",
      "clock_skew_s",
      "timeout_ms",
    ]);
    if (!v) return undefined;
    const before = this.issues.length;
    const name = this.str(v, "name", p, {
      required: true,
      pattern: VERIFIER_NAME,
      what: "letters, digits, . _ - (up to 64)",
    });
    if ("jwks_file" in v === "jwks_url" in v) this.err(p, "needs exactly one of jwks_file or jwks_url");
    const jwks_file = this.path(v, "jwks_file", p, false);
    const jwks_url = this.url(v, "jwks_url", p, { schemes: ["https"], httpOnLoopback: true });
    // HMAC and `none` are not on the list: a verifier's public key must not be able to forge its results.
    const algorithms = this.strList(v, "algorithms", p, { oneOf: EAR_ALGORITHMS });
    const profiles = this.strList(v, "profiles", p);
    profiles?.forEach((pr, i) => {
      if (resolveProfile(pr) === undefined) {
        const at = Array.isArray(v.profiles) ? [...p, "profiles", i] : [...p, "profiles"];
        this.err(at, `unknown EAR profile ${JSON.stringify(pr)}; known: draft, veraison or their URIs`);
      }
    });
    const developers = this.strList(v, "developers", p);
    const max_age_s = this.int(v, "max_age_s", p, 1, 86_400, EAR_DEFAULTS.max_age_s);
    const clock_skew_s = this.int(v, "clock_skew_s", p, 0, 300, EAR_DEFAULTS.clock_skew_s);
    const timeout_ms = "timeout_ms" in v ? this.int(v, "timeout_ms", p, 1, 60_000, 3000) : undefined;
    if (name === undefined || this.issues.length > before) return undefined;
    return {
      name,
      ...(jwks_file !== undefined ? { jwks_file } : {}),
      ...(jwks_url !== undefined ? { jwks_url } : {}),
      ...(algorithms !== undefined ? { algorithms } : {}),
      ...(profiles !== undefined ? { profiles } : {}),
      ...(developers !== undefined ? { developers } : {}),
      max_age_s,
      clock_skew_s,
      ...(timeout_ms !== undefined ? { timeout_ms } : {}),
    };
  }

  private tls(val: unknown, path: Path): SegmentTls | undefined {
    const o = this.obj(val, path, [
      "cert",
      "key",
      "client_ca",
      "client_auth",
      "trust_domains",
      "trust_bundles",
    ]);
    if (!o) return undefined;
    const cert = this.path(o, "cert", path, true);
    const key = this.path(o, "key", path, true);
    const client_auth = (this.str(o, "client_auth", path, { oneOf: ["require", "optional", "none"] }) ??
      DEFAULTS.client_auth) as ClientAuth;
    // Without a bundle no client certificate can be verified, so mTLS would be a promise we cannot keep.
    const needCa = client_auth !== "none" && !("trust_bundles" in o);
    const client_ca = this.paths(o, "client_ca", path, needCa) ?? [];
    const trust_domains =
      this.strList(o, "trust_domains", path, {
        pattern: TRUST_DOMAIN,
        what: "a trust domain name (a-z 0-9 . - _)",
      }) ?? [];
    const trust_bundles = "trust_bundles" in o ? this.trustBundles(o.trust_bundles, path, trust_domains) : {};
    if (!cert || !key || !trust_bundles) return undefined;
    const bundles = Object.keys(trust_bundles).length > 0 ? { trust_bundles } : {};
    return { cert, key, client_ca, client_auth, trust_domains, ...bundles };
  }

  /** `tls.trust_bundles`: trust domain → CA file(s); SPIFFE makes a bundle authoritative for its domain only. */
  private trustBundles(
    val: unknown,
    tlsPath: Path,
    allowList: readonly string[],
  ): Record<string, string[]> | undefined {
    const path = [...tlsPath, "trust_bundles"];
    if (typeof val !== "object" || val === null || Array.isArray(val) || Object.keys(val).length === 0) {
      this.err(path, `must be a non-empty mapping of trust domain to CA file(s), got ${describe(val)}`);
      return undefined;
    }
    const o = val as Obj;
    // No prototype: a trust domain named like an Object.prototype member must not alias one.
    const out = Object.create(null) as Record<string, string[]>;
    let ok = true;
    for (const td of Object.keys(o)) {
      if (!TRUST_DOMAIN.test(td) || td === "__proto__") {
        this.err([...path, td], "must be keyed by a trust domain name (a-z 0-9 . - _)");
        ok = false;
        continue;
      }
      if (allowList.length > 0 && !allowList.includes(td)) {
        this.err(
          [...path, td],
          "trust domain is not listed in tls.trust_domains, so its bundle is never used",
        );
        ok = false;
      }
      const files = this.paths(o, td, path, true);
      if (files === undefined) ok = false;
      else out[td] = files;
    }
    return ok ? out : undefined;
  }

  private authExpr(val: unknown, path: Path, methods: Set<string>, depth: number): AuthExpr | undefined {
    if (depth > 8) {
      this.err(path, "nested more than 8 levels deep");
      return undefined;
    }
    if (typeof val === "string") {
      if (methods.has(val)) return val;
      let why: string;
      if (val === "mtls") why = "mtls cannot succeed with tls.client_auth none";
      else if ((AUTHENTICATOR_KINDS as readonly string[]).includes(val)) {
        why = `authenticator "${val}" is not configured under authenticators`;
      } else why = `unknown authentication method "${val}"`;
      this.err(path, `${why}; available: ${[...methods].join(", ") || "(none)"}`);
      return undefined;
    }
    const o = typeof val === "object" && val !== null && !Array.isArray(val) ? (val as Obj) : undefined;
    const keys = o ? Object.keys(o) : [];
    if (!o || keys.length !== 1 || (keys[0] !== "any" && keys[0] !== "all")) {
      this.err(
        path,
        `must be a method name or a mapping with exactly one key, any or all; got ${describe(val)}`,
      );
      return undefined;
    }
    const op = keys[0] as "any" | "all";
    const list = o[op];
    if (!Array.isArray(list) || list.length === 0) {
      this.err([...path, op], `must be a non-empty list, got ${describe(list)}`);
      return undefined;
    }
    const items = list.map((item, i) => this.authExpr(item, [...path, op, i], methods, depth + 1));
    if (items.some((x) => x === undefined)) return undefined;
    return (op === "any" ? { any: items } : { all: items }) as AuthExpr;
  }

  private authenticators(val: unknown, path: Path): Authenticators | undefined {
    const o = this.obj(val, path, AUTHENTICATOR_KINDS);
    if (!o) return undefined;
    const out: Authenticators = {};
    const before = this.issues.length;
    for (const kind of AUTHENTICATOR_KINDS) {
      if (!(kind in o)) continue;
      const p = [...path, kind];
      switch (kind) {
        case "bearer": {
          const b = this.obj(o.bearer, p, ACCESS_TOKEN_KEYS);
          if (!b) break;
          const token = this.accessToken(b, p);
          if (token) out.bearer = token;
          break;
        }
        case "dpop": {
          const b = this.obj(o.dpop, p, [
            ...ACCESS_TOKEN_KEYS,
            "proof_algorithms",
            "proof_max_age_s",
            "external_origins",
            "replay_cache_max_entries",
          ]);
          if (!b) break;
          const token = this.accessToken(b, p);
          const proof_algorithms = this.strList(b, "proof_algorithms", p, { oneOf: ALLOWED_ALGORITHMS }) ?? [
            ...DEFAULTS.dpop_proof_algorithms,
          ];
          const proof_max_age_s = this.int(b, "proof_max_age_s", p, 1, 300, DEFAULTS.dpop_proof_max_age_s);
          // Absent: the listen address (gateway/server/authenticators.ts); an empty list is an error.
          const external = this.origins(b, "external_origins", p);
          const replay_cache_max_entries = this.int(
            b,
            "replay_cache_max_entries",
            p,
            1000,
            10_000_000,
            DEFAULTS.dpop_replay_cache_max_entries,
          );
          if (token) {
            out.dpop = {
              ...token,
              proof_algorithms,
              proof_max_age_s,
              ...(external.length > 0 ? { external_origins: external } : {}),
              replay_cache_max_entries,
            };
          }
          break;
        }
        case "introspection": {
          const b = this.obj(o.introspection, p, [
            "endpoint",
            "client_id",
            "client_secret_file",
            "timeout_ms",
            "cache_ttl_s",
            "issuer",
          ]);
          if (!b) break;
          const endpoint = this.url(b, "endpoint", p, {
            required: true,
            schemes: ["https"],
            httpOnLoopback: true,
          });
          const client_id = this.str(b, "client_id", p, { required: true });
          const client_secret_file = this.path(b, "client_secret_file", p, true);
          const timeout_ms = this.int(b, "timeout_ms", p, 1, 60_000, DEFAULTS.introspection_timeout_ms);
          const cache_ttl_s = this.int(b, "cache_ttl_s", p, 0, 3600, DEFAULTS.introspection_cache_ttl_s);
          const issuer = this.url(b, "issuer", p, { schemes: ["https"], httpOnLoopback: true });
          if (endpoint && client_id && client_secret_file) {
            out.introspection = { endpoint, client_id, client_secret_file, timeout_ms, cache_ttl_s };
            if (issuer !== undefined) out.introspection.issuer = issuer;
          }
          break;
        }
        case "api_key": {
          const b = this.obj(o.api_key, p, ["header", "keys_file"]);
          if (!b) break;
          const header = this.header(b, p, DEFAULTS.api_key_header);
          const keys_file = this.path(b, "keys_file", p, true);
          if (keys_file) out.api_key = { header, keys_file };
          break;
        }
        case "basic": {
          const b = this.obj(o.basic, p, ["users_file", "realm"]);
          if (!b) break;
          const users_file = this.path(b, "users_file", p, true);
          const realm = this.str(b, "realm", p);
          if (users_file) out.basic = { users_file, ...(realm !== undefined ? { realm } : {}) };
          break;
        }
        case "psk": {
          const b = this.obj(o.psk, p, ["header", "secrets_file"]);
          if (!b) break;
          const header = this.header(b, p, DEFAULTS.psk_header);
          const secrets_file = this.path(b, "secrets_file", p, true);
          if (secrets_file) out.psk = { header, secrets_file };
          break;
        }
        case "jwt_assertion": {
          const b = this.obj(o.jwt_assertion, p, ["issuers", "audience", "algorithms", "clock_skew_s"]);
          if (!b) break;
          const issuers: AssertionIssuer[] = [];
          if (this.present(b, "issuers", p, true)) {
            if (!Array.isArray(b.issuers) || b.issuers.length === 0) {
              this.err([...p, "issuers"], `must be a non-empty list, got ${describe(b.issuers)}`);
            } else {
              b.issuers.forEach((it, i) => {
                const ip = [...p, "issuers", i];
                const io = this.obj(it, ip, ["issuer", "jwks_uri", "jwks_file"]);
                if (!io) return;
                const issuer = this.str(io, "issuer", ip, { required: true });
                const keys = this.keySource(io, ip);
                if (issuer) issuers.push({ issuer, ...keys });
              });
            }
          }
          const audience = this.strList(b, "audience", p, { required: true });
          const algorithms = this.algorithms(b, p);
          const clock_skew_s = this.int(b, "clock_skew_s", p, 0, 300, DEFAULTS.clock_skew_s);
          if (audience) out.jwt_assertion = { issuers, audience, algorithms, clock_skew_s };
          break;
        }
        case "session": {
          const b = this.obj(o.session, p, [
            "cookie",
            ...JWT_VERIFIER_KEYS,
            "max_cookie_bytes",
            "allowed_origins",
          ]);
          if (!b) break;
          const cookie =
            this.str(b, "cookie", p, { pattern: HEADER_NAME, what: "a cookie name (an RFC 6265 token)" }) ??
            DEFAULTS.session_cookie;
          const issuer = this.url(b, "issuer", p, {
            required: true,
            schemes: ["https"],
            httpOnLoopback: true,
          });
          const audience = this.str(b, "audience", p, { required: true });
          const keys = this.keySource(b, p);
          if ("jwks_uri" in b && "jwks_file" in b) this.err(p, "jwks_uri and jwks_file exclude each other");
          const algorithms = this.algorithms(b, p);
          const clock_skew_s = this.int(b, "clock_skew_s", p, 0, 300, DEFAULTS.clock_skew_s);
          const max_cookie_bytes = this.int(b, "max_cookie_bytes", p, 256, 8192, DEFAULTS.max_cookie_bytes);
          const allowed_origins = this.origins(b, "allowed_origins", p);
          if (issuer && audience) {
            out.session = {
              cookie,
              issuer,
              audience,
              ...keys,
              algorithms,
              clock_skew_s,
              max_cookie_bytes,
              allowed_origins,
            };
          }
          break;
        }
      }
    }
    return this.issues.length === before ? out : undefined;
  }

  /** Browser origins (`https://host[:port]`, nothing else), as a page's `Origin` header spells them. */
  private origins(o: Obj, key: string, path: Path): string[] {
    const list = this.strList(o, key, path) ?? [];
    return list.filter((s, i) => {
      let u: URL | undefined;
      try {
        u = new URL(s);
      } catch {
        u = undefined;
      }
      const okScheme =
        u && (u.protocol === "https:" || (u.protocol === "http:" && isLoopbackHost(u.hostname)));
      if (!u || !okScheme || u.origin !== s) {
        const p = Array.isArray(o[key]) ? [...path, key, i] : [...path, key];
        this.err(
          p,
          `must be an origin like https://app.example (no path or slash), got ${JSON.stringify(s)}`,
        );
        return false;
      }
      return true;
    });
  }

  private keySource(o: Obj, path: Path): { jwks_uri?: string; jwks_file?: string } {
    const jwks_uri = this.url(o, "jwks_uri", path, { schemes: ["https"], httpOnLoopback: true });
    const jwks_file = this.path(o, "jwks_file", path, false);
    if (!("jwks_uri" in o) && !("jwks_file" in o)) this.err(path, "needs jwks_uri or jwks_file");
    return {
      ...(jwks_uri !== undefined ? { jwks_uri } : {}),
      ...(jwks_file !== undefined ? { jwks_file } : {}),
    };
  }

  /**
   * The RFC 9068 access-token settings `bearer` and `dpop` share; undefined when the issuer or audience
   * is missing (reported). Every key is read, so all of its errors are reported in one pass.
   */
  private accessToken(b: Obj, p: Path): BearerConfig | undefined {
    const keys = this.keySource(b, p);
    const issuer = this.url(b, "issuer", p, { required: true, schemes: ["https"], httpOnLoopback: true });
    const audience = this.strList(b, "audience", p, { required: true });
    const algorithms = this.algorithms(b, p);
    const clock_skew_s = this.int(b, "clock_skew_s", p, 0, 300, DEFAULTS.clock_skew_s);
    const max_token_bytes = this.int(b, "max_token_bytes", p, 256, 65_536, DEFAULTS.max_token_bytes);
    if (!issuer || !audience) return undefined;
    return { issuer, audience, ...keys, algorithms, clock_skew_s, max_token_bytes };
  }

  private algorithms(o: Obj, path: Path): string[] {
    return this.strList(o, "algorithms", path, { oneOf: ALLOWED_ALGORITHMS }) ?? [...DEFAULTS.algorithms];
  }

  private header(o: Obj, path: Path, def: string): string {
    const h = this.str(o, "header", path, { pattern: HEADER_NAME, what: "an HTTP header name" });
    return (h ?? def).toLowerCase();
  }

  private callerTypes(o: Obj, path: Path): CallerTypeRule[] | undefined {
    if (!this.present(o, "caller_types", path, false)) return [];
    const p = [...path, "caller_types"];
    if (!Array.isArray(o.caller_types)) {
      this.err(p, `must be a list, got ${describe(o.caller_types)}`);
      return undefined;
    }
    const before = this.issues.length;
    const rules: CallerTypeRule[] = [];
    o.caller_types.forEach((r, i) => {
      const rp = [...p, i];
      const conditions = [
        "spiffe_path",
        "trust_domain",
        "client_id",
        "claims",
        "browser_session",
        "delegated",
      ];
      const ro = this.obj(r, rp, ["type", ...conditions]);
      if (!ro) return;
      const type = this.str(ro, "type", rp, {
        required: true,
        pattern: CALLER_TYPE,
        what: "lower-case letters, digits and - (e.g. ai-agent)",
      });
      const spiffe_path = this.str(ro, "spiffe_path", rp, {
        pattern: SPIFFE_PATH_GLOB,
        what: "a SPIFFE path glob like /agent/* or /team/**",
      });
      const trust_domain = this.str(ro, "trust_domain", rp, {
        pattern: TRUST_DOMAIN,
        what: "a trust domain name (a-z 0-9 . - _)",
      });
      const client_id = this.str(ro, "client_id", rp);
      const browser_session = this.bool(ro, "browser_session", rp);
      const delegated = this.bool(ro, "delegated", rp);
      let claims: CallerTypeRule["claims"];
      if ("claims" in ro) {
        const co = this.obj(ro.claims, [...rp, "claims"], Object.keys((ro.claims as Obj | null) ?? {}));
        if (co) {
          for (const [k, v] of Object.entries(co)) {
            if (!["string", "number", "boolean"].includes(typeof v)) {
              this.err([...rp, "claims", k], `must be a string, number or boolean, got ${describe(v)}`);
            }
          }
          claims = co as CallerTypeRule["claims"];
        }
      }
      // A rule without conditions would match every caller and shadow all rules after it.
      if (!conditions.some((c) => c in ro)) this.err(rp, `needs at least one of ${conditions.join(", ")}`);
      if (type) {
        rules.push({
          type,
          ...(spiffe_path !== undefined ? { spiffe_path } : {}),
          ...(trust_domain !== undefined ? { trust_domain } : {}),
          ...(client_id !== undefined ? { client_id } : {}),
          ...(claims !== undefined ? { claims } : {}),
          ...(browser_session !== undefined ? { browser_session } : {}),
          ...(delegated !== undefined ? { delegated } : {}),
        });
      }
    });
    return this.issues.length === before ? rules : undefined;
  }

  /** `identity_translation`: pattern rules and map files, in order. */
  private identityTranslation(o: Obj, path: Path): TranslationRule[] | undefined {
    if (!this.present(o, "identity_translation", path, false)) return [];
    const p = [...path, "identity_translation"];
    const list = o.identity_translation;
    if (!Array.isArray(list)) {
      this.err(p, `must be a list, got ${describe(list)}`);
      return undefined;
    }
    const before = this.issues.length;
    const rules: TranslationRule[] = [];
    list.forEach((r, i) => {
      const rp = [...p, i];
      const ro = this.obj(r, rp, ["pattern", "local_id", "map_file", "trust_domain"]);
      if (!ro) return;
      const trust_domain = this.str(ro, "trust_domain", rp, {
        pattern: TRUST_DOMAIN,
        what: "a trust domain name (a-z 0-9 . - _)",
      });
      if ("pattern" in ro === "map_file" in ro) {
        this.err(rp, "needs exactly one of pattern (with local_id) or map_file");
        return;
      }
      if ("map_file" in ro) {
        if ("local_id" in ro) {
          this.err([...rp, "local_id"], "only with pattern; a map file names each local ID");
        }
        const map_file = this.path(ro, "map_file", rp, true);
        const ids = map_file !== undefined ? this.idMap(map_file, trust_domain) : undefined;
        if (map_file !== undefined && ids) {
          rules.push({ map_file, ...(trust_domain !== undefined ? { trust_domain } : {}), ids });
        }
        return;
      }
      const pattern = this.str(ro, "pattern", rp, { required: true });
      const local_id = this.str(ro, "local_id", rp, { required: true });
      if (pattern === undefined || local_id === undefined) return;
      let td: string;
      try {
        td = compilePattern(pattern, local_id).trustDomain;
      } catch (e) {
        const msg = (e as Error).message;
        this.err([...rp, msg.startsWith("local_id") ? "local_id" : "pattern"], msg);
        return;
      }
      if (trust_domain !== undefined && trust_domain !== td) {
        this.err([...rp, "trust_domain"], `must be the pattern's trust domain ${td}, got ${trust_domain}`);
        return;
      }
      rules.push({ pattern, local_id, trust_domain: td });
    });
    return this.issues.length === before ? rules : undefined;
  }

  /**
   * A map file: a YAML mapping of workload ID → local ID. Its errors name the map file, the ID and the
   * line. Read now so a typo fails start-up, not a request; a missing file is already reported by path().
   */
  private idMap(file: string, trustDomain: string | undefined): Record<string, string> | undefined {
    // No prototype: an ID can never alias an Object.prototype member in a lookup.
    const ids = Object.create(null) as Record<string, string>;
    if (!existsSync(file)) return this.checkFiles ? undefined : ids;
    const lc = new LineCounter();
    const issue = (path: Path, message: string, pos?: number) => {
      const i: ConfigIssue = { file, path: formatPath(path), message };
      if (pos !== undefined) Object.assign(i, lc.linePos(pos));
      this.issues.push(i);
    };
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      issue([], `cannot read: ${(e as Error).message}`);
      return undefined;
    }
    const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
    if (doc.errors.length > 0) {
      for (const e of doc.errors) issue([], e.message.split("\n")[0]!, e.pos[0]);
      return undefined;
    }
    if (!isMap(doc.contents)) {
      issue(
        [],
        "must be a mapping of workload ID (spiffe://… or wimse://…) to local ID",
        doc.contents?.range?.[0],
      );
      return undefined;
    }
    let ok = true;
    for (const pair of doc.contents.items) {
      const k = isScalar(pair.key) ? pair.key.value : undefined;
      const v = isScalar(pair.value) ? pair.value.value : undefined;
      const pos = isNode(pair.key) ? pair.key.range?.[0] : undefined;
      const key = typeof k === "string" ? k : String(k);
      const id = typeof k === "string" ? parseWorkloadId(k) : undefined;
      if (!id || id.segments.length === 0) {
        issue([key], "must be a workload ID with a path (spiffe://<trust-domain>/<path> or wimse://…)", pos);
        ok = false;
      } else if (trustDomain !== undefined && id.trustDomain !== trustDomain) {
        issue([key], `is not in trust domain ${trustDomain}`, pos);
        ok = false;
      }
      // eslint-disable-next-line no-control-regex
      if (typeof v !== "string" || v === "" || /[\x00-\x1f\x7f]/.test(v)) {
        issue([key], `must map to a non-empty string without control characters, got ${describe(v)}`, pos);
        ok = false;
      } else if (typeof k === "string") {
        ids[k] = v;
      }
    }
    return ok ? ids : undefined;
  }

  private limits(o: Obj, path: Path): Limits {
    const def = { max_header_bytes: DEFAULTS.max_header_bytes, max_body_bytes: DEFAULTS.max_body_bytes };
    if (!this.present(o, "limits", path, false)) return def;
    const p = [...path, "limits"];
    const l = this.obj(o.limits, p, ["max_header_bytes", "max_body_bytes"]);
    if (!l) return def;
    return {
      max_header_bytes: this.int(l, "max_header_bytes", p, 1024, 1024 * 1024, def.max_header_bytes),
      max_body_bytes: this.int(l, "max_body_bytes", p, 0, 1024 * 1024 * 1024, def.max_body_bytes),
    };
  }
}
