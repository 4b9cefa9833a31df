// Masking before an event leaves the process. Two layers, in this order:
// 1. defaults that cannot be turned off: credentials and secrets anywhere in `input` and `result` are
//    replaced by "[masked]" (recorded in `masked`), so a token never reaches a log by accident;
// 2. the configured rules, OPA's `data.system.log.mask` results as config: a JSON pointer (or
//    `{op: remove}`) erases the member (recorded in `erased`), `{op: upsert, value}` sets it (`masked`).
// Nothing is changed in place: members on the way to a change are copied, the rest is shared, because
// the input belongs to the request that was decided (and may still be in use).
import { formatPointer, parsePointer } from "./pointer.js";
import type { MaskRule } from "./types.js";

/** The value that replaces a secret (the gateway's own marker for masked headers, so logs read alike). */
export const MASKED = "[masked]";

/**
 * Member names (lower case, `-` as `_`) whose value is a credential whatever its type: HTTP credential
 * headers (as header maps or as plain members) and the usual names of secrets in JSON documents.
 */
export const SECRET_NAMES: ReadonlySet<string> = new Set([
  "authorization",
  "proxy_authorization",
  "cookie",
  "set_cookie",
  "x_api_key",
  "api_key",
  "apikey",
  "x_auth_token",
  "auth_token",
  "x_amz_security_token",
  "dpop",
  "txn_token",
  "workload_identity_token",
  "workload_proof_token",
  "x_csrf_token",
  "x_xsrf_token",
  "x_psk",
  "psk",
  "x_jwt_assertion",
  "password",
  "passwd",
  "passphrase",
  "secret",
  "client_secret",
  "private_key",
  "access_token",
  "refresh_token",
  "id_token",
  "session_token",
]);

/** Names that hold a credential when their value is a string (`input.token` itself is an object of facts). */
export const SECRET_STRING_NAMES: ReadonlySet<string> = new Set(["token", "jwt", "assertion", "bearer"]);

/** Members of an `attestation` object that are signed, replayable artefacts rather than appraised facts. */
export const ATTESTATION_SECRETS: ReadonlySet<string> = new Set([
  "evidence",
  "ear",
  "token",
  "raw",
  "passport",
  "jwt",
]);

/** Header-name prefixes of attestation evidence carried in headers (masked inside any `headers` map). */
const SECRET_HEADER_PREFIXES = ["attestation_", "x_attestation_"];

/** Deeper than this, values are left as they are (the PDP bounds input depth far below it). */
const MAX_DEPTH = 256;

/** `X-Api-Key` → `x_api_key`. */
function canonical(name: string): string {
  return name.toLowerCase().replace(/-/g, "_");
}

function isSecret(name: string, value: unknown, parent: string | undefined): boolean {
  if (SECRET_NAMES.has(name)) return true;
  if (SECRET_STRING_NAMES.has(name) && typeof value === "string") return true;
  if (parent === undefined) return false;
  // `token.raw`, `txn_token.raw`, `subject_token.raw`: the encoded token next to its decoded facts.
  if (name === "raw" && parent.endsWith("token")) return true;
  if (parent === "attestation" && ATTESTATION_SECRETS.has(name)) return true;
  return parent === "headers" && SECRET_HEADER_PREFIXES.some((p) => name.startsWith(p));
}

/** Authorization keeps its scheme (`Bearer [masked]`): which scheme was used is worth logging. */
function maskedString(name: string, s: string): string {
  if (name === "authorization" || name === "proxy_authorization") {
    const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) /.exec(s);
    if (m) return `${m[1]} ${MASKED}`;
  }
  return MASKED;
}

/** The masked form of a secret's value; header lists (`["Bearer x"]`) keep their shape. */
function maskedValue(name: string, v: unknown): unknown {
  if (typeof v === "string") return maskedString(name, v);
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) {
    return v.map((x: string) => maskedString(name, x));
  }
  return MASKED;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
  return a.every((x, i) => x === b[i]);
}

type Obj = Record<string, unknown>;

/** A shallow copy without a prototype: a `__proto__` member stays a member when it is set. */
function copyObject(o: Obj): Obj {
  return Object.assign(Object.create(null) as Obj, o);
}

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Default masking of `v` (at pointer `path`); returns `v` itself when nothing in it is a secret. */
function maskDefaults(
  v: unknown,
  path: (string | number)[],
  parent: string | undefined,
  masked: string[],
): unknown {
  if (path.length > MAX_DEPTH || typeof v !== "object" || v === null) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      // Elements of a list keep the list's name as their parent (`tokens: [{raw}]` is not special).
      const y = maskDefaults(v[i], path, parent, masked);
      path.pop();
      if (y !== v[i]) (out ??= v.slice())[i] = y;
    }
    return out ?? v;
  }
  const o = v as Obj;
  let out: Obj | undefined;
  for (const k of Object.keys(o)) {
    const x = o[k];
    const name = canonical(k);
    path.push(k);
    let y: unknown;
    if (isSecret(name, x, parent)) {
      y = maskedValue(name, x);
      // Already masked upstream (the gateway masks credential headers itself): nothing to record.
      if (sameValue(x, y)) y = x;
      else masked.push(formatPointer(path));
    } else {
      y = maskDefaults(x, path, name, masked);
    }
    path.pop();
    if (y !== x) (out ??= copyObject(o))[k] = y;
  }
  return out ?? o;
}

/** A configured rule, parsed once. */
export interface CompiledMask {
  op: "remove" | "upsert";
  path: string;
  tokens: string[];
  value?: unknown;
}

/** Parses rules; throws on a pointer that is malformed or outside `/input` and `/result`. */
export function compileMasks(rules: readonly MaskRule[]): CompiledMask[] {
  return rules.map((r) => {
    const tokens = parsePointer(r.path);
    if (!tokens || tokens.length === 0 || (tokens[0] !== "input" && tokens[0] !== "result")) {
      throw new Error(`mask pointer must start with /input or /result, got ${JSON.stringify(r.path)}`);
    }
    return r.op === "upsert"
      ? { op: "upsert", path: r.path, tokens, value: r.value }
      : { op: "remove", path: r.path, tokens };
  });
}

function arrayIndex(token: string, length: number, appendOk: boolean): number | undefined {
  if (!/^(?:0|[1-9]\d{0,9})$/.test(token)) return undefined;
  const i = Number(token);
  return i < length || (appendOk && i === length) ? i : undefined;
}

/** `v` without the member at `tokens[i..]`; `v` itself when there is no such member. */
function removeIn(v: unknown, tokens: readonly string[], i: number): unknown {
  const t = tokens[i]!;
  const last = i === tokens.length - 1;
  if (Array.isArray(v)) {
    const idx = arrayIndex(t, v.length, false);
    if (idx === undefined) return v;
    if (last) return [...v.slice(0, idx), ...v.slice(idx + 1)];
    const y = removeIn(v[idx], tokens, i + 1);
    if (y === v[idx]) return v;
    const out = v.slice();
    out[idx] = y;
    return out;
  }
  if (!isObject(v) || !Object.hasOwn(v, t)) return v;
  if (last) {
    const out = copyObject(v);
    delete out[t];
    return out;
  }
  const y = removeIn(v[t], tokens, i + 1);
  if (y === v[t]) return v;
  const out = copyObject(v);
  out[t] = y;
  return out;
}

const UNCHANGED = Symbol("unchanged");

/** `v` with `value` at `tokens[i..]` (missing objects on the way are created); UNCHANGED if impossible. */
function upsertIn(v: unknown, tokens: readonly string[], i: number, value: unknown): unknown {
  if (i === tokens.length) return value;
  const t = tokens[i]!;
  if (Array.isArray(v)) {
    const idx = arrayIndex(t, v.length, true);
    if (idx === undefined) return UNCHANGED;
    const y = upsertIn(v[idx], tokens, i + 1, value);
    if (y === UNCHANGED) return UNCHANGED;
    const out = v.slice();
    out[idx] = y;
    return out;
  }
  if (v !== undefined && !isObject(v)) return UNCHANGED;
  const o = v ?? (Object.create(null) as Obj);
  const y = upsertIn(Object.hasOwn(o, t) ? o[t] : undefined, tokens, i + 1, value);
  if (y === UNCHANGED) return UNCHANGED;
  const out = copyObject(o);
  out[t] = y;
  return out;
}

export interface MaskedParts {
  input?: unknown;
  result?: unknown;
  erased: string[];
  masked: string[];
}

/** Masks an event's `input` and `result`: defaults first, then `rules` in order. */
export function maskParts(input: unknown, result: unknown, rules: readonly CompiledMask[]): MaskedParts {
  const masked: string[] = [];
  const erased: string[] = [];
  const doc: Obj = Object.create(null) as Obj;
  if (input !== undefined) doc.input = maskDefaults(input, ["input"], undefined, masked);
  if (result !== undefined) doc.result = maskDefaults(result, ["result"], undefined, masked);
  let root: Obj = doc;
  for (const r of rules) {
    if (r.op === "remove") {
      const y = removeIn(root, r.tokens, 0);
      if (y !== root) {
        root = y as Obj;
        erased.push(r.path);
        // What is gone was not masked: only pointers to members still in the event stay listed.
        for (let i = masked.length - 1; i >= 0; i--) {
          if (masked[i] === r.path || masked[i]!.startsWith(r.path + "/")) masked.splice(i, 1);
        }
      }
    } else {
      const y = upsertIn(root, r.tokens, 0, r.value);
      if (y !== UNCHANGED) {
        root = y as Obj;
        if (!masked.includes(r.path)) masked.push(r.path);
      }
    }
  }
  return { input: root.input, result: root.result, erased, masked };
}
