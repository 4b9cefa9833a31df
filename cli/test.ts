// `portcullis test`: runs every `test_*` rule like `opa test`. A test passes
// when its value is `true`; undefined or any other value fails; an evaluation
// error is reported as ERROR. Exit 1 on any failure or error.
import { parseArgs } from "node:util";
import { compile, type CompiledPolicy, type Value } from "../pdp/rego/index.js";
import type { Module } from "../pdp/rego/ast.js";
import { errorLines, formatErrors } from "./errors.js";
import { UsageError, type ExitCode, type IO } from "./io.js";
import { loadPaths } from "./load.js";

export const testUsage = `Usage: portcullis test [PATHS...] [-v] [--run REGEX] [--timeout MS]

Loads the .rego and data files under PATHS (default: .) and evaluates every rule
whose name starts with test_. A test passes when its value is true.

Options:
  -v, --verbose      print every test, not only failures
  -r, --run REGEX    only run tests whose full name (data.pkg.test_x) matches REGEX
      --timeout MS   time limit per test (default 5000)
`;

export interface TestCase {
  /** `data.pkg.test_x` */
  name: string;
  /** Path under data: ["pkg", "test_x"]. */
  path: string[];
  file: string;
  /** Which definition of the rule (0 for the first), in module order. */
  index: number;
}

export type TestStatus = "PASS" | "FAIL" | "ERROR" | "SKIPPED";

export interface TestResult extends TestCase {
  status: TestStatus;
  durationMs: number;
  error?: string;
}

/** `data.a.b["c-d"]` */
export function refText(path: readonly string[]): string {
  return (
    "data" +
    path.map((p) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`)).join("")
  );
}

/** The tests defined by the modules, once per name, in file order. `todo_test_*` are SKIPPED. */
export function discoverTests(modules: readonly Module[]): TestCase[] {
  const seen = new Set<string>();
  const out: TestCase[] = [];
  for (const m of modules) {
    const pkg: string[] = [];
    for (const t of m.package.path) if (t.type === "string") pkg.push(t.value);
    for (const r of m.rules) {
      const first = r.head.ref[0];
      if (!first || first.type !== "var" || r.head.args !== null) continue;
      if (!first.name.startsWith("test_") && !first.name.startsWith("todo_test_")) continue;
      const path = [...pkg, first.name];
      const base = refText(path);
      // Like `opa test`, every definition of a test is its own test: test_x, test_x#01, …
      let index = 0;
      while (seen.has(index === 0 ? base : `${base}#${String(index).padStart(2, "0")}`)) index++;
      const name = index === 0 ? base : `${base}#${String(index).padStart(2, "0")}`;
      seen.add(name);
      out.push({ name, path, file: m.file, index });
    }
  }
  return out;
}

export function runTest(policy: CompiledPolicy, tc: TestCase, timeoutMs: number): TestResult {
  if (tc.path[tc.path.length - 1]!.startsWith("todo_")) return { ...tc, status: "SKIPPED", durationMs: 0 };
  const t0 = performance.now();
  try {
    const value = policy.evalRuleDefinition(tc.path, tc.index, { timeoutMs, print: () => {} });
    const ok = (value as Value | undefined) === true;
    return { ...tc, status: ok ? "PASS" : "FAIL", durationMs: performance.now() - t0 };
  } catch (e) {
    return { ...tc, status: "ERROR", durationMs: performance.now() - t0, error: errorLines(e).join("\n") };
  }
}

/** Go-style duration text as `opa test` prints it: `512µs`, `1.25ms`, `2.1s`. */
export function formatDuration(ms: number): string {
  if (ms < 1) return `${trim((ms * 1000).toFixed(1))}µs`;
  if (ms < 1000) return `${trim(ms.toFixed(3))}ms`;
  return `${trim((ms / 1000).toFixed(3))}s`;
}
function trim(s: string): string {
  return s.includes(".") ? s.replace(/0+$/, "").replace(/\.$/, "") : s;
}

export async function runTestCommand(argv: string[], io: IO): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      verbose: { type: "boolean", short: "v", default: false },
      run: { type: "string", short: "r" },
      timeout: { type: "string", default: "5000" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.out(testUsage);
    return 0;
  }
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new UsageError("--timeout wants a positive integer");
  let filter: RegExp | null = null;
  if (values.run !== undefined) {
    try {
      filter = new RegExp(values.run);
    } catch (e) {
      throw new UsageError(`bad --run pattern: ${(e as Error).message}`);
    }
  }
  let policy: CompiledPolicy;
  try {
    const loaded = loadPaths(positionals.length > 0 ? positionals : ["."]);
    policy = compile({ modules: loaded.modules, data: loaded.data as Value });
  } catch (e) {
    io.err(formatErrors(e));
    return 1;
  }
  const tests = discoverTests(policy.modules).filter((t) => !filter || filter.test(t.name));
  const results = tests.map((t) => runTest(policy, t, timeoutMs));
  io.out(report(results, values.verbose));
  return results.some((r) => r.status === "FAIL" || r.status === "ERROR") ? 1 : 0;
}

/** `opa test`'s report: lines grouped by file, a rule, then PASS/FAIL/ERROR/SKIPPED counts. */
export function report(results: readonly TestResult[], verbose: boolean): string {
  const shown = results.filter((r) => verbose || r.status === "FAIL" || r.status === "ERROR");
  let text = "";
  let file: string | null = null;
  for (const r of shown) {
    if (r.file !== file) {
      if (file !== null) text += "\n";
      file = r.file;
      text += `${file}:\n`;
    }
    text += `${r.name}: ${r.status} (${formatDuration(r.durationMs)})\n`;
    if (r.error) text += r.error.replace(/^/gm, "  ") + "\n";
  }
  if (shown.length > 0) text += "-".repeat(80) + "\n";
  const n = results.length;
  const count = (s: TestStatus) => results.filter((r) => r.status === s).length;
  text += `PASS: ${count("PASS")}/${n}\n`;
  for (const s of ["FAIL", "ERROR", "SKIPPED"] as const) if (count(s) > 0) text += `${s}: ${count(s)}/${n}\n`;
  return text;
}
