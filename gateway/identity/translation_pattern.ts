// One `identity_translation` pattern rule (`{ pattern, local_id }`): its syntax, checked by the config
// loader, and its matching, run by identifier translation (gateway/server/translate.ts). One module for
// both, so a pattern the config accepted means on the request path exactly what was checked.
//
// Patterns are matched segment by segment, never compiled to a RegExp: nothing in a config or a
// certificate can change what a pattern means, and captures can only hold SPIFFE path characters.
import type { WorkloadId } from "./workload_id.js";

/** A template piece: literal text, or the 1-based number of a wildcard's capture. */
export type Piece = string | number;

export interface CompiledPattern {
  scheme: string;
  trustDomain: string;
  /** Literal segments, or `*` (one segment). */
  segments: string[];
  /** A final `**`: one or more further segments, captured joined by `/`. */
  deep: boolean;
  template: Piece[];
}

const LITERAL_SEGMENT = /^[A-Za-z0-9._-]+$/;
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;

/**
 * Checks and splits a pattern; the message of a thrown Error names what is wrong (and starts with
 * `local_id` when the template is at fault, which the config loader uses to point at the right key).
 */
export function compilePattern(pattern: string, localId: string): CompiledPattern & { wildcards: number } {
  const m = /^(spiffe|wimse):\/\/([^/]*)((?:\/[^/]*)*)$/.exec(pattern);
  if (!m) throw new Error("pattern must be spiffe://<trust-domain>/<path> or wimse://…");
  const [, scheme, trustDomain, path] = m;
  if (!TRUST_DOMAIN.test(trustDomain)) {
    throw new Error(`pattern trust domain must be literal (a-z 0-9 . - _), got "${trustDomain}"`);
  }
  const segments = path === "" ? [] : path.slice(1).split("/");
  let deep = false;
  if (segments.at(-1) === "**") {
    deep = true;
    segments.pop();
  }
  for (const s of segments) {
    if (s !== "*" && (!LITERAL_SEGMENT.test(s) || s === "." || s === "..")) {
      throw new Error(`pattern segment "${s}" must be *, a final **, or A-Z a-z 0-9 . - _`);
    }
  }
  if (segments.length === 0 && !deep) throw new Error("pattern needs a path (a workload ID has one)");
  const wildcards = segments.filter((s) => s === "*").length + (deep ? 1 : 0);
  return { scheme, trustDomain, segments, deep, template: compileTemplate(localId, wildcards), wildcards };
}

/** `partner:{1}/{2}` → ["partner:", 1, "/", 2]; any other brace, a control character or {0} is an error. */
export function compileTemplate(template: string, wildcards: number): Piece[] {
  if (template === "") throw new Error("local_id must not be empty");
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(template)) throw new Error("local_id must not contain control characters");
  const out: Piece[] = [];
  const re = /\{(\d{1,2})\}|([^{}]+)|([{}])/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(template)) !== null) {
    if (m[3] !== undefined) throw new Error('local_id may use braces only as "{N}" placeholders');
    if (m[2] !== undefined) {
      out.push(m[2]);
      continue;
    }
    const n = Number(m[1]);
    if (n < 1 || n > wildcards) {
      throw new Error(
        `local_id placeholder {${n}} has no wildcard (the pattern has ${wildcards}: {1}..{${wildcards}})`,
      );
    }
    out.push(n);
  }
  return out;
}

/** The captures of `id` under `p`, in wildcard order; `undefined` when it does not match. */
export function matchPattern(p: CompiledPattern, id: WorkloadId): string[] | undefined {
  if (id.scheme !== p.scheme || id.trustDomain !== p.trustDomain) return undefined;
  const n = p.segments.length;
  if (p.deep ? id.segments.length <= n : id.segments.length !== n) return undefined;
  const captures: string[] = [];
  for (let i = 0; i < n; i++) {
    if (p.segments[i] === "*") captures.push(id.segments[i]);
    else if (p.segments[i] !== id.segments[i]) return undefined;
  }
  if (p.deep) captures.push(id.segments.slice(n).join("/"));
  return captures;
}

/** The local ID a match becomes: the template with each `{N}` replaced by capture N. */
export function renderTemplate(template: readonly Piece[], captures: readonly string[]): string {
  return template.map((t) => (typeof t === "number" ? captures[t - 1] : t)).join("");
}
