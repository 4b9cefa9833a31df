// `decision_logs:` as written in the PDP's and the gateway's YAML, validated by one function both
// loaders call with their own error reporter (so errors keep each loader's `file:line:col: path`).
// Unknown keys are errors, like everywhere else in the configs.
import { compileMasks } from "./mask.js";
import type { BatchConfig, DecisionLogConfig, Json, MaskRule, ServiceSinkConfig } from "./types.js";
import { isLoopbackHost } from "../../lib/loopback.js";
import { describeValue as describe, nearestKey } from "../../lib/yaml_config.js";

export const DECISION_LOG_DEFAULTS = {
  max_buffer_events: 10_000,
  max_buffer_bytes: 64 * 1024 * 1024,
  max_events: 100,
  max_delay_ms: 1_000,
  max_bytes: 1024 * 1024,
  file_max_bytes: 100 * 1024 * 1024,
  file_max_files: 5,
  timeout_ms: 10_000,
  min_retry_delay_ms: 500,
  max_retry_delay_ms: 60_000,
} as const;

export type ConfigPath = (string | number)[];

export interface ConfigReporter {
  /** Reports a problem at `path` below `decision_logs`. */
  err(path: ConfigPath, message: string): void;
  /** A file name as written → an absolute path (relative to the config file). */
  resolvePath(file: string): string;
}

type Obj = Record<string, unknown>;

const KEYS = [
  "console",
  "file",
  "service",
  "mask",
  "labels",
  "max_buffer_events",
  "max_buffer_bytes",
  "batch",
];
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,62}$/;
/** Headers the sink sets itself. */
const RESERVED_HEADERS = new Set(["content-type", "content-length", "content-encoding", "host"]);

class Checker {
  constructor(private readonly r: ConfigReporter) {}

  err(path: ConfigPath, message: string): void {
    this.r.err(path, message);
  }

  resolvePath(file: string): string {
    return this.r.resolvePath(file);
  }

  obj(v: unknown, path: ConfigPath, keys: readonly string[] | undefined): Obj | undefined {
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      this.err(path, `must be a mapping, got ${describe(v)}`);
      return undefined;
    }
    const o = v as Obj;
    if (keys) {
      for (const k of Object.keys(o)) {
        if (keys.includes(k)) continue;
        const hint = nearestKey(k, keys);
        this.err(
          [...path, k],
          `unknown key${hint ? ` (did you mean "${hint}"?)` : ""}; allowed: ${keys.join(", ")}`,
        );
      }
    }
    return o;
  }

  int(o: Obj, key: string, path: ConfigPath, min: number, max: number, def: number): number {
    if (o[key] === undefined) return def;
    const v = o[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      this.err([...path, key], `must be an integer from ${min} to ${max}, got ${describe(v)}`);
      return def;
    }
    return v;
  }

  bool(o: Obj, key: string, path: ConfigPath, def: boolean): boolean {
    if (o[key] === undefined) return def;
    if (typeof o[key] !== "boolean") {
      this.err([...path, key], `must be true or false, got ${describe(o[key])}`);
      return def;
    }
    return o[key] as boolean;
  }

  str(o: Obj, key: string, path: ConfigPath, required: boolean): string | undefined {
    const v = o[key];
    if (v === undefined) {
      if (required) this.err([...path, key], "is required");
      return undefined;
    }
    if (typeof v !== "string" || v === "") {
      this.err([...path, key], `must be a non-empty string, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  stringMap(v: unknown, path: ConfigPath, name: RegExp, what: string): Record<string, string> {
    const out: Record<string, string> = {};
    const o = this.obj(v, path, undefined);
    if (!o) return out;
    for (const [k, x] of Object.entries(o)) {
      if (!name.test(k)) this.err([...path, k], `must be ${what}`);
      else if (typeof x !== "string" || /[\0\r\n]/.test(x)) {
        this.err([...path, k], `must be a string without line breaks, got ${describe(x)}`);
      } else out[k] = x;
    }
    return out;
  }
}

/**
 * Validates `decision_logs` (the value under that key). Undefined when it has errors (reported) or
 * when no sink is on: `console: false` and nothing else is the explicit way to write "off".
 */
export function parseDecisionLogConfig(
  value: unknown,
  reporter: ConfigReporter,
): DecisionLogConfig | undefined {
  let failed = false;
  const err = (path: ConfigPath, message: string) => {
    failed = true;
    reporter.err(path, message);
  };
  const checker = new Checker({ err, resolvePath: (f) => reporter.resolvePath(f) });
  const o = checker.obj(value, [], KEYS);
  if (!o) return undefined;

  const console = checker.bool(o, "console", [], false);

  let file: DecisionLogConfig["file"];
  if (o.file !== undefined) {
    if (typeof o.file === "string") {
      file = {
        path: checker.resolvePath(o.file),
        max_bytes: DECISION_LOG_DEFAULTS.file_max_bytes,
        max_files: DECISION_LOG_DEFAULTS.file_max_files,
      };
    } else {
      const f = checker.obj(o.file, ["file"], ["path", "max_bytes", "max_files"]);
      if (f) {
        const path = checker.str(f, "path", ["file"], true);
        const max_bytes = checker.int(
          f,
          "max_bytes",
          ["file"],
          0,
          2 ** 40,
          DECISION_LOG_DEFAULTS.file_max_bytes,
        );
        const max_files = checker.int(
          f,
          "max_files",
          ["file"],
          0,
          1000,
          DECISION_LOG_DEFAULTS.file_max_files,
        );
        if (path !== undefined) file = { path: checker.resolvePath(path), max_bytes, max_files };
      }
    }
  }

  let service: ServiceSinkConfig | undefined;
  if (o.service !== undefined) service = parseService(checker, o.service);

  const mask: MaskRule[] = [];
  if (o.mask !== undefined) {
    if (!Array.isArray(o.mask)) err(["mask"], `must be a list of JSON pointers, got ${describe(o.mask)}`);
    else o.mask.forEach((m, i) => parseMask(checker, m, ["mask", i], mask));
  }

  const labels =
    o.labels === undefined ? {} : checker.stringMap(o.labels, ["labels"], LABEL_NAME, "a label name");
  for (const reserved of ["id", "version"]) {
    if (Object.hasOwn(labels, reserved))
      err(["labels", reserved], "is set by Portcullis (OPA's default label)");
  }

  const max_buffer_events = checker.int(
    o,
    "max_buffer_events",
    [],
    1,
    10_000_000,
    DECISION_LOG_DEFAULTS.max_buffer_events,
  );
  const batch: BatchConfig = {
    max_events: DECISION_LOG_DEFAULTS.max_events,
    max_delay_ms: DECISION_LOG_DEFAULTS.max_delay_ms,
    max_bytes: DECISION_LOG_DEFAULTS.max_bytes,
  };
  if (o.batch !== undefined) {
    const b = checker.obj(o.batch, ["batch"], ["max_events", "max_delay_ms", "max_bytes"]);
    if (b) {
      batch.max_events = checker.int(b, "max_events", ["batch"], 1, 100_000, batch.max_events);
      batch.max_delay_ms = checker.int(b, "max_delay_ms", ["batch"], 0, 600_000, batch.max_delay_ms);
      batch.max_bytes = checker.int(b, "max_bytes", ["batch"], 1024, 256 * 1024 * 1024, batch.max_bytes);
    }
  }
  const max_buffer_bytes = checker.int(
    o,
    "max_buffer_bytes",
    [],
    1024,
    2 ** 40,
    DECISION_LOG_DEFAULTS.max_buffer_bytes,
  );
  if (batch.max_events > max_buffer_events) {
    err(["batch", "max_events"], `must not exceed max_buffer_events (${max_buffer_events})`);
  }

  if (!console && !file && !service && !failed) {
    if (o.console === false && Object.keys(o).length === 1) return undefined;
    err([], "turns on no sink: set console: true, file or service (or write console: false for off)");
  }
  if (failed) return undefined;
  return {
    console,
    ...(file ? { file } : {}),
    ...(service ? { service } : {}),
    mask,
    labels,
    max_buffer_events,
    max_buffer_bytes,
    batch,
  };
}

function parseService(c: Checker, v: unknown): ServiceSinkConfig | undefined {
  const p = ["service"];
  const keys = [
    "url",
    "headers",
    "bearer_token_file",
    "gzip",
    "timeout_ms",
    "min_retry_delay_ms",
    "max_retry_delay_ms",
  ];
  const o = c.obj(v, p, keys);
  if (!o) return undefined;
  const url = c.str(o, "url", p, true);
  let ok = url !== undefined;
  if (url !== undefined) {
    let u: URL | undefined;
    try {
      u = new URL(url);
    } catch {
      u = undefined;
    }
    if (!u) {
      c.err([...p, "url"], `must be an absolute URL, got ${JSON.stringify(url)}`);
      ok = false;
    } else if (!(u.protocol === "https:" || (u.protocol === "http:" && isLoopbackHost(u.hostname)))) {
      // Decision logs carry policy inputs: they leave the host encrypted.
      c.err([...p, "url"], `must be an https URL (http only on loopback), got ${JSON.stringify(url)}`);
      ok = false;
    } else if (u.username || u.password) {
      c.err([...p, "url"], "must not contain credentials (use bearer_token_file or headers)");
      ok = false;
    }
  }
  const headers =
    o.headers === undefined
      ? {}
      : c.stringMap(o.headers, [...p, "headers"], HEADER_NAME, "an HTTP header name");
  for (const h of Object.keys(headers)) {
    if (RESERVED_HEADERS.has(h.toLowerCase())) {
      c.err([...p, "headers", h], "is set by the decision-log uploader");
      ok = false;
    }
  }
  const tokenFile = c.str(o, "bearer_token_file", p, false);
  if (tokenFile !== undefined && Object.keys(headers).some((h) => h.toLowerCase() === "authorization")) {
    c.err([...p, "bearer_token_file"], "conflicts with an authorization header");
    ok = false;
  }
  const gzip = c.bool(o, "gzip", p, true);
  const timeout_ms = c.int(o, "timeout_ms", p, 1, 600_000, DECISION_LOG_DEFAULTS.timeout_ms);
  const min_retry_delay_ms = c.int(
    o,
    "min_retry_delay_ms",
    p,
    1,
    600_000,
    DECISION_LOG_DEFAULTS.min_retry_delay_ms,
  );
  const max_retry_delay_ms = c.int(
    o,
    "max_retry_delay_ms",
    p,
    1,
    3_600_000,
    DECISION_LOG_DEFAULTS.max_retry_delay_ms,
  );
  if (max_retry_delay_ms < min_retry_delay_ms) {
    c.err([...p, "max_retry_delay_ms"], `must be at least min_retry_delay_ms (${min_retry_delay_ms})`);
    ok = false;
  }
  if (!ok || url === undefined) return undefined;
  return {
    url,
    headers,
    ...(tokenFile !== undefined ? { bearer_token_file: c.resolvePath(tokenFile) } : {}),
    gzip,
    timeout_ms,
    min_retry_delay_ms,
    max_retry_delay_ms,
  };
}

/** A pointer string (erase, OPA's plain mask result) or `{op: remove|upsert, path, value}`. */
function parseMask(c: Checker, v: unknown, path: ConfigPath, out: MaskRule[]): void {
  let rule: MaskRule | undefined;
  if (typeof v === "string") {
    rule = { op: "remove", path: v };
  } else {
    const o = c.obj(v, path, ["op", "path", "value"]);
    if (!o) return;
    const op = c.str(o, "op", path, true);
    const p = c.str(o, "path", path, true);
    if (op !== undefined && op !== "remove" && op !== "upsert") {
      c.err([...path, "op"], `must be remove or upsert, got ${JSON.stringify(op)}`);
      return;
    }
    if (op === "upsert" && o.value === undefined) {
      c.err([...path, "value"], "is required for upsert");
      return;
    }
    if (op === "remove" && o.value !== undefined) {
      c.err([...path, "value"], "does not apply to remove");
      return;
    }
    if (op === undefined || p === undefined) return;
    rule = op === "upsert" ? { op, path: p, value: o.value as Json } : { op, path: p };
  }
  try {
    compileMasks([rule]);
  } catch (e) {
    c.err(typeof v === "string" ? path : [...path, "path"], (e as Error).message);
    return;
  }
  out.push(rule);
}
