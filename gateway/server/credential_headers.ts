// The rule for credentials a request carries that are for the gateway alone: one list per segment, built
// from its config, that is both what `input.request.headers` masks (so neither the policy, a remote PDP,
// the decision cache nor a decision log ever holds the value) and what is stripped before proxying (an
// upstream holding it could replay it here). With one list the two cannot drift, and a custom header
// name (`api_key.header: x-tenant-key`) gets exactly the treatment of the default.
//
// Names every segment masks whatever its config (`authorization`, `cookie`, `x-api-key`, `dpop` …) are in
// gateway/http/headers.ts; they travel on unless listed here: a bearer token is addressed to the resource,
// and the session cookie is the application's own (docs/gateway/callers.md). `Authorization: Basic` is
// recognised by its value, not its name (stripBasicCredentials).
import type { Segment } from "../config/index.js";
import { DEFAULT_ATTESTATION_HEADERS } from "./attestation.js";
import { gatewayCredentialHeaders } from "./authenticators.js";

/**
 * Lower-case, without duplicates: the authenticators' gateway-only headers (the `api_key` and `psk`
 * headers as configured, `x-jwt-assertion` …) and the attestation result and evidence headers, the
 * defaults on every segment (signed, replayable artefacts) plus the names a segment configures. Frozen:
 * the header functions remember a list's canonical form by its identity.
 */
export function segmentCredentialHeaders(segment: Segment): readonly string[] {
  const att = segment.attestation;
  const names = [
    ...gatewayCredentialHeaders(segment),
    ...DEFAULT_ATTESTATION_HEADERS,
    ...(att ? [att.result_header, att.evidence_header] : []),
  ];
  return Object.freeze([...new Set(names.map((n) => n.toLowerCase()))]);
}
