// `portcullis eval`: evaluate a query against policies and data, printing
// `opa eval --format json`'s shape:
//   {"result":[{"expressions":[{"value":…,"text":"…","location":{"row":1,"col":1}}],"bindings":{…}}]}
// The engine returns the bindings of the query's variables; to report each
// expression's value as OPA does, the query is rewritten so that every
// value-producing expression `e` becomes `__v = (e); __v != false` (the second
// half keeps OPA's rule that an expression whose value is `false` fails).
import { parseArgs } from "node:util";
import {
  compile,
  parseQuery,
  RegoError,
  RegoErrors,
  type CompiledPolicy,
  type ResultRow,
  type Value,
} from "../pdp/rego/index.js";
import type { Expr, Location } from "../pdp/rego/ast.js";
import { formatErrors } from "./errors.js";
import { UsageError, type ExitCode, type IO } from "./io.js";
import { loadInput, loadPaths } from "./load.js";
import { RegoValue, writeJSON } from "./output.js";

export const evalUsage = `Usage: portcullis eval [-d FILE_OR_DIR]... [-i INPUT.json] [--strict-builtin-errors] [--format json|pretty] QUERY

Evaluates QUERY against the Rego modules and data files loaded with -d and the
input document given with -i (JSON or YAML; -I reads it from stdin).
Prints the result in the shape of \`opa eval --format json\`; \`{}\` when undefined.

Options:
  -d, --data PATH              .rego / .json / .yaml file or directory (repeatable)
  -i, --input FILE             input document
  -I, --stdin-input            read the input document from stdin
      --strict-builtin-errors  raise builtin errors instead of making expressions undefined
  -f, --format json|pretty     output format (default json)
      --max-steps N            evaluation step limit (default: none)
      --timeout MS             evaluation time limit in milliseconds (default: none)
`;

/** Prefix of the variables that carry expression values; never shown to the user. */
const VALUE_VAR = "portcullis__expr";

/** How one expression of the query is reported. */
export interface ExprPlan {
  text: string;
  location: { row: number; col: number };
  /** The variable bound to the expression's value; null when the value is `true` (assignments, `not`, `some`, …). */
  valueVar: string | null;
}

export interface QueryPlan {
  /** The query the engine evaluates. */
  query: string;
  exprs: ExprPlan[];
}

/** Operators whose expression value is `true` when they succeed (OPA reports them that way). */
const BOOLEAN_OPS = new Set(["eq", "assign"]);

/**
 * Plans the rewrite of a query so that expression values can be read from the
 * result rows. Throws the parser's errors for a query that does not parse.
 */
export function planQuery(query: string): QueryPlan {
  const body = parseQuery(query);
  const lines = query.split("\n");
  const offsetOf = (loc: Location): number => {
    let off = 0;
    for (let r = 1; r < loc.row && r <= lines.length; r++) off += lines[r - 1]!.length + 1;
    const line = lines[loc.row - 1] ?? "";
    return (
      off +
      Array.from(line)
        .slice(0, loc.col - 1)
        .join("").length
    );
  };
  const exprs = body.exprs;
  const starts = exprs.map((e: Expr) => offsetOf(e.loc));
  const plans: ExprPlan[] = [];
  const parts: string[] = [];
  exprs.forEach((expr: Expr, i: number) => {
    const start = starts[i]!;
    const end = i + 1 < exprs.length ? starts[i + 1]! : query.length;
    const text = stripComments(query.slice(start, end))
      .replace(/[\s;]+$/, "")
      .trim();
    const location = { row: expr.loc.row, col: expr.loc.col };
    if (!producesValue(expr)) {
      plans.push({ text, location, valueVar: null });
      parts.push(text);
      return;
    }
    // Split `term with a as b with …` into the term and its modifiers.
    let termText = text;
    let withText = "";
    if (expr.with.length > 0) {
      const cut = offsetOf(expr.with[0]!.loc) - start;
      let head = text.slice(0, Math.max(0, cut));
      let tail = text.slice(Math.max(0, cut));
      const kw = /\bwith\s*$/.exec(head);
      if (kw) {
        tail = head.slice(kw.index) + tail;
        head = head.slice(0, kw.index);
      }
      termText = head.trim();
      withText = " " + tail.trim();
    }
    const v = `${VALUE_VAR}${i}`;
    plans.push({ text, location, valueVar: v });
    // A lone expression reports its value even when it is `false`, as `opa eval` does;
    // in a longer query a `false` expression fails the query.
    parts.push(`${v} = (${termText})${withText}`);
    if (exprs.length > 1) parts.push(`${v} != false`);
  });
  return { query: parts.join("\n"), exprs: plans };
}

/** Removes `# …` comments (outside string literals) from Rego source text. */
export function stripComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"' || c === "`") {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += c === '"' && text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function producesValue(expr: Expr): boolean {
  if (expr.type !== "expr" || expr.negated) return false;
  const t = expr.term;
  if (t.type !== "call") return true;
  const op = t.operator;
  const name = op.head.type === "var" && op.path.length === 0 ? op.head.name : null;
  return !(name !== null && BOOLEAN_OPS.has(name));
}

export interface EvalRequest {
  query: string;
  input?: unknown;
  strict?: boolean;
  maxSteps?: number;
  timeoutMs?: number;
  print?: (msg: string) => void;
}

export interface EvalResultRow {
  expressions: { value: RegoValue; text: string; location: { row: number; col: number } }[];
  bindings?: Record<string, RegoValue>;
}

/**
 * Evaluates a query as `opa eval` does and returns the result rows. When the
 * rewritten query does not compile (e.g. a function called with its output
 * argument), the query is run as given, reporting every expression as `true`.
 */
export function evaluate(policy: CompiledPolicy, req: EvalRequest): EvalResultRow[] {
  const opts = {
    input: req.input as Value | undefined,
    strict: req.strict ?? false,
    maxSteps: req.maxSteps,
    timeoutMs: req.timeoutMs,
    print: req.print,
  };
  let plan: QueryPlan;
  let rows: ResultRow[];
  try {
    plan = planQuery(req.query);
    rows = policy.query(plan.query, opts);
  } catch (e) {
    if (!(e instanceof RegoErrors) && !(e instanceof RegoError && e.code.startsWith("rego_"))) throw e;
    // Fall back to the query as written; its own errors are the ones to report.
    rows = policy.query(req.query, opts);
    plan = { query: req.query, exprs: fallbackExprs(req.query) };
  }
  return rows.map((row) => {
    const expressions = plan.exprs.map((e) => ({
      value: new RegoValue(e.valueVar ? (row[e.valueVar] ?? null) : true),
      text: e.text,
      location: e.location,
    }));
    const bindings: Record<string, RegoValue> = {};
    let any = false;
    for (const k of Object.keys(row)) {
      if (k.startsWith(VALUE_VAR)) continue;
      bindings[k] = new RegoValue(row[k]!);
      any = true;
    }
    return any ? { expressions, bindings } : { expressions };
  });
}

function fallbackExprs(query: string): ExprPlan[] {
  try {
    return planQuery(query).exprs.map((e) => ({ ...e, valueVar: null }));
  } catch {
    return [{ text: query.trim(), location: { row: 1, col: 1 }, valueVar: null }];
  }
}

export async function runEval(argv: string[], io: IO): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      data: { type: "string", short: "d", multiple: true, default: [] },
      input: { type: "string", short: "i" },
      "stdin-input": { type: "boolean", short: "I", default: false },
      "strict-builtin-errors": { type: "boolean", default: false },
      format: { type: "string", short: "f", default: "json" },
      "max-steps": { type: "string" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    io.out(evalUsage);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("eval takes exactly one QUERY argument");
  if (values.format !== "json" && values.format !== "pretty") {
    throw new UsageError(`unknown --format ${values.format} (want json or pretty)`);
  }
  const query = positionals[0]!;
  try {
    const loaded = loadPaths(values.data);
    let input: unknown;
    if (values.input !== undefined) input = loadInput(values.input);
    else if (values["stdin-input"]) input = JSON.parse(await readStdin());
    const policy = compile({ modules: loaded.modules, data: loaded.data as Value });
    const rows = evaluate(policy, {
      query,
      input,
      strict: values["strict-builtin-errors"],
      maxSteps: optionalInt(values["max-steps"], "--max-steps"),
      timeoutMs: optionalInt(values.timeout, "--timeout"),
      print: (msg) => io.err(msg + "\n"),
    });
    io.out(values.format === "json" ? formatJSON(rows) : formatPretty(rows));
    return 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    io.err(formatErrors(e));
    return 1;
  }
}

function optionalInt(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} wants a positive integer`);
  return n;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** `opa eval --format json`: `{}` when undefined. */
export function formatJSON(rows: EvalResultRow[]): string {
  return (rows.length === 0 ? "{}" : writeJSON({ result: rows })) + "\n";
}

/** `opa eval --format pretty`: the value for a single expression, else a table of bindings. */
export function formatPretty(rows: EvalResultRow[]): string {
  if (rows.length === 0) return "undefined\n";
  const vars = Object.keys(rows[0]!.bindings ?? {});
  if (vars.length === 0) {
    return (
      rows
        .map((r) =>
          r.expressions.length === 1
            ? writeJSON(r.expressions[0]!.value)
            : writeJSON(r.expressions.map((e) => e.value)),
        )
        .join("\n") + "\n"
    );
  }
  const cells = rows.map((r) => vars.map((v) => writeJSON(r.bindings?.[v] ?? null, "")));
  const widths = vars.map((v, i) => Math.max(v.length, ...cells.map((c) => c[i]!.length)));
  const rule = "+" + widths.map((w) => "-".repeat(w + 2)).join("+") + "+\n";
  const line = (items: string[]) => "| " + items.map((s, i) => s.padEnd(widths[i]!)).join(" | ") + " |\n";
  return rule + line(vars) + rule + cells.map(line).join("") + rule;
}
