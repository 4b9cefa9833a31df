// The decision cache key: SHA-256 of the policy revision, the entrypoint and the JSON text of the input
// minus per-request noise. Everything else in the input is in the key, so two requests share an entry
// only when the policy would see the same document (subject, token claims, peer, path, headers, …): a
// cached answer is the answer the policy would give again, until a TTL bound (ttl.ts) ends it.
//
// JSON.stringify, not a sorted-key writer: it is native and several times faster, and the policy reads
// the input with the same JSON semantics (regoPdp), so equal text means an equal document. Member order
// is part of the text, so the same document built in another order is only a miss, never a wrong hit;
// the gateway builds its input in one fixed order.
import { hash } from "node:crypto";

/**
 * Request and trace identifiers: unique per request, so keeping their values would make every request a
 * miss. Their presence stays in the key (a policy may require a trace context); their values do not, so a
 * policy must not decide on them (or must return `cache_ttl_s: 0`).
 */
export const NOISE_HEADERS: ReadonlySet<string> = new Set([
  "x-request-id",
  "x-correlation-id",
  "request-id",
  "traceparent",
  "tracestate",
  "b3",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
  "x-amzn-trace-id",
  "x-cloud-trace-context",
  "uber-trace-id",
]);

export interface KeyParts {
  /** Policy and data revision: a new revision changes every key. */
  revision: string;
  entrypoint: string;
  input: unknown;
  /** Epoch seconds the attestation result was issued; required to cache an input with `age_seconds`. */
  attestationIssuedAt?: number;
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isNoise(name: string): boolean {
  return NOISE_HEADERS.has(name) || NOISE_HEADERS.has(name.toLowerCase());
}

/** `headers` with every noise value blanked; the same object when there is none (the usual case). */
function quietHeaders(headers: Obj): Obj {
  let out: Obj | undefined;
  for (const name of Object.keys(headers)) {
    if (!isNoise(name) || headers[name] === undefined) continue;
    out ??= { ...headers };
    out[name] = "";
  }
  return out ?? headers;
}

/**
 * The input as the key sees it: `request.time_ns` dropped, noise header values blanked, a numeric
 * `attestation.age_seconds` dropped (the issue time in the key prefix names the result instead). Copies
 * only the objects it changes; the caller's input is never modified.
 */
function quietInput(input: Obj): Obj {
  let request = input.request;
  if (isObject(request)) {
    const headers = isObject(request.headers) ? quietHeaders(request.headers) : request.headers;
    if (request.time_ns !== undefined || headers !== request.headers) {
      request = { ...request, time_ns: undefined, headers };
    }
  }
  let attestation = input.attestation;
  if (isObject(attestation) && typeof attestation.age_seconds === "number") {
    attestation = { ...attestation, age_seconds: undefined };
  }
  if (request === input.request && attestation === input.attestation) return input;
  return { ...input, request, attestation };
}

/** The text the key hashes, or undefined when the input cannot be keyed (evaluate without the cache). */
export function keyText(p: KeyParts): string | undefined {
  if (!isObject(p.input)) return undefined;
  // The age grows every second; the issue time names the same result for as long as it is valid. The
  // policy bounds `cache_ttl_s` by the age limit it enforces (the shipped one does), and the attestation
  // expiry bounds the TTL (ttl.ts). Without an issue time an aged result is not cached at all.
  const att = p.input.attestation;
  const aged = isObject(att) && typeof att.age_seconds === "number";
  if (aged && !Number.isFinite(p.attestationIssuedAt)) return undefined;
  let json: string | undefined;
  try {
    json = JSON.stringify(quietInput(p.input));
  } catch {
    return undefined; // a bigint or a cycle: not JSON, and regoPdp refuses it too
  }
  if (json === undefined) return undefined;
  // Length prefixes keep the parts apart whatever characters they contain; `a1:`/`a0` records whether an
  // age was dropped, so an input with an age never shares a key with one without.
  const attPart = aged ? `a1:${p.attestationIssuedAt}` : "a0";
  return `${p.revision.length}:${p.revision}|${p.entrypoint.length}:${p.entrypoint}|${attPart}|${json}`;
}

/** `pd1:` + base64url SHA-256 of keyText (bounded length whatever the input's size); undefined = uncacheable. */
export function decisionKey(p: KeyParts): string | undefined {
  const text = keyText(p);
  return text === undefined ? undefined : `pd1:${hash("sha256", text, "base64url")}`;
}
