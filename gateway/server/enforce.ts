// Policy decision → what the gateway does. Everything that is not a well-formed allow is a deny, and a
// PDP that could not answer is an outage (503), never an allow.
import { toJS, type CompiledPolicy, type Value } from "../../pdp/rego/index.js";
import { buildChallenge } from "../authn/www_authenticate.js";

export interface Decision {
  allow: boolean;
  status?: number;
  error?: string;
  scope?: string;
  reasons?: string[];
  headers?: Record<string, string>;
}

export type Verdict =
  | { kind: "allow"; decision: Decision; headers: Record<string, string> }
  | { kind: "deny"; status: number; headers: Record<string, string>; body: string; log?: string };

export interface Pdp {
  /** Throws when the policy could not be evaluated (error, timeout); returns undefined when undefined. */
  decide(input: Record<string, unknown>): unknown;
}

export function regoPdp(policy: CompiledPolicy, entrypoint: string, timeoutMs = 200): Pdp {
  const path = entrypoint.split("/").filter((s) => s !== "");
  return {
    decide(input) {
      // A JSON round trip drops `undefined` members, which have no Rego value.
      const value = policy.evalPath(path, { input: JSON.parse(JSON.stringify(input)) as Value, timeoutMs });
      return value === undefined ? undefined : toJS(value);
    },
  };
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const ERROR_CODE = /^[a-z_]{1,64}$/;
/** Policy headers may add information for the upstream, never change framing or the routing of the request. */
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "upgrade",
  "te",
]);

/** `{allow}` with the optional members checked; undefined when the value is not a decision document. */
export function parseDecision(value: unknown): Decision | undefined {
  if (typeof value === "boolean") return { allow: value };
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.allow !== "boolean") return undefined;
  const d: Decision = { allow: v.allow };
  if (typeof v.status === "number") d.status = v.status;
  if (typeof v.error === "string") d.error = v.error;
  if (typeof v.scope === "string") d.scope = v.scope;
  if (Array.isArray(v.reasons)) d.reasons = v.reasons.filter((r): r is string => typeof r === "string");
  if (v.headers !== undefined) {
    if (v.headers === null || typeof v.headers !== "object" || Array.isArray(v.headers)) return undefined;
    const headers: Record<string, string> = {};
    for (const [k, h] of Object.entries(v.headers)) {
      const name = k.toLowerCase();
      if (
        typeof h !== "string" ||
        !HEADER_NAME.test(name) ||
        RESERVED_HEADERS.has(name) ||
        /[\0\r\n]/.test(h)
      ) {
        return undefined;
      }
      headers[name] = h;
    }
    d.headers = headers;
  }
  return d;
}

function jsonError(
  status: number,
  error: string,
  description: string,
  extra: Record<string, string> = {},
  log?: string,
): Verdict {
  return {
    kind: "deny",
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store", ...extra },
    body: JSON.stringify({ error, error_description: description }),
    ...(log !== undefined ? { log } : {}),
  };
}

export interface EnforceOptions {
  realm: string;
  resourceMetadata?: string;
}

/** Runs the PDP and maps its answer to a verdict; deny reasons go to the log, never to the caller. */
export function enforce(pdp: Pdp, input: Record<string, unknown>, o: EnforceOptions): Verdict {
  let raw: unknown;
  try {
    raw = pdp.decide(input);
  } catch (e) {
    return jsonError(
      503,
      "temporarily_unavailable",
      "the policy decision point is unavailable",
      { "retry-after": "1" },
      `pdp error: ${(e as Error).message}`,
    );
  }
  const d = parseDecision(raw);
  if (d === undefined) {
    return jsonError(
      403,
      "access_denied",
      "access denied",
      {},
      "policy error: malformed or undefined decision",
    );
  }
  if (d.allow) return { kind: "allow", decision: d, headers: d.headers ?? {} };
  const log = `deny: ${(d.reasons ?? []).join("; ")}`;
  if (d.error === "insufficient_scope" && d.scope !== undefined) {
    const challenge = buildChallenge({
      realm: o.realm,
      resourceMetadata: o.resourceMetadata,
      error: "insufficient_scope",
      scope: d.scope,
    });
    return jsonError(
      403,
      "insufficient_scope",
      "the token lacks a required scope",
      { "www-authenticate": challenge },
      log,
    );
  }
  // Only the two statuses a policy deny can mean; anything else it asks for becomes a plain 403.
  const status = d.status === 401 ? 401 : 403;
  const error = d.error !== undefined && ERROR_CODE.test(d.error) ? d.error : "access_denied";
  const extra: Record<string, string> =
    status === 401
      ? { "www-authenticate": buildChallenge({ realm: o.realm, resourceMetadata: o.resourceMetadata }) }
      : {};
  return jsonError(status, error, "access denied", extra, log);
}
