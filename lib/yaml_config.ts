// What every YAML config loader of Portcullis shares (gateway, PDP, reference verifier, decision logs):
// key paths as users write them, how a wrong value is described, spelling hints for unknown keys, and
// the line/column a problem is reported at. The checks themselves stay with each loader.
import { isNode, LineCounter, parseDocument, type Document } from "yaml";

export type ConfigPath = (string | number)[];

/** `segments[0].tls.client_auth`; "" for the whole file. */
export function formatPath(path: ConfigPath): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s === "" ? p : `.${p}`;
  return s;
}

/** A value as an error message names it: `a mapping`, `a list`, `null`, `number 3`, `string "x"`. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The allowed key an unknown one is probably a typo of (edit distance ≤ 2), for a "did you mean". */
export function nearestKey(key: string, allowed: readonly string[]): string | undefined {
  return allowed.find((k) => editDistance(k, key) <= 2);
}

/** Where to point for `path`: the deepest node that exists (a missing key is reported at its parent). */
export function positionOf(
  doc: Document.Parsed,
  lc: LineCounter,
  path: ConfigPath,
): { line: number; col: number } | undefined {
  for (let i = path.length; i >= 0; i--) {
    const node = doc.getIn(path.slice(0, i), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]);
  }
  return undefined;
}

/** One problem in a config file. `path` is like `segments[0].tls.client_auth` ("" for the whole file). */
export interface ConfigIssue {
  file: string;
  path: string;
  message: string;
  line?: number;
  col?: number;
}

/** A parsed config document: its plain value, and the document and line counter that locate keys. */
export interface ParsedYaml {
  value: unknown;
  doc: Document.Parsed;
  lc: LineCounter;
}

/**
 * Parses config text read from `file` (absolute): every YAML syntax error with its line, or the value.
 * A repeated key is an error (not "last one wins"), and a low alias budget defuses "billion laughs".
 */
export function parseYamlConfig(text: string, file: string): ParsedYaml | ConfigIssue[] {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return doc.errors.map((e) => {
      const p = lc.linePos(e.pos[0]);
      return { file, path: "", message: e.message.split("\n")[0]!, line: p.line, col: p.col };
    });
  }
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }), doc, lc };
  } catch (e) {
    return [{ file, path: "", message: (e as Error).message }];
  }
}

/** The issue of a config file that cannot be read. */
export function unreadable(file: string, e: unknown): ConfigIssue {
  return { file, path: "", message: `cannot read: ${(e as Error).message}` };
}

/**
 * What every config validator does the same way: collect issues located at their key's line, and
 * refuse unknown keys with a spelling hint. The checks of each config extend it.
 */
export class YamlValidator {
  readonly issues: ConfigIssue[] = [];

  constructor(
    protected readonly configFile: string,
    /** Absent for a config that did not come from a file (flags): issues then have no line. */
    private readonly yaml: { doc: Document.Parsed; lc: LineCounter } | undefined,
  ) {}

  err(path: ConfigPath, message: string): void {
    const issue: ConfigIssue = { file: this.configFile, path: formatPath(path), message };
    const at = this.yaml && positionOf(this.yaml.doc, this.yaml.lc, path);
    if (at) {
      issue.line = at.line;
      issue.col = at.col;
    }
    this.issues.push(issue);
  }

  /** A mapping with only `keys`; each unknown key is an error (with a spelling hint). */
  obj(val: unknown, path: ConfigPath, keys: readonly string[]): Record<string, unknown> | undefined {
    if (typeof val !== "object" || val === null || Array.isArray(val)) {
      this.err(path, `must be a mapping, got ${describeValue(val)}`);
      return undefined;
    }
    const o = val as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (keys.includes(k)) continue;
      const near = nearestKey(k, keys);
      this.err(
        [...path, k],
        `unknown key${near ? ` (did you mean "${near}"?)` : ""}; allowed: ${keys.join(", ")}`,
      );
    }
    return o;
  }
}
