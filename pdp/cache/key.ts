// The decision cache key: SHA-256 of the policy revision, the entrypoint, the decision's subjects and the
// input minus per-request noise — either the whole input's JSON text, or, when the policy's engine says
// which input paths the entrypoint can read (CompiledPolicy.inputPaths, pdp/rego/input_paths.ts), only
// the values at those paths. Two requests share an entry only when the policy would read the same values
// (subject, token scopes, path, …): a cached answer is the answer the policy would give again, until a TTL
// bound (ttl.ts) ends it. Unread members — a fresh token's `jti`, `iat`, `exp` — stay out of a projected
// key, so every token of the same agent shares one entry.
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

/** Input paths as CompiledPolicy.inputPaths gives them: sorted, none below another. */
export type InputPathList = readonly (readonly string[])[];

export interface KeyParts {
  /** Policy and data revision: a new revision changes every key. */
  revision: string;
  entrypoint: string;
  input: unknown;
  /** Epoch seconds the attestation result was issued; required to cache an input with `age_seconds`. */
  attestationIssuedAt?: number;
  /**
   * The input paths the entrypoint can read (CompiledPolicy.inputPaths): only their values are keyed.
   * Undefined: the whole input (a remote PDP, another engine, an analysis that could not tell).
   */
  inputPaths?: InputPathList;
  /**
   * Whom the decision is for (DecisionBounds.subjects). In the key, so an entry is only ever shared by
   * requests of the same subjects and revoking a subject (deleteSubject) drops every entry it could hit.
   */
  subjects?: readonly string[];
}

type Obj = Record<string, unknown>;

const hasOwn = Object.prototype.hasOwnProperty;

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

/** `request` without `time_ns` and with its noise headers blanked; the same object when nothing changes. */
function quietRequest(request: Obj): Obj {
  const headers = isObject(request.headers) ? quietHeaders(request.headers) : request.headers;
  if (request.time_ns === undefined && headers === request.headers) return request;
  return { ...request, time_ns: undefined, headers };
}

/** `attestation` without a numeric `age_seconds` (the issue time in the key names the result instead). */
function quietAttestation(attestation: Obj): Obj {
  return typeof attestation.age_seconds === "number"
    ? { ...attestation, age_seconds: undefined }
    : attestation;
}

/**
 * The input as the key sees it: `request.time_ns` dropped, noise header values blanked, a numeric
 * `attestation.age_seconds` dropped (the issue time in the key prefix names the result instead). Copies
 * only the objects it changes; the caller's input is never modified.
 */
function quietInput(input: Obj): Obj {
  const request = isObject(input.request) ? quietRequest(input.request) : input.request;
  const attestation = isObject(input.attestation) ? quietAttestation(input.attestation) : input.attestation;
  if (request === input.request && attestation === input.attestation) return input;
  return { ...input, request, attestation };
}

// ---------------------------------------------------------------- projection

/** How the noise rules apply to one read path (decided once per path list). */
const Noise = {
  /** A path no noise rule touches: the value as the engine sees it. */
  None: 0,
  /** Always absent from the key: `request.time_ns` and below, below a noise header's (blanked) value. */
  Dropped: 1,
  /** `request.headers.<noise name>`: `""` when present, else absent. */
  Blanked: 2,
  /** `attestation.age_seconds`: absent when a number, else the value. */
  Age: 3,
  /** `request`, `request.headers`, `attestation`: the value with the noise inside it quieted. */
  QuietRequest: 4,
  QuietHeaders: 5,
  QuietAttestation: 6,
} as const;
type Noise = (typeof Noise)[keyof typeof Noise];

function noiseOf(p: readonly string[]): Noise {
  if (p[0] === "request") {
    if (p.length === 1) return Noise.QuietRequest;
    if (p[1] === "time_ns") return Noise.Dropped;
    if (p[1] === "headers") {
      if (p.length === 2) return Noise.QuietHeaders;
      if (isNoise(p[2]!)) return p.length === 3 ? Noise.Blanked : Noise.Dropped;
    }
  } else if (p[0] === "attestation") {
    if (p.length === 1) return Noise.QuietAttestation;
    // Below a numeric age there is nothing; below a non-numeric one the values are kept, as in quietInput.
    if (p[1] === "age_seconds" && p.length === 2) return Noise.Age;
  }
  return Noise.None;
}

/** One member name on the way to the read paths; the paths sharing a prefix share its steps. */
interface Step {
  readonly seg: string;
  /** `"<i>":` when a read path ends here (i = its index in the list), else undefined. */
  readonly head: string | undefined;
  readonly noise: Noise;
  readonly children: Step[];
}

interface Projection {
  /** `p:<n>:<digest of the path list>:` — never equal to a whole-input key or one for other paths. */
  readonly tag: string;
  /** The paths as a trie, children in path order: each object on the way is looked at once. */
  readonly steps: readonly Step[];
}

const projections = new WeakMap<InputPathList, Projection>();

function projectionOf(paths: InputPathList): Projection {
  let p = projections.get(paths);
  if (p === undefined) {
    const steps: Step[] = [];
    paths.forEach((path, i) => {
      let level = steps;
      path.forEach((seg, j) => {
        const last = j === path.length - 1;
        let step = level.find((s) => s.seg === seg && s.head === undefined);
        if (step === undefined || last) {
          step = {
            seg,
            head: last ? `"${i}":` : undefined,
            noise: last ? noiseOf(path) : Noise.None,
            children: [],
          };
          level.push(step);
        }
        level = step.children;
      });
    });
    const digest = hash("sha256", JSON.stringify(paths), "base64url").slice(0, 22);
    p = { tag: `p:${paths.length}:${digest}:`, steps };
    projections.set(paths, p);
  }
  return p;
}

/** Thrown inside the projection when the input is not JSON the key can write; the key is then undefined. */
class Unkeyable extends Error {}

/**
 * An object as the engine is given it (regoPdp's jsonValue): a plain object as it is, a class instance or
 * an object with `toJSON` through JSON.
 */
function jsonView(v: Obj): unknown {
  const proto = Object.getPrototypeOf(v) as unknown;
  if ((proto === Object.prototype || proto === null) && typeof v.toJSON !== "function") return v;
  const text = JSON.stringify(v);
  if (text === undefined) throw new Unkeyable();
  return JSON.parse(text) as unknown;
}

/** The JSON text of a read value, or undefined when it is absent. */
function valueText(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
      return JSON.stringify(v);
    case "number":
      // String(-0) is "0" as in JSON; non-finite numbers are null to JSON and to the engine.
      return Number.isFinite(v) ? String(v) : "null";
    case "boolean":
      return v ? "true" : "false";
    case "object": {
      if (v === null) return "null";
      const text = JSON.stringify(v);
      // An object JSON cannot write (a `toJSON` giving undefined) would make the engine fail.
      if (text === undefined) throw new Unkeyable();
      return text;
    }
    case "bigint":
      throw new Unkeyable();
    default:
      return undefined;
  }
}

function leafText(v: unknown, noise: Noise): string | undefined {
  switch (noise) {
    case Noise.None:
      return valueText(v);
    case Noise.Blanked:
      return '""';
    case Noise.Age:
      return typeof v === "number" ? undefined : valueText(v);
    case Noise.QuietRequest:
      return valueText(isObject(v) ? quietRequest(v) : v);
    case Noise.QuietHeaders:
      return valueText(isObject(v) ? quietHeaders(v) : v);
    case Noise.QuietAttestation:
      return valueText(isObject(v) ? quietAttestation(v) : v);
    default:
      return undefined;
  }
}

/**
 * Appends `"<i>":<JSON>` for every read path below `node` that holds a value. Members are read as the
 * engine reads them: own members of objects only (a string never indexes an array or a scalar), those JSON
 * leaves out (undefined, functions, symbols) absent — and an absent path has no member at all, so it
 * differs from `null`.
 */
function project(node: unknown, steps: readonly Step[], out: string): string {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return out;
  const o = jsonView(node as Obj);
  if (!isObject(o)) return out;
  for (let i = 0; i < steps.length; i++) {
    const st = steps[i]!;
    if (st.noise === Noise.Dropped || !hasOwn.call(o, st.seg)) continue;
    const v = o[st.seg];
    if (v === undefined || typeof v === "function" || typeof v === "symbol") continue;
    if (st.head === undefined) {
      out = project(v, st.children, out);
      continue;
    }
    const text = leafText(v, st.noise);
    if (text !== undefined) out += out.length === 1 ? st.head + text : "," + st.head + text;
  }
  return out;
}

/** subjectsText of frozen lists: a caller reusing one frozen list per identity writes it once. */
const frozenSubjectsText = new WeakMap<readonly string[], string>();

/** `s<n>` and each subject length-prefixed, in sorted order (the bounds list them in any order). */
function subjectsText(subjects: readonly string[] | undefined): string {
  if (subjects === undefined || subjects.length === 0) return "s0";
  if (!Object.isFrozen(subjects)) return writeSubjects(subjects);
  let text = frozenSubjectsText.get(subjects);
  if (text === undefined) frozenSubjectsText.set(subjects, (text = writeSubjects(subjects)));
  return text;
}

function writeSubjects(subjects: readonly string[]): string {
  let list = subjects;
  for (let i = 1; i < list.length; i++) {
    if (list[i - 1]! > list[i]!) {
      list = [...subjects].sort();
      break;
    }
  }
  let out = `s${list.length}`;
  for (const s of list) out += `:${s.length}:${s}`;
  return out;
}

/** The text the key hashes, or undefined when the input cannot be keyed (evaluate without the cache). */
export function keyText(p: KeyParts): string | undefined {
  const input = p.input;
  if (!isObject(input)) return undefined;
  // The age grows every second; the issue time names the same result for as long as it is valid. The
  // policy bounds `cache_ttl_s` by the age limit it enforces (the shipped one does), and the attestation
  // expiry bounds the TTL (ttl.ts). Without an issue time an aged result is not cached at all.
  const att = input.attestation;
  const aged = isObject(att) && typeof att.age_seconds === "number";
  if (aged && !Number.isFinite(p.attestationIssuedAt)) return undefined;
  let body: string;
  try {
    if (p.inputPaths !== undefined) {
      const pr = projectionOf(p.inputPaths);
      // A root the engine reads through JSON (a class instance, `toJSON`) is walked as that JSON.
      if (!isObject(jsonView(input))) return undefined;
      body = pr.tag + project(input, pr.steps, "{") + "}";
    } else {
      const json = JSON.stringify(quietInput(input));
      if (json === undefined) return undefined;
      body = "f:" + json;
    }
  } catch {
    return undefined; // a bigint or a cycle: not JSON, and regoPdp refuses it too
  }
  // Length prefixes keep the parts apart whatever characters they contain; `a1:`/`a0` records whether an
  // age was dropped, so an input with an age never shares a key with one without; `p:`/`f:` keeps a
  // projected key apart from a whole-input one.
  const attPart = aged ? `a1:${p.attestationIssuedAt}` : "a0";
  return `${p.revision.length}:${p.revision}|${p.entrypoint.length}:${p.entrypoint}|${attPart}|${subjectsText(p.subjects)}|${body}`;
}

/**
 * Digests of recent key texts: repeated decisions (the hits the cache is for) have the same text, and a
 * map lookup costs far less than SHA-256 through node:crypto. Bounded in count and text length (a
 * whole-input key can be long), emptied when full.
 */
const digests = new Map<string, string>();
const MAX_DIGESTS = 4096;
const MAX_MEMO_TEXT = 2048;

/** `pd1:` + base64url SHA-256 of keyText (bounded length whatever the input's size); undefined = uncacheable. */
export function decisionKey(p: KeyParts): string | undefined {
  const text = keyText(p);
  if (text === undefined) return undefined;
  if (text.length > MAX_MEMO_TEXT) return `pd1:${hash("sha256", text, "base64url")}`;
  let key = digests.get(text);
  if (key === undefined) {
    key = `pd1:${hash("sha256", text, "base64url")}`;
    if (digests.size >= MAX_DIGESTS) digests.clear();
    digests.set(text, key);
  }
  return key;
}
