// Runs OPA-format YAML conformance cases (schema: ../shared/conformance/README.md)
// against our Rego engine, in-process. Used by `portcullis conformance` and by
// the vitest ratchet test. Every case is bounded (step and time limits) and
// isolated (any exception fails that case only).
import { readdirSync, readFileSync } from "node:fs";
import { basename, join, relative, sep } from "node:path";
import { parse as parseYAML } from "yaml";
import {
  compile,
  parseModule,
  parseQuery,
  RegoError,
  RegoErrors,
  toJS,
  UNSUPPORTED_BUILTINS,
  type CompiledPolicy,
  type ResultRow,
  type Value,
} from "../../pdp/rego/index.js";

/** One case as OPA's `cases.TestCase`. */
export interface ConformanceCase {
  note: string;
  query: string;
  modules?: string[];
  data?: Record<string, unknown>;
  input?: unknown;
  input_term?: string;
  want_result?: Record<string, unknown>[];
  sort_bindings?: boolean;
  want_error?: string;
  want_error_code?: string;
  strict_error?: boolean;
}

export interface CaseFile {
  /** Path relative to the corpus root. */
  file: string;
  category: string;
  cases: ConformanceCase[];
  /** Set when the file itself could not be read as a case file. */
  loadError?: string;
}

export type CaseStatus = "passed" | "failed" | "skipped";

export interface CaseOutcome {
  status: CaseStatus;
  /** Why it failed, or which unsupported builtins made it skip. */
  reason?: string;
  unsupported?: string[];
  expected?: unknown;
  got?: unknown;
}

export interface CaseReport extends CaseOutcome {
  note: string;
  file: string;
  category: string;
}

export interface CategoryCounts {
  passed: number;
  failed: number;
  skipped: number;
}

export interface Summary extends CategoryCounts {
  total: number;
  categories: Record<string, CategoryCounts>;
}

export interface RunOptions {
  /** Only these categories (first path component under the corpus root). */
  categories?: readonly string[];
  /** Evaluation step limit per case. */
  maxSteps?: number;
  /** Evaluation wall-clock limit per case, in milliseconds. */
  timeoutMs?: number;
  /** Called after each case (progress, -v output). */
  onCase?: (report: CaseReport) => void;
}

export const DEFAULT_MAX_STEPS = 2_000_000;
export const DEFAULT_TIMEOUT_MS = 5_000;

/** Reads every .yaml/.yml case file under dir, sorted by path. */
export function loadCorpus(dir: string, categories?: readonly string[]): CaseFile[] {
  const want = categories && categories.length > 0 ? new Set(categories) : null;
  const files: CaseFile[] = [];
  for (const path of walkYAML(dir)) {
    const rel = relative(dir, path);
    const parts = rel.split(sep);
    const category = parts.length > 1 ? parts[0]! : basename(dir);
    if (want && !want.has(category)) continue;
    files.push(readCaseFile(path, rel.split(sep).join("/"), category));
  }
  return files;
}

function walkYAML(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walkYAML(p));
    else if (e.isFile() && /\.ya?ml$/i.test(e.name)) out.push(p);
  }
  return out;
}

function readCaseFile(path: string, file: string, category: string): CaseFile {
  try {
    const doc = parseYAML(readFileSync(path, "utf8")) as { cases?: unknown } | null;
    if (!doc || !Array.isArray(doc.cases)) return { file, category, cases: [], loadError: "no `cases` list" };
    return { file, category, cases: doc.cases as ConformanceCase[] };
  } catch (e) {
    return { file, category, cases: [], loadError: `cannot read: ${(e as Error).message.split("\n")[0]}` };
  }
}

/** Runs every case of the files and counts per category. */
export function runCorpus(files: readonly CaseFile[], opts: RunOptions = {}): Summary {
  const summary: Summary = { total: 0, passed: 0, failed: 0, skipped: 0, categories: {} };
  const count = (r: CaseReport) => {
    const cat = (summary.categories[r.category] ??= { passed: 0, failed: 0, skipped: 0 });
    cat[r.status]++;
    summary[r.status]++;
    summary.total++;
    opts.onCase?.(r);
  };
  for (const f of files) {
    if (f.loadError) {
      count({ note: f.file, file: f.file, category: f.category, status: "failed", reason: f.loadError });
      continue;
    }
    for (const c of f.cases) {
      const note = typeof c?.note === "string" ? c.note : `${f.file}#?`;
      let outcome: CaseOutcome;
      try {
        outcome = runCase(c, opts);
      } catch (e) {
        outcome = { status: "failed", reason: `runner crash: ${describe(e)}` };
      }
      count({ ...outcome, note, file: f.file, category: f.category });
    }
  }
  summary.categories = Object.fromEntries(
    Object.entries(summary.categories).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return summary;
}

/** Runs one case. Never throws for anything the engine does. */
export function runCase(
  c: ConformanceCase,
  opts: Pick<RunOptions, "maxSteps" | "timeoutMs"> = {},
): CaseOutcome {
  if (typeof c.query !== "string") return { status: "failed", reason: "case has no query" };
  const modules = (c.modules ?? []).map((source, i) => ({ file: `test-${i}.rego`, source }));

  const unsupported = unsupportedBuiltins(modules, c.query);
  if (unsupported.length > 0) {
    return { status: "skipped", reason: `unsupported builtin ${unsupported.join(", ")}`, unsupported };
  }

  const hasWant =
    c.want_result !== undefined || c.want_error !== undefined || c.want_error_code !== undefined;
  if (!hasWant) return { status: "failed", reason: "case has no want_result, want_error or want_error_code" };

  let rows: ResultRow[] | undefined;
  let error: unknown;
  try {
    const policy = compile({ modules, data: (c.data ?? {}) as Value });
    const input = c.input_term !== undefined ? termValue(c.input_term) : (c.input as Value | undefined);
    rows = policy.query(c.query, {
      input,
      strict: c.strict_error === true,
      maxSteps: opts.maxSteps ?? DEFAULT_MAX_STEPS,
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      print: () => {},
    });
  } catch (e) {
    error = e;
    const partial = (e as { partialRows?: unknown }).partialRows;
    if (Array.isArray(partial)) rows = partial as ResultRow[];
  }

  const wantsError = c.want_error !== undefined || c.want_error_code !== undefined;
  if (error !== undefined) {
    if (!wantsError) return { status: "failed", reason: `unexpected error: ${describe(error)}` };
    const codes = errorCodes(error);
    if (c.want_error_code !== undefined && !codes.includes(c.want_error_code)) {
      return {
        status: "failed",
        reason: `error code: want ${c.want_error_code}, got ${codes.join(", ") || "none"}`,
        expected: c.want_error_code,
        got: describe(error),
      };
    }
    if (c.want_error !== undefined && !errorMessages(error).some((m) => m.includes(c.want_error!))) {
      return {
        status: "failed",
        reason: "error message does not contain the expected text",
        expected: c.want_error,
        got: describe(error),
      };
    }
  } else if (wantsError) {
    return {
      status: "failed",
      reason: "expected an error, got a result",
      expected: c.want_error ?? c.want_error_code,
      got: rowsToJS(rows ?? []),
    };
  }

  if (c.want_result !== undefined) {
    const got = rowsToJS(rows ?? []);
    if (!sameRowSet(c.want_result, got, c.sort_bindings === true)) {
      return { status: "failed", reason: "result differs", expected: c.want_result, got };
    }
  }
  return { status: "passed" };
}

let emptyPolicy: CompiledPolicy | null = null;

/** The value of a ground Rego term (`input_term`), evaluated by the engine itself. */
function termValue(term: string): Value {
  emptyPolicy ??= compile({ modules: [] });
  const rows = emptyPolicy.query(`portcullis__term = ${term}`, { maxSteps: 100_000, timeoutMs: 1_000 });
  if (rows.length !== 1) throw new Error(`input_term is not a single value: ${term}`);
  return rows[0]!["portcullis__term"]!;
}

function rowsToJS(rows: readonly ResultRow[]): Record<string, unknown>[] {
  return rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(row)) out[k] = toJS(row[k]!);
    return out;
  });
}

/** Rows compared as a set; each value as canonical JSON (numbers numerically, keys sorted). */
function sameRowSet(
  want: readonly Record<string, unknown>[],
  got: readonly Record<string, unknown>[],
  sort: boolean,
) {
  const key = (row: Record<string, unknown>) => {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(row ?? {})) {
      const v = row[k];
      out[k] = sort && Array.isArray(v) ? [...v].sort(byCanonical) : v;
    }
    return canonical(out);
  };
  const a = new Set(want.map(key));
  const b = new Set(got.map(key));
  if (a.size !== b.size) return false;
  for (const k of a) if (!b.has(k)) return false;
  return true;
}

function byCanonical(x: unknown, y: unknown): number {
  const a = canonical(x);
  const b = canonical(y);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** JSON text with object keys sorted; -0 and 0 are one number. */
export function canonical(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number") return Object.is(v, -0) ? "0" : JSON.stringify(v);
  if (typeof v === "bigint") return String(Number(v));
  if (typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
  const o = v as Record<string, unknown>;
  return (
    "{" +
    Object.keys(o)
      .sort()
      .map((k) => JSON.stringify(k) + ":" + canonical(o[k]))
      .join(",") +
    "}"
  );
}

function errorCodes(e: unknown): string[] {
  if (e instanceof RegoErrors) return e.errors.map((x) => x.code);
  if (e instanceof RegoError) return [e.code];
  return [];
}

function errorMessages(e: unknown): string[] {
  if (e instanceof RegoErrors) return [e.message, ...e.errors.map((x) => x.message)];
  if (e instanceof Error) return [e.message];
  return [String(e)];
}

function describe(e: unknown): string {
  if (e instanceof RegoErrors || e instanceof RegoError) return e.message;
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/**
 * The builtins from UNSUPPORTED_BUILTINS that the case's modules or query
 * refer to (as a call, a `with` target or a bare ref), found in the parsed AST.
 * Sources that do not parse refer to nothing (the case then runs and fails).
 */
export function unsupportedBuiltins(
  modules: readonly { file: string; source: string }[],
  query: string,
): string[] {
  const found = new Set<string>();
  const roots: unknown[] = [];
  for (const m of modules) {
    try {
      roots.push(parseModule(m.source, m.file));
    } catch {
      /* reported when the case runs */
    }
  }
  try {
    roots.push(parseQuery(query));
  } catch {
    /* reported when the case runs */
  }
  const seen = new Set<object>();
  const visit = (node: unknown): void => {
    if (typeof node !== "object" || node === null || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (const x of node) visit(x);
      return;
    }
    const n = node as Record<string, unknown>;
    if (n.type === "ref") {
      const name = dottedName(n);
      if (name !== null && UNSUPPORTED_BUILTINS.has(name)) found.add(name);
    }
    for (const k of Object.keys(n)) if (k !== "module" && k !== "loc") visit(n[k]);
  };
  for (const r of roots) visit(r);
  return [...found].sort();
}

/** `a.b.c` for a ref whose head is a var and whose path is all strings; else null. */
function dottedName(ref: Record<string, unknown>): string | null {
  const head = ref.head as { type?: string; name?: string } | undefined;
  if (!head || head.type !== "var" || typeof head.name !== "string") return null;
  const parts = [head.name];
  for (const p of (ref.path as { type?: string; value?: unknown }[] | undefined) ?? []) {
    if (p.type !== "string" || typeof p.value !== "string") return null;
    parts.push(p.value);
  }
  return parts.join(".");
}
