// The policy input document (design brief, "Policy input document v1") from what the earlier stages
// verified. Only verified facts go in: the client's own headers reach the policy masked (policyHeaders).
import type { AttestationInput } from "../../attestation/input.js";
import type { CombinedResult } from "../authn/combine.js";
import type { Identity } from "../authn/types.js";
import type { CallerTypeRule } from "../config/index.js";
import type { NormalizedTarget } from "../http/path.js";
import type { VerifiedPeer } from "./tls.js";

export interface Caller {
  type: string;
  reason: string;
}

/** `*` = one path segment; a trailing `/**` = any depth below (including none). */
export function spiffePathMatches(pattern: string, path: string): boolean {
  const deep = pattern.endsWith("/**");
  const pat = (deep ? pattern.slice(0, -3) : pattern).split("/");
  const segs = path.split("/");
  if (deep ? segs.length < pat.length : segs.length !== pat.length) return false;
  return pat.every((p, i) => (p === "*" ? segs[i] !== "" : p === segs[i]));
}

function spiffePath(id: string): string {
  const rest = id.slice("spiffe://".length);
  const slash = rest.indexOf("/");
  return slash < 0 ? "" : rest.slice(slash);
}

/** The facts caller-type rules read: the verified peer and what authentication established. */
export interface CallerFacts {
  /** Methods that succeeded, as in `input.authn.methods`. */
  methods: readonly string[];
  /** The identity that names the caller (a token or session wins over mTLS). */
  identity: Identity;
  identities: Readonly<Record<string, Identity>>;
}

/** A token claim equals the rule's value, or is an array holding it (`amr: [pwd, hwk]` matches `hwk`). */
function claimMatches(claims: Record<string, unknown>, key: string, want: unknown): boolean {
  if (!Object.hasOwn(claims, key)) return false;
  const have = claims[key];
  return have === want || (Array.isArray(have) && have.includes(want));
}

/**
 * First rule whose every condition holds; no match is type `unknown`, which no shipped policy allows.
 * The reason lists every condition of the matching rule, so a decision log shows why a caller got its type.
 */
export function callerType(
  rules: readonly CallerTypeRule[],
  peer: VerifiedPeer | undefined,
  authn: CallerFacts,
): Caller {
  const ids = [authn.identity, ...authn.methods.map((m) => authn.identities[m])].filter(
    (i): i is Identity => i !== undefined,
  );
  // The mTLS identity's claims are certificate facts, not token claims; `claims` rules never see them.
  const claims = authn.identity === authn.identities.mtls ? {} : (authn.identity.claims ?? {});
  const clientId = ids.find((i) => i.clientId !== undefined)?.clientId;
  const delegated = ids.some((i) => typeof i.act === "object" && i.act !== null);
  const browser = authn.methods.includes("session");
  for (const r of rules) {
    const reasons: string[] = [];
    if (r.spiffe_path !== undefined) {
      if (!peer?.facts.spiffeId || !spiffePathMatches(r.spiffe_path, spiffePath(peer.facts.spiffeId)))
        continue;
      reasons.push(`spiffe path ${r.spiffe_path}`);
    }
    if (r.trust_domain !== undefined) {
      if (peer?.facts.trustDomain !== r.trust_domain) continue;
      reasons.push(`trust domain ${r.trust_domain}`);
    }
    if (r.client_id !== undefined) {
      if (clientId !== r.client_id) continue;
      reasons.push(`client_id ${r.client_id}`);
    }
    if (r.delegated !== undefined) {
      if (delegated !== r.delegated) continue;
      reasons.push(r.delegated ? "delegated (act claim)" : "not delegated");
    }
    if (r.claims !== undefined) {
      const entries = Object.entries(r.claims);
      if (!entries.every(([k, v]) => claimMatches(claims, k, v))) continue;
      reasons.push(...entries.map(([k, v]) => `claim ${k}=${String(v)}`));
    }
    if (r.browser_session !== undefined) {
      if (browser !== r.browser_session) continue;
      reasons.push(r.browser_session ? "browser session" : "no browser session");
    }
    return { type: r.type, reason: reasons.join(" and ") || "default rule" };
  }
  return { type: "unknown", reason: "no caller type rule matched" };
}

/** RFC 8693 `act` nests the previous actor inside the current one; the chain lists the subject first. */
function delegation(
  identity: Identity | undefined,
): { chain: { sub: unknown }[]; depth: number } | undefined {
  if (identity?.act === undefined) return undefined;
  const chain: { sub: unknown }[] = [{ sub: identity.subject }];
  let act: unknown = identity.act;
  // Bounded so a hostile token cannot make this loop long; the policy's depth limit is far below it.
  while (act !== null && typeof act === "object" && chain.length <= 32) {
    chain.push({ sub: (act as Record<string, unknown>).sub });
    act = (act as Record<string, unknown>).act;
  }
  return { chain, depth: chain.length - 1 };
}

export interface InputFacts {
  segment: string;
  method: string;
  host: string | undefined;
  headers: Record<string, string>;
  target: NormalizedTarget;
  remoteAddr: string;
  peer: VerifiedPeer | undefined;
  authn: Extract<CombinedResult, { ok: true }>;
  caller: Caller;
  /** Set for a WebSocket handshake (upgrade.ts), so a policy can tell it from a plain GET. */
  upgrade?: "websocket";
  /** `input.authn.local_id` from identifier translation (translate.ts); absent for foreign subjects. */
  localId?: string;
  /** The appraised attestation (gateway/server/attestation.ts); absent on segments without `attestation:`. */
  attestation?: AttestationInput;
}

export function buildInput(f: InputFacts): Record<string, unknown> {
  const id = f.authn.identity;
  const tokenIdentity = Object.values(f.authn.identities).find((i) => i.tokenType !== undefined);
  const input: Record<string, unknown> = {
    segment: f.segment,
    request: {
      method: f.method,
      path: f.target.path,
      host: f.host ?? "",
      headers: f.headers,
      query: f.target.query,
      remote_addr: f.remoteAddr,
      time_ns: Date.now() * 1_000_000,
      ...(f.upgrade !== undefined ? { upgrade: f.upgrade } : {}),
    },
    authn: {
      methods: f.authn.methods,
      subject: id.subject,
      ...(f.localId !== undefined ? { local_id: f.localId } : {}),
    },
    caller: f.caller,
    // Without `attestation:` on the segment, `none` lets the policy decide and is never mistaken for affirming.
    attestation: f.attestation ?? { status: "none" },
  };
  if (f.peer) {
    input.peer = {
      spiffe_id: f.peer.facts.spiffeId,
      trust_domain: f.peer.facts.trustDomain,
      cert: f.peer.cert,
    };
  }
  if (tokenIdentity) {
    const cnf = tokenIdentity.cnf ?? {};
    input.token = {
      type: tokenIdentity.tokenType,
      claims: tokenIdentity.claims ?? {},
      scopes: tokenIdentity.scopes ?? [],
      client_id: tokenIdentity.clientId,
      // Only what this request proved: `dpop` needs a verified proof, not just a `cnf.jkt` in the token.
      sender_constraint:
        tokenIdentity.dpopJkt !== undefined ? "dpop" : typeof cnf["x5t#S256"] === "string" ? "mtls" : "none",
      ...(tokenIdentity.dpopJkt !== undefined ? { dpop_jkt: tokenIdentity.dpopJkt } : {}),
    };
  }
  const session = f.authn.identities.session;
  // A browser session is not an OAuth token (no scopes, no client): its claims get their own member.
  if (session) input.session = { claims: session.claims ?? {} };
  const d = delegation(tokenIdentity);
  if (d) input.delegation = d;
  return input;
}
