// What every YAML config loader of Portcullis shares (gateway, PDP, reference verifier, decision logs):
// key paths as users write them, how a wrong value is described, spelling hints for unknown keys, and
// the line/column a problem is reported at. The checks themselves stay with each loader.
import { isNode, type Document, type LineCounter } from "yaml";

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
