// AuthZEN 1.0 requests: validating the subject/action/resource/context 4-tuple, merging batch
// defaults into each item, and mapping a tuple onto the policy input document (v1) so that the
// shipped policy (data.portcullis.authz.decision) answers AuthZEN requests as it answers the gateway.
// The mapping is documented in docs/pdp-api.md; it copies, never invents: an absent member stays absent.

export interface AuthzenTuple {
  subject: { type: string; id: string; properties?: Record<string, unknown> };
  action: { name: string; properties?: Record<string, unknown> };
  resource: { type: string; id: string; properties?: Record<string, unknown> };
  context?: Record<string, unknown>;
}

export type EvaluationsSemantic = "execute_all" | "deny_on_first_deny" | "permit_on_first_permit";

export interface EvaluationsRequest {
  /** Undefined when the request has no `evaluations` array: it then behaves as a single evaluation. */
  items: (AuthzenTuple | AuthzenRequestError)[] | undefined;
  single: AuthzenTuple | undefined;
  semantic: EvaluationsSemantic;
}

/** A malformed request: answered with 400 and the message. */
export class AuthzenRequestError extends Error {
  override name = "AuthzenRequestError";
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function kind(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

function needObj(v: unknown, at: string): Obj {
  if (!isObj(v)) throw new AuthzenRequestError(`${at} must be an object, got ${kind(v)}`);
  return v;
}

function needStr(o: Obj, key: string, at: string): string {
  const v = o[key];
  if (v === undefined) throw new AuthzenRequestError(`${at}.${key} is required`);
  if (typeof v !== "string") throw new AuthzenRequestError(`${at}.${key} must be a string, got ${kind(v)}`);
  return v;
}

function optProps(o: Obj, at: string): Obj | undefined {
  if (o.properties === undefined) return undefined;
  return needObj(o.properties, `${at}.properties`);
}

/** Checks one complete 4-tuple; `at` names it in errors (`request`, `evaluations[2]`). */
export function parseTuple(v: Obj, at: string): AuthzenTuple {
  if (v.subject === undefined) throw new AuthzenRequestError(`${at}.subject is required`);
  if (v.action === undefined) throw new AuthzenRequestError(`${at}.action is required`);
  if (v.resource === undefined) throw new AuthzenRequestError(`${at}.resource is required`);
  const s = needObj(v.subject, `${at}.subject`);
  const a = needObj(v.action, `${at}.action`);
  const r = needObj(v.resource, `${at}.resource`);
  const subject: AuthzenTuple["subject"] = {
    type: needStr(s, "type", `${at}.subject`),
    id: needStr(s, "id", `${at}.subject`),
  };
  const sp = optProps(s, `${at}.subject`);
  if (sp) subject.properties = sp;
  const action: AuthzenTuple["action"] = { name: needStr(a, "name", `${at}.action`) };
  const ap = optProps(a, `${at}.action`);
  if (ap) action.properties = ap;
  const resource: AuthzenTuple["resource"] = {
    type: needStr(r, "type", `${at}.resource`),
    id: needStr(r, "id", `${at}.resource`),
  };
  const rp = optProps(r, `${at}.resource`);
  if (rp) resource.properties = rp;
  const t: AuthzenTuple = { subject, action, resource };
  if (v.context !== undefined) t.context = needObj(v.context, `${at}.context`);
  return t;
}

/** An Access Evaluation request body. */
export function parseEvaluation(body: unknown): AuthzenTuple {
  if (body === undefined) throw new AuthzenRequestError("request body is required");
  return parseTuple(needObj(body, "request"), "request");
}

const SEMANTICS: readonly EvaluationsSemantic[] = [
  "execute_all",
  "deny_on_first_deny",
  "permit_on_first_permit",
];

/**
 * An Access Evaluations request body: top-level members are defaults that each item's own members
 * replace (whole members, not merged field by field, as the spec's examples show).
 */
export function parseEvaluations(body: unknown, maxItems: number): EvaluationsRequest {
  if (body === undefined) throw new AuthzenRequestError("request body is required");
  const o = needObj(body, "request");
  let semantic: EvaluationsSemantic = "execute_all";
  if (o.options !== undefined) {
    const opts = needObj(o.options, "options");
    const s = opts.evaluations_semantic;
    if (s !== undefined) {
      if (typeof s !== "string" || !SEMANTICS.includes(s as EvaluationsSemantic)) {
        throw new AuthzenRequestError(
          `options.evaluations_semantic must be one of ${SEMANTICS.join(", ")}, got ${JSON.stringify(s)}`,
        );
      }
      semantic = s as EvaluationsSemantic;
    }
  }
  // No (or an empty) `evaluations` array: the request is a single evaluation (backwards compatible).
  if (o.evaluations === undefined || (Array.isArray(o.evaluations) && o.evaluations.length === 0)) {
    return { items: undefined, single: parseTuple(o, "request"), semantic };
  }
  if (!Array.isArray(o.evaluations))
    throw new AuthzenRequestError(`evaluations must be an array, got ${kind(o.evaluations)}`);
  if (o.evaluations.length > maxItems) {
    throw new AuthzenRequestError(`evaluations has ${o.evaluations.length} items, the limit is ${maxItems}`);
  }
  // A malformed item is that item's error (decision false), not the whole request's.
  const items = o.evaluations.map((item: unknown, i): AuthzenTuple | AuthzenRequestError => {
    try {
      const it = needObj(item, `evaluations[${i}]`);
      const merged: Obj = {};
      for (const k of ["subject", "action", "resource", "context"]) {
        const v = it[k] !== undefined ? it[k] : o[k];
        if (v !== undefined) merged[k] = v;
      }
      return parseTuple(merged, `evaluations[${i}]`);
    } catch (e) {
      if (e instanceof AuthzenRequestError) return e;
      throw e;
    }
  });
  return { items, single: undefined, semantic };
}

const SUBJECT_KEYS = ["peer", "token", "authn", "attestation", "delegation"] as const;

/**
 * The policy input for one tuple (docs/pdp-api.md, "AuthZEN → policy input"):
 *
 * - `input.authzen` is the tuple itself, for policies written against AuthZEN;
 * - `segment` ← resource.properties.segment; `request.path` ← resource.properties.path, else resource.id;
 *   `request.method` ← action.properties.method, else action.name;
 * - `caller.type` ← subject.type; `authn.subject` ← subject.id (unless subject.properties.authn is given);
 * - `peer`, `token`, `authn`, `attestation`, `delegation` ← subject.properties.<same name>;
 * - `rpc` ← action.properties.rpc; `txn` ← context.txn.
 */
export function authzenInput(t: AuthzenTuple): Record<string, unknown> {
  const input: Record<string, unknown> = { authzen: t };
  const rp = t.resource.properties ?? {};
  const ap = t.action.properties ?? {};
  const sp = t.subject.properties ?? {};
  if (rp.segment !== undefined) input.segment = rp.segment;
  input.request = {
    method: ap.method !== undefined ? ap.method : t.action.name,
    path: rp.path !== undefined ? rp.path : t.resource.id,
  };
  input.caller = { type: t.subject.type };
  input.authn = { subject: t.subject.id };
  for (const k of SUBJECT_KEYS) if (sp[k] !== undefined) input[k] = sp[k];
  if (ap.rpc !== undefined) input.rpc = ap.rpc;
  if (t.context?.txn !== undefined) input.txn = t.context.txn;
  return input;
}
