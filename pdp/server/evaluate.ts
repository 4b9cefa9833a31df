// One evaluation of `data.<path>` against a policy revision, with OPA's reading of URL paths: a
// segment that is an integer is an array index (`/v1/data/list/0` is `data.list[0]`), any other
// segment is a string key. String-only paths take the engine's fast path (evalPath).
import type { Engine } from "../engine/index.js";
import type { CompiledPolicy, EvalOptions, Value } from "../rego/index.js";
import { HttpError } from "./respond.js";

/** Go's strconv.Atoi: an optional sign and decimal digits, within 64 bits. */
const INTEGER = /^[+-]?\d{1,18}$/;

export type PathTerm = string | number;

/**
 * The ref terms of an escaped URL path below `/v1/data`: split on `/`, empty segments skipped, each
 * segment percent-decoded (kept as is when that fails, as OPA does). A `"` cannot be a ref term.
 */
export function pathTerms(escaped: string): PathTerm[] {
  const out: PathTerm[] = [];
  for (const raw of escaped.split("/")) {
    if (raw === "") continue;
    let seg = raw;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      // OPA keeps a segment it cannot unescape.
    }
    if (seg.includes('"'))
      throw new HttpError(400, "invalid_parameter", `invalid path: invalid ref term '${seg}'`);
    out.push(INTEGER.test(seg) ? Number(seg) : seg);
  }
  return out;
}

/** The value of `data.<terms>` (undefined when undefined). Throws the engine's RegoError/RegoErrors. */
export function evaluatePath(
  policy: CompiledPolicy | Engine,
  terms: readonly PathTerm[],
  opts: EvalOptions,
): Value | undefined {
  // Another engine answers by entrypoint name (`a/b/c`); it throws EngineError, a 500 like any other.
  if ("kind" in policy) return policy.evaluate(terms.join("/"), opts.input, opts);
  if (terms.every((t) => typeof t === "string")) return policy.evalPath(terms as string[], opts);
  // The engine's evalPath takes string keys only; an index goes through a (cached) query.
  const ref = terms.map((t) => (typeof t === "number" ? `[${t}]` : `[${JSON.stringify(t)}]`)).join("");
  const rows = policy.query(`__pdp_result = data${ref}`, opts);
  return rows.length === 0 ? undefined : rows[0]!.__pdp_result;
}
