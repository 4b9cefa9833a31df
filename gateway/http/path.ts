/**
 * The one normalisation of the request target. The policy decides on `path`/`query` and the upstream
 * receives `upstreamTarget`, which is the same canonical form re-encoded, so no parser difference between
 * the gateway and the upstream can make them see two different resources. Anything whose meaning depends
 * on who decodes it (encoded slash, backslash, NUL, `%25`, broken UTF-8) is refused rather than guessed.
 */
import { invalidRequest } from "./errors.js";

export interface PathOptions {
  /** Accept `http(s)://authority/path` (RFC 9112 §3.2.2). Off by default: clients of a reverse proxy send origin-form. */
  allowAbsoluteForm?: boolean;
  /** Longest raw request target, in characters. */
  maxTargetLength?: number;
  /** Most query parameters; more is a 400 rather than a truncation that would hide parameters from the policy. */
  maxQueryParams?: number;
}

export type QueryValue = string | string[];

export interface NormalizedTarget {
  /** Canonical path for the policy: unreserved and non-ASCII characters decoded, everything else `%XX` upper-case. */
  path: string;
  /** `path` with its non-ASCII characters UTF-8 percent-encoded: what goes on the wire to the upstream. */
  upstreamPath: string;
  /** Parsed query for the policy (null prototype: `__proto__` is just a parameter name). */
  query: Record<string, QueryValue>;
  /** The query as the client sent it, without `?`; undefined when the target had no `?`. */
  rawQuery: string | undefined;
  /** The query re-serialised from `query`'s pairs in their original order, so the upstream parses what the policy saw. */
  upstreamQuery: string | undefined;
  /** `upstreamPath` plus `?upstreamQuery`. */
  upstreamTarget: string;
  /** Lower-cased authority of an accepted absolute-form target; the caller must check it against its own host. */
  authority?: string;
}

const DEFAULTS = { maxTargetLength: 8192, maxQueryParams: 256 };

const HEX = /^[0-9A-Fa-f]{2}$/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** pchar minus pct-encoded (RFC 3986 §3.3): these may stay raw in the canonical path. */
const RAW_PATH_OK = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]$/;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes a percent-encoded component under the shared rules into units: a character (raw, or decoded
 * because it is safe) or a `%XX` escape that `keepEncoded` says must stay encoded. Raw input is limited to
 * visible ASCII by the caller; non-ASCII only ever arrives as UTF-8 escapes.
 */
function decodeComponent(
  input: string,
  where: "path" | "query",
  keepEncoded: (byte: number) => boolean,
): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c !== "%") {
      out.push(c);
      i++;
      continue;
    }
    // Gather a run of consecutive escapes so a multi-byte UTF-8 sequence is validated as a whole.
    const bytes: number[] = [];
    while (i < input.length && input[i] === "%") {
      const hex = input.slice(i + 1, i + 3);
      if (!HEX.test(hex)) throw invalidRequest(`invalid percent-encoding in ${where}`);
      const byte = parseInt(hex, 16);
      if (byte < 0x20 || byte === 0x7f) throw invalidRequest(`encoded control character in ${where}`);
      // In the path, rejecting %25 outright closes double encoding (`%252e`, `%252f`) for every upstream
      // decoder. A query value is decoded once into data (`?q=100%25` is common); the re-encoded upstream
      // query spells the literal `%` as `%25` again, so no decoder can take it for a second escape.
      if (byte === 0x25 && where === "path") throw invalidRequest(`encoded percent sign in ${where}`);
      bytes.push(byte);
      i += 3;
    }
    let j = 0;
    while (j < bytes.length) {
      if (bytes[j] < 0x80) {
        const ch = String.fromCharCode(bytes[j]);
        out.push(keepEncoded(bytes[j]) ? pct(bytes[j]) : ch);
        j++;
        continue;
      }
      let k = j;
      while (k < bytes.length && bytes[k] >= 0x80) k++;
      let text: string;
      try {
        // Fatal decoding refuses overlong forms (`%c0%ae` for "."), surrogates and truncated sequences.
        text = utf8.decode(Uint8Array.from(bytes.slice(j, k)));
      } catch {
        throw invalidRequest(`invalid UTF-8 in ${where}`);
      }
      for (const ch of text) {
        const cp = ch.codePointAt(0)!;
        if (cp >= 0x80 && cp <= 0x9f) throw invalidRequest(`encoded control character in ${where}`);
        out.push(ch);
      }
      j = k;
    }
  }
  return out;
}

function pct(byte: number): string {
  return "%" + byte.toString(16).toUpperCase().padStart(2, "0");
}

const NON_ASCII = /[^\p{ASCII}]/u;

function encodeNonAscii(s: string): string {
  if (!NON_ASCII.test(s)) return s;
  return s.replace(/[^\p{ASCII}]+/gu, (m) => encodeURIComponent(m));
}

/**
 * RFC 3986 §5.2.4 over segments, after `//` has been collapsed. Collapsing first is deliberate (it is what
 * nginx `merge_slashes` does): `/a//../b` is `/b`, and since the upstream only ever sees our output the
 * choice cannot be exploited. `..` at the root stays at the root.
 */
export function removeDotSegments(path: string): string {
  const segs = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const seg = segs[i];
    const last = i === segs.length - 1;
    if (seg === "." || seg === "..") {
      if (seg === "..") out.pop();
      if (last) out.push("");
    } else {
      out.push(seg);
    }
  }
  return "/" + out.join("/");
}

/**
 * True when `rawPath` is already canonical: only raw pchars (no `%`, so nothing to decode or re-encode), no
 * `//`, and no segment starting with `.` (so no dot-segment, with or without a `;` parameter). ASCII is
 * NFKC-stable. The full algorithm below would return such a path unchanged; this skips its allocations.
 */
function isPlainPath(rawPath: string): boolean {
  let prev = 0;
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i);
    if (c >= 0x80 || PLAIN_PATH_CHAR[c] !== 1) return false;
    if (prev === 0x2f && (c === 0x2f || c === 0x2e)) return false;
    prev = c;
  }
  return rawPath.charCodeAt(0) === 0x2f;
}

/** RAW_PATH_OK as a lookup table over ASCII. */
const PLAIN_PATH_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) if (RAW_PATH_OK.test(String.fromCharCode(c))) PLAIN_PATH_CHAR[c] = 1;

function canonicalPath(rawPath: string): string {
  if (!rawPath.startsWith("/")) throw invalidRequest("request target must start with /");
  if (isPlainPath(rawPath)) return rawPath;
  const units = decodeComponent(rawPath, "path", (byte) => {
    // An encoded slash or backslash would be a separator to some upstreams and a name byte to others.
    if (byte === 0x2f) throw invalidRequest("encoded slash in path");
    if (byte === 0x5c) throw invalidRequest("encoded backslash in path");
    return !UNRESERVED.test(String.fromCharCode(byte));
  });
  let canon = "";
  for (const u of units) {
    if (u.length > 1 || u.charCodeAt(0) >= 0x80 || RAW_PATH_OK.test(u)) {
      canon += u;
    } else {
      // Raw but not a legal pchar (`"`, `<`, `|`, `[`…): canonicalise to the escape a browser would send.
      canon += pct(u.charCodeAt(0));
    }
  }
  // A path that a Unicode-normalising upstream would rewrite (fullwidth `．．`, ligatures, decomposed
  // accents) could name another resource there than the one the policy saw.
  if (canon !== canon.normalize("NFKC")) throw invalidRequest("path is not in Unicode NFKC form");
  const path = removeDotSegments(canon.replace(/\/{2,}/g, "/"));
  for (const seg of path.split("/")) {
    // `..;x` is a dot-segment to Tomcat/Jetty (path parameters) but a name to RFC 3986: the classic
    // `/public/..;/admin` bypass.
    const name = seg.split(/;|%3B/)[0];
    if (name !== seg && (name === "." || name === ".."))
      throw invalidRequest("dot-segment with path parameter");
  }
  return path;
}

const QUERY_KEEP_RAW = /^[A-Za-z0-9\-._~]$/;

function encodeQueryPart(s: string): string {
  let out = "";
  for (const ch of s) out += QUERY_KEEP_RAW.test(ch) ? ch : encodeURIComponent(ch).toUpperCase();
  return out;
}

function parseQuery(
  rawQuery: string,
  maxParams: number,
): { query: Record<string, QueryValue>; upstreamQuery: string } {
  const query: Record<string, QueryValue> = Object.create(null) as Record<string, QueryValue>;
  const canon: string[] = [];
  let count = 0;
  for (const pair of rawQuery.split("&")) {
    if (pair === "") continue;
    if (++count > maxParams) throw invalidRequest("too many query parameters");
    const eq = pair.indexOf("=");
    const [rawKey, rawValue] = eq < 0 ? [pair, undefined] : [pair.slice(0, eq), pair.slice(eq + 1)];
    // Form semantics (`+` is a space) for the policy; the re-encoded upstream query spells it `%20`, so an
    // upstream without form semantics cannot read a different value.
    const decode = (s: string) => decodeComponent(s.replace(/\+/g, " "), "query", () => false).join("");
    const key = decode(rawKey);
    const value = rawValue === undefined ? "" : decode(rawValue);
    const prev = query[key];
    query[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
    canon.push(
      rawValue === undefined ? encodeQueryPart(key) : `${encodeQueryPart(key)}=${encodeQueryPart(value)}`,
    );
  }
  return { query, upstreamQuery: canon.join("&") };
}

const ABSOLUTE_FORM = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?]*)(.*)$/;
const NOT_VISIBLE_ASCII = /[^\x21-\x7e]/;

/**
 * Throws a HygieneError (400 `invalid_request`, 414 when too long) for every target that two reasonable
 * parsers could read differently; otherwise returns the canonical form for both policy and upstream.
 */
export function normalizePath(rawTarget: string, options: PathOptions = {}): NormalizedTarget {
  const maxTargetLength = options.maxTargetLength ?? DEFAULTS.maxTargetLength;
  const maxQueryParams = options.maxQueryParams ?? DEFAULTS.maxQueryParams;
  if (typeof rawTarget !== "string" || rawTarget === "") throw invalidRequest("empty request target");
  if (rawTarget.length > maxTargetLength) throw invalidRequest("request target too long", 414);
  // Node hands over raw bytes > 0x7f as latin1 characters: their intended encoding is unknowable.
  if (NOT_VISIBLE_ASCII.test(rawTarget))
    throw invalidRequest("raw control, space or non-ASCII byte in target");
  if (rawTarget.includes("\\")) throw invalidRequest("backslash in request target");
  if (rawTarget.includes("#")) throw invalidRequest("fragment in request target");

  let target = rawTarget;
  let authority: string | undefined;
  // Origin-form (the usual case) starts with `/`, which no scheme can.
  const absolute = target.charCodeAt(0) === 0x2f ? null : ABSOLUTE_FORM.exec(target);
  if (absolute) {
    if (!options.allowAbsoluteForm) throw invalidRequest("absolute-form request target not allowed");
    if (!/^https?$/i.test(absolute[1])) throw invalidRequest("unsupported scheme in request target");
    // Userinfo in an authority is a classic confusion vector (`http://trusted@evil/`) and never needed here.
    if (absolute[2] === "" || absolute[2].includes("@"))
      throw invalidRequest("invalid authority in request target");
    authority = absolute[2].toLowerCase();
    target = absolute[3] === "" ? "/" : absolute[3].startsWith("?") ? "/" + absolute[3] : absolute[3];
  } else if (target === "*") {
    throw invalidRequest("asterisk-form request target not allowed");
  } else if (!target.startsWith("/")) {
    throw invalidRequest("request target must start with /");
  }

  const q = target.indexOf("?");
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? undefined : target.slice(q + 1);
  const path = canonicalPath(rawPath);
  const upstreamPath = encodeNonAscii(path);
  const { query, upstreamQuery } =
    rawQuery === undefined
      ? { query: Object.create(null) as Record<string, QueryValue>, upstreamQuery: undefined }
      : parseQuery(rawQuery, maxQueryParams);
  const normalized: NormalizedTarget = {
    path,
    upstreamPath,
    query,
    rawQuery,
    upstreamQuery,
    upstreamTarget: upstreamQuery ? `${upstreamPath}?${upstreamQuery}` : upstreamPath,
  };
  if (authority !== undefined) normalized.authority = authority;
  return normalized;
}
