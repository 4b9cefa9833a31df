// Identifier translation: the authenticated subject → `input.authn.local_id`, the name the policy and its
// data use. A workload from a foreign trust domain has no local name unless a rule gives it one, so a
// policy keyed on `local_id` can never confuse `spiffe://partner.example/agent/x` with a local agent.
//
// Patterns are matched segment by segment, never compiled to a RegExp: nothing in a config or a
// certificate can change what a pattern means, and captures can only hold SPIFFE path characters.
import type { Segment, TranslationRule } from "../config/index.js";
import { parseSpiffeId } from "../pki/index.js";

export interface WorkloadId {
  scheme: "spiffe" | "wimse";
  trustDomain: string;
  segments: string[];
}

const WORKLOAD_SCHEME = /^(spiffe|wimse):\/\//;

/**
 * A `spiffe://` or `wimse://` ID with SPIFFE syntax (the WIMSE identifier draft allows the same form);
 * `undefined` for anything else, including near-misses such as `SPIFFE://` or a `..` segment.
 */
export function parseWorkloadId(id: string): WorkloadId | undefined {
  const m = WORKLOAD_SCHEME.exec(id);
  if (!m) return undefined;
  const parsed = parseSpiffeId(`spiffe://${id.slice(m[0].length)}`);
  if (typeof parsed === "string") return undefined;
  return { scheme: m[1] as WorkloadId["scheme"], trustDomain: parsed.trustDomain, segments: parsed.segments };
}

/** A subject that claims to be a workload ID (any case), whether or not it is a valid one. */
export function isWorkloadUri(subject: string): boolean {
  return /^(spiffe|wimse):/i.test(subject);
}

type Piece = string | number;

interface CompiledPattern {
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

/** Checks and splits a pattern; the message of a thrown Error names what is wrong. */
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

function matchPattern(p: CompiledPattern, id: WorkloadId): string[] | undefined {
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

function render(template: Piece[], captures: string[]): string {
  return template.map((t) => (typeof t === "number" ? captures[t - 1] : t)).join("");
}

type Rule = (id: WorkloadId, raw: string) => string | undefined;

function compileRule(r: TranslationRule): Rule {
  if ("pattern" in r) {
    const p = compilePattern(r.pattern, r.local_id);
    if (r.trust_domain !== p.trustDomain) {
      throw new Error(`identity_translation: trust_domain ${r.trust_domain} differs from ${r.pattern}`);
    }
    return (id) => {
      const captures = matchPattern(p, id);
      return captures && render(p.template, captures);
    };
  }
  const ids = new Map(Object.entries(r.ids));
  return (id, raw) => {
    if (r.trust_domain !== undefined && id.trustDomain !== r.trust_domain) return undefined;
    return ids.get(raw);
  };
}

export type Translate = (subject: string) => string | undefined;

/** The segment's local trust domain: explicit, else the single allowed SVID trust domain, else none. */
export function localTrustDomain(segment: Pick<Segment, "local_trust_domain" | "tls">): string | undefined {
  if (segment.local_trust_domain !== undefined) return segment.local_trust_domain;
  const tds = segment.tls.trust_domains;
  return tds.length === 1 ? tds[0] : undefined;
}

/**
 * The segment's translation, compiled once at start-up (an invalid rule fails start-up).
 *   workload ID (`spiffe://`, `wimse://`): first matching rule → its local ID; no rule → the ID itself when
 *     it is in the local trust domain, else absent;
 *   anything else that looks like a URI with those schemes but does not parse → absent;
 *   any other subject (`alice`, `user:alice`): a name from the segment's own issuer or credential store,
 *     so it is already local.
 */
export function compileTranslation(
  segment: Pick<Segment, "local_trust_domain" | "identity_translation" | "tls">,
): Translate {
  const local = localTrustDomain(segment);
  const rules = (segment.identity_translation ?? []).map(compileRule);
  return (subject) => {
    const id = parseWorkloadId(subject);
    if (!id) return isWorkloadUri(subject) ? undefined : subject;
    for (const rule of rules) {
      const out = rule(id, subject);
      if (out !== undefined) return out;
    }
    return id.trustDomain === local ? subject : undefined;
  };
}
