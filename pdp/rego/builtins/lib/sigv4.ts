// AWS Signature Version 4 as OPA's internal/providers/aws SignV4 computes it,
// plus the slice of Go's net/url parsing it depends on (Host, EscapedPath,
// RawQuery). OPA signs exactly what it is given: the method is not
// upper-cased and an empty path stays empty, so this does not "fix" either,
// or signatures would stop matching OPA's.
import { createHash, createHmac } from "node:crypto";
import { civilFromDays } from "./gotime.js";
import { quote } from "./gofmt.js";

export class URLError extends Error {}

/** The parts of Go's url.URL the signer reads. Strings hold UTF-8 text. */
export interface GoURL {
  scheme: string;
  host: string;
  path: string;
  rawPath: string;
  rawQuery: string;
  opaque: string;
}

// Go's url package works on bytes; these helpers keep a "byte string" (one
// char per byte, latin1) so indexes and escapes are byte-exact.
const toBytes = (s: string): string => Buffer.from(s, "utf8").toString("latin1");
const fromBytes = (b: string): string => Buffer.from(b, "latin1").toString("utf8");

type Mode = "path" | "host" | "zone" | "userPassword" | "fragment";

const isHex = (c: string): boolean => /^[0-9a-fA-F]$/.test(c);
const isAlnum = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);

function shouldEscape(c: number, mode: Mode): boolean {
  if (isAlnum(c)) return false;
  const ch = String.fromCharCode(c);
  if ((mode === "host" || mode === "zone") && "!$&'()*+,;=:[]<>\"".includes(ch)) return false;
  if ("-_.~".includes(ch)) return false;
  if ("$&+,/:;=?@".includes(ch)) {
    switch (mode) {
      case "userPassword":
        return ch === "@" || ch === "/" || ch === "?" || ch === ":";
      case "path":
        return ch === "?";
      case "fragment":
        return false;
      default:
        return true;
    }
  }
  if (mode === "fragment" && "!()*".includes(ch)) return false;
  return true;
}

function unescape(s: string, mode: Mode): string {
  for (let i = 0; i < s.length;) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      if (i + 2 >= s.length || !isHex(s[i + 1]!) || !isHex(s[i + 2]!)) {
        throw new URLError(`invalid URL escape ${quote(fromBytes(s.slice(i, i + 3)))}`);
      }
      // RFC 3986 only allows %-escapes of non-ASCII bytes in hosts (and %25 for zones).
      if (mode === "host" && parseInt(s[i + 1]!, 16) < 8 && s.slice(i, i + 3) !== "%25") {
        throw new URLError(`invalid URL escape ${quote(s.slice(i, i + 3))}`);
      }
      i += 3;
    } else {
      if ((mode === "host" || mode === "zone") && c < 0x80 && shouldEscape(c, mode)) {
        throw new URLError(`invalid character ${quote(s[i]!)} in host name`);
      }
      i++;
    }
  }
  return s.replace(/%([0-9a-fA-F]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}

function escape(s: string, mode: Mode): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += shouldEscape(c, mode) ? "%" + c.toString(16).toUpperCase().padStart(2, "0") : s[i];
  }
  return out;
}

function validEncoded(s: string, mode: Mode): boolean {
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if ("!$&'()*+,;=:@[]%".includes(ch)) continue;
    if (shouldEscape(s.charCodeAt(i), mode)) return false;
  }
  return true;
}

function getScheme(raw: string): [string, string] {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) continue;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) {
      if (i === 0) return ["", raw];
      continue;
    }
    if (c === 0x3a) {
      if (i === 0) throw new URLError("missing protocol scheme");
      return [raw.slice(0, i), raw.slice(i + 1)];
    }
    return ["", raw];
  }
  return ["", raw];
}

function validOptionalPort(port: string): boolean {
  if (port === "") return true;
  if (port[0] !== ":") return false;
  return /^[0-9]*$/.test(port.slice(1));
}

function parseHost(host: string): string {
  if (host.startsWith("[")) {
    const i = host.lastIndexOf("]");
    if (i < 0) throw new URLError("missing ']' in host");
    const colonPort = host.slice(i + 1);
    if (!validOptionalPort(colonPort))
      throw new URLError(`invalid port ${quote(fromBytes(colonPort))} after host`);
    const zone = host.slice(0, i).indexOf("%25");
    if (zone >= 0) {
      return (
        unescape(host.slice(0, zone), "host") +
        unescape(host.slice(zone, i), "zone") +
        unescape(host.slice(i), "host")
      );
    }
  } else {
    const i = host.lastIndexOf(":");
    if (i !== -1) {
      const colonPort = host.slice(i);
      if (!validOptionalPort(colonPort))
        throw new URLError(`invalid port ${quote(fromBytes(colonPort))} after host`);
    }
  }
  return unescape(host, "host");
}

const USERINFO_OK = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

function parseAuthority(authority: string): string {
  const i = authority.lastIndexOf("@");
  const host = parseHost(i < 0 ? authority : authority.slice(i + 1));
  if (i >= 0) {
    const userinfo = authority.slice(0, i);
    if (!USERINFO_OK.test(userinfo)) throw new URLError("net/url: invalid userinfo");
    const colon = userinfo.indexOf(":");
    if (colon < 0) unescape(userinfo, "userPassword");
    else {
      unescape(userinfo.slice(0, colon), "userPassword");
      unescape(userinfo.slice(colon + 1), "userPassword");
    }
  }
  return host;
}

function parseNoFragment(raw: string): GoURL {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(raw)) throw new URLError("net/url: invalid control character in URL");
  const u: GoURL = { scheme: "", host: "", path: "", rawPath: "", rawQuery: "", opaque: "" };
  if (raw === "") return u;
  if (raw === "*") {
    u.path = "*";
    return u;
  }
  let rest: string;
  [u.scheme, rest] = getScheme(raw);
  u.scheme = u.scheme.toLowerCase();
  if (rest.endsWith("?") && rest.indexOf("?") === rest.length - 1) {
    rest = rest.slice(0, -1);
  } else {
    const q = rest.indexOf("?");
    if (q >= 0) {
      u.rawQuery = rest.slice(q + 1);
      rest = rest.slice(0, q);
    }
  }
  if (!rest.startsWith("/")) {
    if (u.scheme !== "") {
      u.opaque = rest;
      return u;
    }
    const slash = rest.indexOf("/");
    if ((slash < 0 ? rest : rest.slice(0, slash)).includes(":")) {
      throw new URLError("first path segment in URL cannot contain colon");
    }
  }
  if ((u.scheme !== "" || !rest.startsWith("///")) && rest.startsWith("//")) {
    let authority = rest.slice(2);
    rest = "";
    const i = authority.indexOf("/");
    if (i >= 0) {
      rest = authority.slice(i);
      authority = authority.slice(0, i);
    }
    u.host = parseAuthority(authority);
  }
  u.path = unescape(rest, "path");
  u.rawPath = escape(u.path, "path") === rest ? "" : rest;
  return u;
}

/**
 * Go's url.Parse. Throws URLError with Go's message, already wrapped as
 * url.Error does: `parse "<url>": <reason>`.
 */
export function parseGoURL(rawURL: string): GoURL {
  const raw = toBytes(rawURL);
  const hash = raw.indexOf("#");
  const u = hash < 0 ? raw : raw.slice(0, hash);
  let parsed: GoURL;
  try {
    parsed = parseNoFragment(u);
  } catch (e) {
    if (e instanceof URLError) throw new URLError(`parse ${quote(fromBytes(u))}: ${e.message}`);
    throw e;
  }
  if (hash >= 0) {
    try {
      unescape(raw.slice(hash + 1), "fragment");
    } catch (e) {
      if (e instanceof URLError) throw new URLError(`parse ${quote(rawURL)}: ${e.message}`);
      throw e;
    }
  }
  return {
    scheme: fromBytes(parsed.scheme),
    host: fromBytes(parsed.host),
    path: parsed.path, // kept as bytes: only escapedPath reads it
    rawPath: parsed.rawPath,
    rawQuery: fromBytes(parsed.rawQuery),
    opaque: fromBytes(parsed.opaque),
  };
}

/** url.URL.EscapedPath */
export function escapedPath(u: GoURL): string {
  if (u.rawPath !== "" && validEncoded(u.rawPath, "path")) {
    try {
      if (unescape(u.rawPath, "path") === u.path) return u.rawPath;
    } catch {
      // fall through to re-escaping, as Go does
    }
  }
  if (u.path === "*") return "*";
  return escape(u.path, "path");
}

// ---- signing ----

// Headers a proxy may rewrite in transit; signing them would break the signature.
const IGNORED_HEADERS = new Set(["authorization", "user-agent", "x-amzn-trace-id"]);

export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

export interface Credentials {
  accessKey: string;
  secretKey: string;
  region: string;
  sessionToken: string;
}

const sha256Hex = (data: Buffer | string): string => createHash("sha256").update(data).digest("hex");
const hmac = (key: Buffer | string, msg: string): Buffer =>
  createHmac("sha256", key).update(msg, "utf8").digest();

const pad = (n: number, w: number): string => String(n).padStart(w, "0");

/** time.Unix(0, ns).UTC() as "20060102" and "20060102T150405Z". */
export function amzDates(ns: bigint): { date: string; stamp: string } {
  let sec = ns / 1_000_000_000n;
  if (ns % 1_000_000_000n < 0n) sec -= 1n; // floor toward the past, as Go normalises
  let days = sec / 86400n;
  let rem = sec % 86400n;
  if (rem < 0n) {
    rem += 86400n;
    days -= 1n;
  }
  const { year, month, day } = civilFromDays(Number(days));
  const r = Number(rem);
  const date = (year < 0 ? "-" + pad(-year, 4) : pad(year, 4)) + pad(month, 2) + pad(day, 2);
  const stamp = `${date}T${pad(Math.floor(r / 3600), 2)}${pad(Math.floor(r / 60) % 60, 2)}${pad(r % 60, 2)}Z`;
  return { date, stamp };
}

/**
 * OPA's aws.SignV4. `headers` are the request's headers in the order they
 * are applied (a later duplicate wins, as the last Go map write would).
 * Returns the Authorization header and the headers the signer adds.
 */
export function signV4(
  headers: [string, string][],
  method: string,
  url: GoURL,
  body: Buffer,
  service: string,
  creds: Credentials,
  timeNs: bigint,
  disablePayloadSigning: boolean,
): { authorization: string; awsHeaders: [string, string][] } {
  const contentSha256 = disablePayloadSigning ? UNSIGNED_PAYLOAD : sha256Hex(body);
  const { date, stamp } = amzDates(timeNs);

  const awsHeaders = new Map<string, string>([
    ["host", url.host],
    ["x-amz-date", stamp],
  ]);
  // Only S3 and Glacier require the payload hash header.
  if (service === "s3" || service === "glacier") awsHeaders.set("x-amz-content-sha256", contentSha256);
  if (creds.sessionToken !== "") awsHeaders.set("x-amz-security-token", creds.sessionToken);

  const toSign = new Map<string, string>(awsHeaders);
  for (const [k, v] of headers) {
    const lower = k.toLowerCase();
    if (!IGNORED_HEADERS.has(lower)) toSign.set(lower, v);
  }
  // Go's sort.Strings orders by bytes; for UTF-8 that is code point order.
  const keys = [...toSign.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

  let canonical = method + "\n" + escapedPath(url) + "\n" + url.rawQuery + "\n";
  for (const k of keys) canonical += k + ":" + toSign.get(k)! + "\n";
  canonical += "\n";
  const headerList = keys.join(";");
  canonical += headerList + "\n" + contentSha256;

  const scope = `${date}/${creds.region}/${service}/aws4_request`;
  const strToSign = `AWS4-HMAC-SHA256\n${stamp}\n${scope}\n${sha256Hex(Buffer.from(canonical, "utf8"))}`;

  let key = hmac(Buffer.from("AWS4" + creds.secretKey, "utf8"), date);
  key = hmac(key, creds.region);
  key = hmac(key, service);
  key = hmac(key, "aws4_request");
  const signature = hmac(key, strToSign).toString("hex");

  const authorization =
    `AWS4-HMAC-SHA256 Credential=${creds.accessKey}/${scope},` +
    `SignedHeaders=${headerList},Signature=${signature}`;
  return { authorization, awsHeaders: [...awsHeaders.entries()] };
}
