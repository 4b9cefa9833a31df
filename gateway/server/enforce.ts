// Policy decision → what the gateway does. Everything that is not a well-formed allow is a deny, and a
// PDP that could not answer is an outage (503), never an allow. Decisions go through the decision cache
// (pdp/cache) when the PDP is wrapped by cachedPdp; the cache can only return what the same policy
// revision decided for an input with the same values wherever the policy can read (Pdp.inputPaths), for
// the same subjects, within the credentials' lifetime.
import { randomUUID } from "node:crypto";
import {
  CachedDecider,
  LruDecisionCache,
  type DecisionBounds,
  type DecisionCache,
  type DecisionKeyMemo,
  type DeciderStats,
  type InputPathList,
} from "../../pdp/cache/index.js";
import { toJS, type CompiledPolicy, type Value } from "../../pdp/rego/index.js";
import type { CombinedResult } from "../authn/combine.js";
import { buildChallenge } from "../authn/www_authenticate.js";
import type { Config } from "../config/index.js";
import type { VerifiedPeer } from "./tls.js";

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

/** Whom a decision is for and how long the facts behind it stay true (what a cache needs). */
export type DecisionContext = DecisionBounds;

export interface Pdp {
  /**
   * The decision document for `input`, a promise of it (a remote PDP, an L2 cache lookup), or undefined
   * when the entrypoint is undefined. Throws (or rejects) when the policy could not be evaluated.
   */
  decide(input: Record<string, unknown>, context?: DecisionContext, keyMemo?: DecisionKeyMemo): unknown;
  /** Names the policy and data that decide; a cache keys on it, so a new revision is never served old answers. */
  readonly revision?: string;
  readonly entrypoint?: string;
  /**
   * The input paths the policy can read for `entrypoint` (CompiledPolicy.inputPaths): a decision cache
   * keys on their values only. Undefined: the whole input (a remote PDP, another engine).
   */
  readonly inputPaths?: InputPathList;
}

export interface RegoPdpOptions {
  timeoutMs?: number;
  /** Default: a fresh random id per instance, i.e. per compiled policy (right for an in-process cache). */
  revision?: string;
}

export function regoPdp(
  policy: CompiledPolicy,
  entrypoint: string,
  options: number | RegoPdpOptions = {},
): Pdp {
  const o = typeof options === "number" ? { timeoutMs: options } : options;
  const timeoutMs = o.timeoutMs ?? 200;
  const path = entrypoint.split("/").filter((s) => s !== "");
  return {
    revision: o.revision ?? `local:${randomUUID()}`,
    entrypoint: path.join("/"),
    inputPaths: policy.inputPaths(path),
    decide(input) {
      const value = policy.evalPath(path, { input: jsonValue(input, 0) as Value, timeoutMs });
      return value === undefined ? undefined : toJS(value);
    },
  };
}

const MAX_DEPTH = 64;

/**
 * `input` as the JSON data `JSON.parse(JSON.stringify(input))` would give the engine — undefined members
 * dropped, non-finite numbers null, `toJSON` applied — without copying the (usual) parts that already are
 * JSON data: the gateway's input has a few `undefined` members (e.g. a token without `client_id`), and a
 * full round trip per decision was pure garbage for the collector.
 */
function jsonValue(v: unknown, depth: number): unknown {
  switch (typeof v) {
    case "string":
    case "boolean":
      return v;
    case "number":
      return Number.isFinite(v) ? (v === 0 ? 0 : v) : null;
    case "bigint":
      throw new TypeError("a bigint in the policy input is not JSON");
    case "undefined":
    case "function":
    case "symbol":
      return null;
  }
  if (v === null) return null;
  if (depth >= MAX_DEPTH) throw new TypeError("policy input nested too deeply");
  const proto = Object.getPrototypeOf(v) as unknown;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      const y = jsonValue(x, depth + 1);
      // Object.is: -0 becomes 0 as in JSON, and `===` cannot see that change.
      if (!Object.is(y, x) && out === undefined) out = v.slice(0, i);
      if (out !== undefined) out.push(y);
    }
    return out ?? v;
  }
  if (
    (proto !== Object.prototype && proto !== null) ||
    typeof (v as { toJSON?: unknown }).toJSON === "function"
  ) {
    // Class instances, Dates, …: rare here, so JSON's own reading of them is the simplest exact copy.
    return JSON.parse(JSON.stringify(v)) as unknown;
  }
  const o = v as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const x = o[k];
    const drop = x === undefined || typeof x === "function" || typeof x === "symbol";
    const y = drop ? undefined : jsonValue(x, depth + 1);
    if ((drop || !Object.is(y, x)) && out === undefined) {
      // Null prototype: an own `__proto__` member (JSON.parse makes one) stays a member, not a prototype.
      out = Object.create(null) as Record<string, unknown>;
      for (let j = 0; j < i; j++) out[keys[j]] = o[keys[j]];
    }
    if (out !== undefined && !drop) out[k] = y;
  }
  return out ?? o;
}

/** A Pdp that answers repeated identical decisions from a DecisionCache. */
export interface CachedPdp extends Pdp {
  readonly cache: DecisionCache;
  readonly stats: DeciderStats;
}

export interface CachedPdpOptions {
  /** `cache.ttl_s`: the longest any decision is reused; 0 turns caching off. */
  ttlS: number;
  now?: () => number;
}

/**
 * Wraps `inner` with a decision cache. Only decisions with a context (whom they are for, until when) from
 * a PDP that names its revision and entrypoint are cached; anything else is evaluated every time.
 */
export function cachedPdp(inner: Pdp, cache: DecisionCache, o: CachedPdpOptions): CachedPdp {
  const decider = new CachedDecider({ cache, ttlS: o.ttlS, now: o.now });
  const { revision, entrypoint, inputPaths } = inner;
  return {
    cache,
    stats: decider.stats,
    revision,
    entrypoint,
    inputPaths,
    decide(input, context, keyMemo) {
      if (context === undefined || revision === undefined || entrypoint === undefined) {
        decider.stats.bypassed++;
        return inner.decide(input, context);
      }
      return decider.decide({ revision, entrypoint, input, bounds: context, inputPaths, keyMemo }, () =>
        inner.decide(input, context),
      );
    },
  };
}

/** The in-process decision cache `cache:` configures (`cache.redis`, the L2, arrives with the PDP service). */
export function pdpWithCache(pdp: Pdp, cache: Config["cache"]): Pdp {
  if (!(cache.ttl_s > 0)) return pdp;
  return cachedPdp(pdp, new LruDecisionCache({ maxEntries: cache.max_entries }), { ttlS: cache.ttl_s });
}

/**
 * Subjects and expiry of an authenticated request: every identity that took part (token subject, SPIFFE
 * ID, …) indexes the entry for revocation, and the earliest of their expiries — and the client
 * certificate's — bounds its lifetime. A certificate date that does not parse makes the bound NaN, which
 * the cache reads as "do not store". An attestation result behind the input bounds it too, by its own
 * expiry, and names itself in the key by its issue time (its age changes every second).
 */
export function decisionContext(
  authn: Extract<CombinedResult, { ok: true }>,
  peer: VerifiedPeer | undefined,
  attestation?: { issued_at?: number; expires_at?: number },
): DecisionContext {
  const subjects = new Set<string>();
  let expiresAt = Infinity;
  for (const id of Object.values(authn.identities)) {
    subjects.add(id.subject);
    if (id.expiresAt !== undefined) expiresAt = Math.min(expiresAt, id.expiresAt);
  }
  subjects.add(authn.identity.subject);
  if (authn.identity.expiresAt !== undefined) expiresAt = Math.min(expiresAt, authn.identity.expiresAt);
  if (peer !== undefined) {
    if (peer.facts.spiffeId !== undefined) subjects.add(peer.facts.spiffeId);
    expiresAt = Math.min(expiresAt, Date.parse(peer.cert.not_after) / 1000);
  }
  const attested =
    attestation?.issued_at !== undefined
      ? {
          attestation: {
            issuedAt: attestation.issued_at,
            ...(attestation.expires_at !== undefined ? { expiresAt: attestation.expires_at } : {}),
          },
        }
      : {};
  // Frozen: the gateway reuses one context for every repeat of the same authentication outcome.
  return {
    subjects: Object.freeze([...subjects]),
    ...(expiresAt !== Infinity ? { expiresAt } : {}),
    ...attested,
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
  /** Whom the decision is for and until when; without it a cached PDP evaluates every time. */
  context?: DecisionContext;
}

function unavailable(e: unknown): Verdict {
  return jsonError(
    503,
    "temporarily_unavailable",
    "the policy decision point is unavailable",
    { "retry-after": "1" },
    `pdp error: ${e instanceof Error ? e.message : String(e)}`,
  );
}

/**
 * Runs the PDP and maps its answer to a verdict; deny reasons go to the log, never to the caller.
 * Synchronous when the PDP answered synchronously (an in-process policy or an L1 hit).
 */
export function enforce(
  pdp: Pdp,
  input: Record<string, unknown>,
  o: EnforceOptions,
  keyMemo?: DecisionKeyMemo,
): Verdict | Promise<Verdict> {
  let raw: unknown;
  try {
    raw = pdp.decide(input, o.context, keyMemo);
  } catch (e) {
    return unavailable(e);
  }
  if (raw instanceof Promise) return raw.then((r) => verdictFor(r, o), unavailable);
  return verdictFor(raw, o);
}

/**
 * Parsed decisions of cached (frozen, shared) decision documents: a hit does not re-validate the same
 * object. Only frozen objects are memoised, so a document nobody shares is never kept alive.
 */
const parsed = new WeakMap<object, Decision | null>();

function parseShared(raw: unknown): Decision | undefined {
  if (typeof raw !== "object" || raw === null || !Object.isFrozen(raw)) return parseDecision(raw);
  const known = parsed.get(raw);
  if (known !== undefined) return known ?? undefined;
  const d = parseDecision(raw);
  // Frozen too: every request answered by this entry reads the same Decision.
  parsed.set(raw, d === undefined ? null : deepFreezeDecision(d));
  return d;
}

function deepFreezeDecision(d: Decision): Decision {
  if (d.reasons) Object.freeze(d.reasons);
  if (d.headers) Object.freeze(d.headers);
  return Object.freeze(d);
}

/** One allow verdict per shared (frozen) decision: a cache hit allocates none. */
const allowVerdicts = new WeakMap<Decision, Verdict>();

function allowVerdict(d: Decision): Verdict {
  if (!Object.isFrozen(d)) return { kind: "allow", decision: d, headers: d.headers ?? {} };
  let v = allowVerdicts.get(d);
  if (v === undefined) {
    v = Object.freeze({ kind: "allow", decision: d, headers: d.headers ?? Object.freeze({}) });
    allowVerdicts.set(d, v);
  }
  return v;
}

function verdictFor(raw: unknown, o: EnforceOptions): Verdict {
  const d = parseShared(raw);
  if (d === undefined) {
    return jsonError(
      403,
      "access_denied",
      "access denied",
      {},
      "policy error: malformed or undefined decision",
    );
  }
  if (d.allow) return allowVerdict(d);
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
