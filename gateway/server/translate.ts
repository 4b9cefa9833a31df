// Identifier translation: the authenticated subject → `input.authn.local_id`, the name the policy and its
// data use. A workload from a foreign trust domain has no local name unless a rule gives it one, so a
// policy keyed on `local_id` can never confuse `spiffe://partner.example/agent/x` with a local agent.
//
// The syntax and matching of workload IDs and of pattern rules live in gateway/identity/, which the config
// loader checks rules with too.
import type { Segment, TranslationRule } from "../config/index.js";
import { compilePattern, matchPattern, renderTemplate } from "../identity/translation_pattern.js";
import { isWorkloadUri, parseWorkloadId, type WorkloadId } from "../identity/workload_id.js";

type Rule = (id: WorkloadId, raw: string) => string | undefined;

function compileRule(r: TranslationRule): Rule {
  if ("pattern" in r) {
    const p = compilePattern(r.pattern, r.local_id);
    if (r.trust_domain !== p.trustDomain) {
      throw new Error(`identity_translation: trust_domain ${r.trust_domain} differs from ${r.pattern}`);
    }
    return (id) => {
      const captures = matchPattern(p, id);
      return captures && renderTemplate(p.template, captures);
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
