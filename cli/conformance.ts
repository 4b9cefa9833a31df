// `portcullis conformance DIR`: runs OPA-format YAML cases and reports per
// category passed/failed/skipped. With --json, stdout holds exactly one JSON
// object: {"total","passed","failed","skipped","categories":{name:{passed,failed,skipped}}}.
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { UNSUPPORTED_BUILTINS } from "../pdp/rego/index.js";
import { UsageError, type ExitCode, type IO } from "./io.js";
import {
  DEFAULT_MAX_STEPS,
  DEFAULT_TIMEOUT_MS,
  loadCorpus,
  runCorpus,
  type CaseReport,
  type Summary,
} from "./conformance/runner.js";

export const conformanceUsage = `Usage: portcullis conformance DIR [--json] [--filter CATEGORY]... [-v]

Runs the OPA-format YAML test cases found recursively under DIR. A case's
category is the first folder under DIR. A case is skipped only when it uses a
builtin Portcullis declares unsupported; every other case passes or fails.

Options:
      --json             print exactly one JSON object with the counts
      --filter CATEGORY  only run this category (repeatable, or comma-separated)
  -v, --verbose          print every failing case with expected vs got
      --max-steps N      evaluation step limit per case (default ${DEFAULT_MAX_STEPS})
      --timeout MS       evaluation time limit per case (default ${DEFAULT_TIMEOUT_MS})
`;

export async function runConformance(argv: string[], io: IO): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      filter: { type: "string", multiple: true, default: [] },
      verbose: { type: "boolean", short: "v", default: false },
      "max-steps": { type: "string" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.out(conformanceUsage);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("conformance takes exactly one DIR");
  const dir = positionals[0]!;
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    /* reported below */
  }
  if (!isDir) throw new UsageError(`${dir} is not a directory`);
  const categories = values.filter.flatMap((f) => f.split(",")).filter((f) => f !== "");
  const maxSteps = positiveInt(values["max-steps"], "--max-steps") ?? DEFAULT_MAX_STEPS;
  const timeoutMs = positiveInt(values.timeout, "--timeout") ?? DEFAULT_TIMEOUT_MS;

  // -v detail goes to stderr under --json so that stdout stays one JSON object.
  const detail = values.json ? io.err : io.out;
  const skippedBy = new Map<string, number>();
  const onCase = (r: CaseReport) => {
    for (const b of r.unsupported ?? []) skippedBy.set(b, (skippedBy.get(b) ?? 0) + 1);
    if (values.verbose && r.status === "failed") detail(describeFailure(r));
  };
  const summary = runCorpus(loadCorpus(dir, categories), { maxSteps, timeoutMs, onCase });

  if (values.json) {
    io.out(JSON.stringify(jsonSummary(summary)) + "\n");
  } else {
    io.out(table(summary, skippedBy));
  }
  return 0;
}

function positiveInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} wants a positive integer`);
  return n;
}

/** Exactly the documented keys, in the documented order. */
export function jsonSummary(s: Summary): Summary {
  const categories: Summary["categories"] = {};
  for (const [name, c] of Object.entries(s.categories)) {
    categories[name] = { passed: c.passed, failed: c.failed, skipped: c.skipped };
  }
  return { total: s.total, passed: s.passed, failed: s.failed, skipped: s.skipped, categories };
}

function describeFailure(r: CaseReport): string {
  let text = `FAIL ${r.note} (${r.file}): ${r.reason ?? ""}\n`;
  if (r.expected !== undefined) text += `  expected: ${JSON.stringify(r.expected)}\n`;
  if (r.got !== undefined) text += `  got:      ${JSON.stringify(r.got)}\n`;
  return text;
}

/** The pass rate: passed over all cases, skipped counting as not passed. */
export function passRate(s: Pick<Summary, "passed" | "total">): number {
  return s.total === 0 ? 0 : s.passed / s.total;
}

export function summaryLine(s: Summary): string {
  return (
    `conformance: ${s.passed}/${s.total} passed (${(passRate(s) * 100).toFixed(1)}%), ` +
    `${s.failed} failed, ${s.skipped} skipped`
  );
}

function table(s: Summary, skippedBy: Map<string, number>): string {
  const names = Object.keys(s.categories);
  const w = Math.max(8, ...names.map((n) => n.length));
  const row = (name: string, p: number | string, f: number | string, k: number | string) =>
    `${name.padEnd(w)}  ${String(p).padStart(6)}  ${String(f).padStart(6)}  ${String(k).padStart(7)}\n`;
  let text = row("category", "passed", "failed", "skipped");
  for (const n of names) {
    const c = s.categories[n]!;
    text += row(n, c.passed, c.failed, c.skipped);
  }
  text += row("TOTAL", s.passed, s.failed, s.skipped);
  text += `\n${summaryLine(s)}\n`;
  if (skippedBy.size > 0) {
    const list = [...skippedBy.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([b, n]) => `${b} (${n})`)
      .join(", ");
    text += `skipped for unsupported builtins: ${list}\n`;
  }
  text += `unsupported builtins: ${[...UNSUPPORTED_BUILTINS].sort().join(", ")}\n`;
  return text;
}
