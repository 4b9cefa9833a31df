// The Data API through the decision cache (pdp/cache): key = active revision + path + the input's values
// at the paths the policy can read for that path (all of it when that is not known: a policy.wasm, a path
// with an array index), minus the per-request noise key.ts drops, so a new revision never answers from old
// entries. Only decision
// documents (`{allow: bool, …}` or a bool) are stored (ttl.ts); anything else evaluates every time.
//
// The PDP does not see the caller's credentials, only the input, so the bounds come from the input as
// the gateway builds it (gateway/server/input.ts): `input.token.claims.exp` and the client certificate's
// `input.peer.cert.not_after` end an entry, `input.authn.subject` and `input.peer.spiffe_id` index it for
// revocation. An input without them is bounded by the TTLs alone — the policy's `cache_ttl_s: 0` is the
// way for a policy that decides on something the input does not carry to opt out.
import type { CachedDecider, DecisionBounds, InputPathList } from "../cache/index.js";
import { toJS, type Value } from "../rego/index.js";
import type { PathTerm } from "./evaluate.js";
import type { ActivePolicy } from "./policy_store.js";

/**
 * The input paths an evaluation of `terms` can read under `active`: from our Rego engine for a path of
 * string keys (evalPath's); undefined — the whole input — for another engine or a path with an index.
 */
export function readPaths(active: ActivePolicy, terms: readonly PathTerm[]): InputPathList | undefined {
  if (active.engine !== undefined) return undefined;
  if (!terms.every((t): t is string => typeof t === "string")) return undefined;
  return active.policy.inputPaths(terms);
}

export interface DataAnswer {
  /** The engine's value when this request evaluated (exact numbers), else undefined. */
  value?: Value;
  /** The cached JSON document when the cache answered. */
  cached?: unknown;
}

/** Evaluates through the cache; `evaluate` throws like evaluatePath (never cached). */
export function decideCached(
  cache: CachedDecider,
  revision: string,
  terms: readonly PathTerm[],
  strict: boolean,
  input: unknown,
  evaluate: () => Value | undefined,
  inputPaths?: InputPathList,
): DataAnswer | Promise<DataAnswer> {
  let value: Value | undefined;
  let evaluated = false;
  const run = () => {
    evaluated = true;
    value = evaluate();
    return value === undefined ? undefined : toJS(value);
  };
  // Terms as JSON keep `/list/0` (an index) apart from `/list/"0"`; strict mode can turn a value into an
  // error, so it is part of the key too.
  const entrypoint = (strict ? "strict:" : "") + JSON.stringify(terms);
  const answer = (doc: unknown): DataAnswer => (evaluated ? { value } : { cached: doc });
  const out = cache.decide({ revision, entrypoint, input, bounds: boundsOf(input), inputPaths }, run);
  if (out instanceof Promise) return out.then(answer);
  return answer(out);
}

const texts = new WeakMap<object, string>();

/** The compact JSON text of a cached document, memoised per (frozen, shared) entry. */
export function cachedText(doc: unknown, pretty: boolean): string {
  if (pretty || typeof doc !== "object" || doc === null) return JSON.stringify(doc, null, pretty ? 2 : 0);
  let t = texts.get(doc);
  if (t === undefined) texts.set(doc, (t = JSON.stringify(doc)));
  return t;
}

function boundsOf(input: unknown): DecisionBounds {
  const subjects: string[] = [];
  let expiresAt = Infinity;
  const i = obj(input);
  const authn = obj(i?.authn);
  if (typeof authn?.subject === "string") subjects.push(authn.subject);
  const peer = obj(i?.peer);
  if (typeof peer?.spiffe_id === "string") subjects.push(peer.spiffe_id);
  const notAfter = obj(peer?.cert)?.not_after;
  // A date that does not parse is NaN: the cache reads that as "do not store".
  if (notAfter !== undefined) expiresAt = Math.min(expiresAt, Date.parse(String(notAfter)) / 1000);
  const exp = obj(obj(i?.token)?.claims)?.exp;
  if (exp !== undefined) expiresAt = typeof exp === "number" ? Math.min(expiresAt, exp) : NaN;
  return { subjects, ...(expiresAt !== Infinity ? { expiresAt } : {}) };
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}
