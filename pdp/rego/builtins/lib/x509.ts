// X.509 for OPA's crypto builtins, reproducing what OPA returns: Go's
// crypto/x509 structs serialised by encoding/json (field names, nil slices as
// null, []byte as base64, big.Int as exact numbers, times as RFC 3339). The DER
// parser follows Go's crypto/x509 parser.go (cryptobyte rules: minimal
// lengths and integers) and its error messages; chain verification follows
// x509.Certificate.Verify (signatures via node:crypto). Also here: Go's
// encoding/pem Decode and encoding/base64 StdEncoding decoding, whose edge
// cases and error offsets OPA's messages expose.
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from "node:crypto";

export class X509Error extends Error {}

// ---- encoding/base64 (StdEncoding / URLEncoding, padded, not strict) ----

const STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const decodeMaps = new Map<string, Int16Array>();
function decodeMap(alphabet: string): Int16Array {
  let m = decodeMaps.get(alphabet);
  if (!m) {
    m = new Int16Array(256).fill(-1);
    for (let i = 0; i < 64; i++) m[alphabet.charCodeAt(i)] = i;
    decodeMaps.set(alphabet, m);
  }
  return m;
}

export class Base64Error extends Error {
  constructor(readonly offset: number) {
    super(`illegal base64 data at input byte ${offset}`);
  }
}

/** Go's (*Encoding).Decode with padding: ignores \r and \n, reports the first bad offset. */
export function goBase64Decode(input: string | Uint8Array, url = false): Buffer {
  const src = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  const map = decodeMap(url ? URL : STD);
  const out: number[] = [];
  let si = 0;
  for (;;) {
    const dbuf = [0, 0, 0, 0];
    let dlen = 4;
    let trailing = -1;
    let j = 0;
    for (; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return Buffer.from(out);
        throw new Base64Error(si - j);
      }
      const c = src[si++]!;
      const v = map[c]!;
      if (v >= 0) {
        dbuf[j] = v;
        continue;
      }
      if (c === 0x0a || c === 0x0d) {
        j--;
        continue;
      }
      if (c !== 0x3d) throw new Base64Error(si - 1);
      if (j < 2) throw new Base64Error(si - 1);
      if (j === 2) {
        while (si < src.length && (src[si] === 0x0a || src[si] === 0x0d)) si++;
        if (si === src.length) throw new Base64Error(src.length);
        if (src[si] !== 0x3d) throw new Base64Error(si - 1);
        si++;
      }
      while (si < src.length && (src[si] === 0x0a || src[si] === 0x0d)) si++;
      if (si < src.length) trailing = si;
      dlen = j;
      break;
    }
    const val = (dbuf[0]! << 18) | (dbuf[1]! << 12) | (dbuf[2]! << 6) | dbuf[3]!;
    const bytes = [(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff];
    out.push(...bytes.slice(0, dlen - 1));
    if (trailing >= 0) throw new Base64Error(trailing);
    if (dlen < 4) return Buffer.from(out);
  }
}

// ---- encoding/pem ----

export interface PemBlock {
  type: string;
  headers: Record<string, string>;
  bytes: Buffer;
}

function getLine(data: string): [string, string] {
  let i = data.indexOf("\n");
  let j: number;
  if (i < 0) {
    i = data.length;
    j = i;
  } else {
    j = i + 1;
    if (i > 0 && data[i - 1] === "\r") i--;
  }
  return [data.slice(0, i).replace(/[ \t]+$/, ""), data.slice(j)];
}

/** Go's pem.Decode over a binary (latin1) string: the first block and the rest. */
export function pemDecode(data: string): { block: PemBlock | null; rest: string } {
  let rest = data;
  for (;;) {
    if (rest.startsWith("-----BEGIN ")) rest = rest.slice("-----BEGIN ".length);
    else {
      const i = rest.indexOf("\n-----BEGIN ");
      if (i < 0) return { block: null, rest: data };
      rest = rest.slice(i + "\n-----BEGIN ".length);
    }
    let typeLine: string;
    [typeLine, rest] = getLine(rest);
    if (!typeLine.endsWith("-----")) continue;
    typeLine = typeLine.slice(0, -5);
    const headers: Record<string, string> = {};
    let ok = true;
    for (;;) {
      if (rest.length === 0) {
        ok = false;
        break;
      }
      const [line, next] = getLine(rest);
      const colon = line.indexOf(":");
      if (colon < 0) break;
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
      rest = next;
    }
    if (!ok) return { block: null, rest: data };
    let endIndex: number;
    let endTrailerIndex: number;
    if (Object.keys(headers).length === 0 && rest.startsWith("-----END ")) {
      endIndex = 0;
      endTrailerIndex = "-----END ".length;
    } else {
      endIndex = rest.indexOf("\n-----END ");
      endTrailerIndex = endIndex + "\n-----END ".length;
    }
    if (endIndex < 0) continue;
    let endTrailer = rest.slice(endTrailerIndex);
    const endTrailerLen = typeLine.length + 5;
    if (endTrailer.length < endTrailerLen) continue;
    const restOfEndLine = endTrailer.slice(endTrailerLen);
    endTrailer = endTrailer.slice(0, endTrailerLen);
    if (!endTrailer.startsWith(typeLine) || !endTrailer.endsWith("-----")) continue;
    if (getLine(restOfEndLine)[0].length !== 0) continue;
    const b64 = rest.slice(0, endIndex).replace(/[ \t]/g, "");
    let bytes: Buffer;
    try {
      bytes = goBase64Decode(Buffer.from(b64, "latin1"));
    } catch {
      continue;
    }
    const after = getLine(rest.slice(endIndex + "\n-----END ".length - 1))[1];
    return { block: { type: typeLine, headers, bytes }, rest: after };
  }
}

export const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

// ---- DER (cryptobyte rules) ----

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUM: 0x0a,
  UTF8String: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PrintableString: 0x13,
  T61String: 0x14,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
  NumericString: 0x12,
  BMPString: 0x1e,
} as const;

export class Der {
  constructor(
    readonly buf: Uint8Array,
    public pos = 0,
    readonly end = buf.length,
  ) {}

  empty(): boolean {
    return this.pos >= this.end;
  }

  peekTag(): number {
    return this.pos < this.end ? this.buf[this.pos]! : -1;
  }

  /** The next element: tag, full encoding and body; null when malformed. */
  readAny(): { tag: number; full: Uint8Array; body: Der } | null {
    const start = this.pos;
    if (this.end - start < 2) return null;
    const tag = this.buf[start]!;
    if ((tag & 0x1f) === 0x1f) return null;
    const l0 = this.buf[start + 1]!;
    let len: number;
    let hdr: number;
    if ((l0 & 0x80) === 0) {
      len = l0;
      hdr = 2;
    } else {
      const n = l0 & 0x7f;
      if (n === 0 || n > 4 || start + 2 + n > this.end) return null;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + this.buf[start + 2 + i]!;
      if (len < 128 || this.buf[start + 2] === 0) return null; // not minimal
      hdr = 2 + n;
    }
    if (start + hdr + len > this.end) return null;
    this.pos = start + hdr + len;
    return {
      tag,
      full: this.buf.subarray(start, start + hdr + len),
      body: new Der(this.buf, start + hdr, start + hdr + len),
    };
  }

  read(tag: number): Der | null {
    if (this.peekTag() !== tag) return null;
    return this.readAny()?.body ?? null;
  }

  readElement(tag: number): Uint8Array | null {
    if (this.peekTag() !== tag) return null;
    return this.readAny()?.full ?? null;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(this.pos, this.end);
  }

  readInteger(): bigint | null {
    const b = this.read(TAG.INTEGER);
    if (!b) return null;
    return derInt(b.bytes());
  }

  readBoolean(): boolean | null {
    const b = this.read(TAG.BOOLEAN);
    if (!b || b.end - b.pos !== 1) return null;
    const v = b.buf[b.pos];
    if (v !== 0 && v !== 0xff) return null;
    return v === 0xff;
  }

  readOID(): number[] | null {
    const b = this.read(TAG.OID);
    return b ? parseOID(b.bytes()) : null;
  }

  readBitString(): { bytes: Uint8Array; bitLength: number } | null {
    const b = this.read(TAG.BIT_STRING);
    if (!b) return null;
    const all = b.bytes();
    if (all.length === 0) return null;
    const padding = all[0]!;
    const bytes = all.subarray(1);
    if (padding > 7 || (bytes.length === 0 && padding !== 0)) return null;
    if (bytes.length > 0 && (bytes[bytes.length - 1]! & ((1 << padding) - 1)) !== 0) return null;
    return { bytes, bitLength: bytes.length * 8 - padding };
  }
}

function derInt(b: Uint8Array): bigint | null {
  if (b.length === 0) return null;
  if (b.length > 1 && ((b[0] === 0 && (b[1]! & 0x80) === 0) || (b[0] === 0xff && (b[1]! & 0x80) === 0x80))) {
    return null;
  }
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  if (b[0]! & 0x80) v -= 1n << BigInt(b.length * 8);
  return v;
}

export function parseOID(b: Uint8Array): number[] | null {
  if (b.length === 0) return null;
  const arcs: number[] = [];
  let v = 0;
  let started = false;
  for (let i = 0; i < b.length; i++) {
    const x = b[i]!;
    if (!started && x === 0x80) return null; // non-minimal
    started = true;
    v = v * 128 + (x & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER) return null;
    if ((x & 0x80) === 0) {
      arcs.push(v);
      v = 0;
      started = false;
    }
  }
  if (started) return null;
  const first = arcs.shift()!;
  if (first < 80) return [Math.floor(first / 40), first % 40, ...arcs];
  return [2, first - 80, ...arcs];
}

export const oidString = (o: number[]): string => o.join(".");
const oidIs = (o: number[] | null, s: string): boolean => o !== null && oidString(o) === s;

// ---- Go JSON helpers ----

type J = unknown;
const b64 = (b: Uint8Array | null | undefined): J => (b ? Buffer.from(b).toString("base64") : null);
const bigFromBytes = (b: Uint8Array): bigint => {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
};
const bigFromB64url = (s: string): bigint => bigFromBytes(Buffer.from(s, "base64url"));

function rfc3339(ms: number, offsetMin = 0): string {
  const d = new Date(ms + offsetMin * 60000);
  const iso = d
    .toISOString()
    .replace(/\.000Z$/, "Z")
    .replace(/(\.\d*?)0+Z$/, "$1Z");
  if (offsetMin === 0) return iso;
  const sign = offsetMin < 0 ? "-" : "+";
  const a = Math.abs(offsetMin);
  return iso.replace(
    /Z$/,
    `${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`,
  );
}

// ---- names ----

function isPrintable(b: number): boolean {
  return (
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x27 && b <= 0x29) ||
    (b >= 0x2b && b <= 0x2f) ||
    b === 0x20 ||
    b === 0x3a ||
    b === 0x3d ||
    b === 0x3f ||
    b === 0x2a ||
    b === 0x26
  );
}

function parseASN1String(tag: number, v: Uint8Array): string {
  switch (tag) {
    case TAG.T61String:
      return Buffer.from(v).toString("latin1");
    case TAG.PrintableString:
      for (const b of v) if (!isPrintable(b)) throw new X509Error("invalid PrintableString");
      return Buffer.from(v).toString("latin1");
    case TAG.UTF8String: {
      const s = Buffer.from(v).toString("utf8");
      if (!Buffer.from(s, "utf8").equals(Buffer.from(v))) throw new X509Error("invalid UTF-8 string");
      return s;
    }
    case TAG.BMPString: {
      if (v.length % 2 !== 0) throw new X509Error("invalid BMPString");
      let n = v.length;
      if (n >= 2 && v[n - 1] === 0 && v[n - 2] === 0) n -= 2;
      let s = "";
      for (let i = 0; i < n; i += 2) {
        const p = (v[i]! << 8) | v[i + 1]!;
        if (p === 0xfffe || p === 0xffff || (p >= 0xfdd0 && p <= 0xfdef) || (p >= 0xd800 && p <= 0xdfff)) {
          throw new X509Error("invalid BMPString");
        }
        s += String.fromCharCode(p);
      }
      return s;
    }
    case TAG.IA5String:
      for (const b of v) if (b > 0x7f) throw new X509Error("invalid IA5String");
      return Buffer.from(v).toString("latin1");
    case TAG.NumericString:
      for (const b of v)
        if (!((b >= 0x30 && b <= 0x39) || b === 0x20)) throw new X509Error("invalid NumericString");
      return Buffer.from(v).toString("latin1");
  }
  throw new X509Error(`unsupported string type: ${tag}`);
}

interface GoName {
  Country: string[] | null;
  Organization: string[] | null;
  OrganizationalUnit: string[] | null;
  Locality: string[] | null;
  Province: string[] | null;
  StreetAddress: string[] | null;
  PostalCode: string[] | null;
  SerialNumber: string;
  CommonName: string;
  Names: { Type: number[]; Value: string }[] | null;
  ExtraNames: null;
}

/** x509 parseName + pkix.Name.FillFromRDNSequence. */
function parseName(raw: Uint8Array): GoName {
  const name: GoName = {
    Country: null,
    Organization: null,
    OrganizationalUnit: null,
    Locality: null,
    Province: null,
    StreetAddress: null,
    PostalCode: null,
    SerialNumber: "",
    CommonName: "",
    Names: null,
    ExtraNames: null,
  };
  const seq = new Der(raw).read(TAG.SEQUENCE);
  if (!seq) throw new X509Error("x509: invalid RDNSequence");
  const push = (k: keyof GoName, v: string): void => {
    const cur = name[k] as string[] | null;
    (name as unknown as Record<string, unknown>)[k] = cur ? [...cur, v] : [v];
  };
  while (!seq.empty()) {
    const set = seq.read(TAG.SET);
    if (!set) throw new X509Error("x509: invalid RDNSequence");
    while (!set.empty()) {
      const atv = set.read(TAG.SEQUENCE);
      if (!atv) throw new X509Error("x509: invalid RDNSequence: invalid attribute");
      const type = atv.readOID();
      if (!type) throw new X509Error("x509: invalid RDNSequence: invalid attribute type");
      const val = atv.readAny();
      if (!val) throw new X509Error("x509: invalid RDNSequence: invalid attribute value");
      let value: string;
      try {
        value = parseASN1String(val.tag, val.body.bytes());
      } catch (e) {
        throw new X509Error(`x509: invalid RDNSequence: invalid attribute value: ${(e as Error).message}`);
      }
      name.Names = [...(name.Names ?? []), { Type: type, Value: value }];
      if (type.length === 4 && type[0] === 2 && type[1] === 5 && type[2] === 4) {
        switch (type[3]) {
          case 3:
            name.CommonName = value;
            break;
          case 5:
            name.SerialNumber = value;
            break;
          case 6:
            push("Country", value);
            break;
          case 7:
            push("Locality", value);
            break;
          case 8:
            push("Province", value);
            break;
          case 9:
            push("StreetAddress", value);
            break;
          case 10:
            push("Organization", value);
            break;
          case 11:
            push("OrganizationalUnit", value);
            break;
          case 17:
            push("PostalCode", value);
            break;
        }
      }
    }
  }
  return name;
}

// ---- algorithms ----

const SIG_ALGS: Record<string, number> = {
  "1.2.840.113549.1.1.2": 1, // MD2WithRSA
  "1.2.840.113549.1.1.4": 2, // MD5WithRSA
  "1.2.840.113549.1.1.5": 3, // SHA1WithRSA
  "1.3.14.3.2.29": 3,
  "1.2.840.113549.1.1.11": 4, // SHA256WithRSA
  "1.2.840.113549.1.1.12": 5,
  "1.2.840.113549.1.1.13": 6,
  "1.2.840.10040.4.3": 7, // DSAWithSHA1
  "2.16.840.1.101.3.4.3.2": 8, // DSAWithSHA256
  "1.2.840.10045.4.1": 9, // ECDSAWithSHA1
  "1.2.840.10045.4.3.2": 10,
  "1.2.840.10045.4.3.3": 11,
  "1.2.840.10045.4.3.4": 12,
  "1.3.101.112": 16, // PureEd25519
};
const SIG_ALG_NAMES: Record<number, string> = {
  1: "MD2-RSA",
  2: "MD5-RSA",
  3: "SHA1-RSA",
  7: "DSA-SHA1",
  9: "ECDSA-SHA1",
};

function signatureAlgorithm(ai: Der): number {
  const oid = ai.readOID();
  if (!oid) throw new X509Error("x509: malformed OID");
  const params = ai.empty() ? null : ai.readAny();
  if (!ai.empty() && !params) throw new X509Error("x509: malformed parameters");
  const s = oidString(oid);
  if (s === "1.3.101.112" && params) return 0;
  if (s !== "1.2.840.113549.1.1.10") return SIG_ALGS[s] ?? 0;
  // RSASSA-PSS: the hash and salt length decide the algorithm.
  if (!params || params.tag !== TAG.SEQUENCE) return 0;
  const p = params.body;
  let hash = "1.3.14.3.2.26";
  let salt = 20n;
  while (!p.empty()) {
    const el = p.readAny();
    if (!el) return 0;
    if (el.tag === 0xa0) {
      const h = el.body.read(TAG.SEQUENCE)?.readOID();
      if (h) hash = oidString(h);
    } else if (el.tag === 0xa2) {
      salt = el.body.readInteger() ?? -1n;
    }
  }
  if (hash === "2.16.840.1.101.3.4.2.1" && salt === 32n) return 13;
  if (hash === "2.16.840.1.101.3.4.2.2" && salt === 48n) return 14;
  if (hash === "2.16.840.1.101.3.4.2.3" && salt === 64n) return 15;
  return 0;
}

const PK_ALGS: Record<string, number> = {
  "1.2.840.113549.1.1.1": 1, // RSA
  "1.2.840.10040.4.1": 2, // DSA
  "1.2.840.10045.2.1": 3, // ECDSA
  "1.3.101.112": 4, // Ed25519
  "1.3.101.110": 5, // X25519
};

const CURVES: Record<string, number> = {
  "1.3.132.0.33": 28,
  "1.2.840.10045.3.1.7": 32,
  "1.3.132.0.34": 48,
  "1.3.132.0.35": 66,
};

/** x509 parsePublicKey as Go's JSON of the key. */
function parsePublicKey(
  alg: number,
  oid: string,
  params: { tag: number; full: Uint8Array } | null,
  key: Uint8Array,
): J {
  switch (alg) {
    case 1: {
      if (!params || Buffer.compare(Buffer.from(params.full), Buffer.from([5, 0])) !== 0) {
        throw new X509Error("x509: RSA key missing NULL parameters");
      }
      const seq = new Der(key).read(TAG.SEQUENCE);
      if (!seq) throw new X509Error("x509: invalid RSA public key");
      const n = seq.readInteger();
      if (n === null) throw new X509Error("x509: invalid RSA modulus");
      const e = seq.readInteger();
      if (e === null) throw new X509Error("x509: invalid RSA public exponent");
      if (n <= 0n) throw new X509Error("x509: RSA modulus is not a positive number");
      if (e <= 0n) throw new X509Error("x509: RSA public exponent is not a positive number");
      return { N: n, E: e };
    }
    case 3: {
      const curveOid = params ? new Der(params.full).readOID() : null;
      if (!curveOid) throw new X509Error("x509: invalid ECDSA parameters");
      const size = CURVES[oidString(curveOid)];
      if (size === undefined) throw new X509Error("x509: unsupported elliptic curve");
      if (key.length !== 1 + 2 * size || key[0] !== 4) {
        throw new X509Error("x509: failed to unmarshal elliptic curve point");
      }
      return {
        Curve: {},
        X: bigFromBytes(key.subarray(1, 1 + size)),
        Y: bigFromBytes(key.subarray(1 + size)),
      };
    }
    case 4:
      if (params) throw new X509Error("x509: Ed25519 key encoded with illegal parameters");
      if (key.length !== 32) throw new X509Error("x509: wrong Ed25519 public key size");
      return b64(key);
    case 5:
      if (params) throw new X509Error("x509: X25519 key encoded with illegal parameters");
      return {};
    case 2: {
      const y = new Der(key).readInteger();
      if (y === null) throw new X509Error("x509: invalid DSA public key");
      const p = params ? new Der(params.full).read(TAG.SEQUENCE) : null;
      const P = p?.readInteger() ?? null;
      const Q = p?.readInteger() ?? null;
      const G = p?.readInteger() ?? null;
      if (P === null || Q === null || G === null) throw new X509Error("x509: invalid DSA parameters");
      return { Parameters: { P, Q, G }, Y: y };
    }
  }
  void oid;
  return null;
}

// ---- certificates ----

const EKU: Record<string, number> = {
  "2.5.29.37.0": 0,
  "1.3.6.1.5.5.7.3.1": 1,
  "1.3.6.1.5.5.7.3.2": 2,
  "1.3.6.1.5.5.7.3.3": 3,
  "1.3.6.1.5.5.7.3.4": 4,
  "1.3.6.1.5.5.7.3.5": 5,
  "1.3.6.1.5.5.7.3.6": 6,
  "1.3.6.1.5.5.7.3.7": 7,
  "1.3.6.1.5.5.7.3.8": 8,
  "1.3.6.1.5.5.7.3.9": 9,
  "1.3.6.1.4.1.311.10.3.3": 10,
  "2.16.840.1.113730.4.1": 11,
  "1.3.6.1.4.1.311.2.1.22": 12,
  "1.3.6.1.4.1.311.61.1.1": 13,
};

/** Parsed certificate: Go's JSON plus what verification needs. */
export interface Cert {
  der: Uint8Array;
  json: Record<string, J>;
  rawSubject: Uint8Array;
  rawIssuer: Uint8Array;
  notBefore: number;
  notAfter: number;
  version: number;
  isCA: boolean;
  basicConstraintsValid: boolean;
  maxPathLen: number;
  keyUsage: number;
  extKeyUsage: number[] | null;
  unknownExtKeyUsage: number[][] | null;
  dnsNames: string[] | null;
  ipAddresses: Uint8Array[] | null;
  uris: string[] | null;
  signatureAlgorithm: number;
  publicKeyAlgorithm: number;
}

function parseTime(d: Der): { ms: number; offsetMin: number } {
  const t = d.peekTag();
  const body =
    t === TAG.UTCTime ? d.read(TAG.UTCTime) : t === TAG.GeneralizedTime ? d.read(TAG.GeneralizedTime) : null;
  if (t !== TAG.UTCTime && t !== TAG.GeneralizedTime) throw new X509Error("x509: unsupported time format");
  const bad = new X509Error(
    t === TAG.UTCTime ? "x509: malformed UTCTime" : "x509: malformed GeneralizedTime",
  );
  if (!body) throw bad;
  const s = Buffer.from(body.bytes()).toString("latin1");
  const m =
    t === TAG.UTCTime
      ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?(Z|[+-]\d{4})$/.exec(s)
      : /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(Z|[+-]\d{4})$/.exec(s);
  if (!m) throw bad;
  let year = Number(m[1]);
  if (t === TAG.UTCTime) year += year >= 50 ? 1900 : 2000;
  const [mo, da, h, mi] = [Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])];
  const se = m[6] === undefined ? 0 : Number(m[6]);
  if (mo < 1 || mo > 12 || da < 1 || h > 23 || mi > 59 || se > 59) throw bad;
  const maxDay = new Date(Date.UTC(year, mo, 0)).getUTCDate();
  if (da > maxDay) throw bad;
  let offsetMin = 0;
  if (m[7] !== "Z") {
    const z = m[7]!;
    offsetMin = (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5))) * (z[0] === "-" ? -1 : 1);
    if (offsetMin === 0) throw bad; // Go would print +0000 as Z, so it is not canonical
  }
  const utc = new Date(0);
  utc.setUTCFullYear(year, mo - 1, da);
  utc.setUTCHours(h, mi, se, 0);
  return { ms: utc.getTime() - offsetMin * 60000, offsetMin };
}

interface Ext {
  id: number[];
  critical: boolean;
  value: Uint8Array;
}

function parseExtension(d: Der): Ext {
  const id = d.readOID();
  if (!id) throw new X509Error("x509: malformed extension OID field");
  let critical = false;
  if (d.peekTag() === TAG.BOOLEAN) {
    const c = d.readBoolean();
    if (c === null) throw new X509Error("x509: malformed extension critical field");
    critical = c;
  }
  const v = d.read(TAG.OCTET_STRING);
  if (!v) throw new X509Error("x509: malformed extension value field");
  return { id, critical, value: v.bytes() };
}

/** net/url.URL as Go's encoding/json writes it (a simplified url.Parse). */
function goURL(s: string): J {
  const u = {
    Scheme: "",
    Opaque: "",
    User: null as J,
    Host: "",
    Path: "",
    RawPath: "",
    OmitHost: false,
    ForceQuery: false,
    RawQuery: "",
    Fragment: "",
    RawFragment: "",
  };
  let rest = s;
  const hash = rest.indexOf("#");
  if (hash >= 0) {
    u.Fragment = safeDecode(rest.slice(hash + 1));
    rest = rest.slice(0, hash);
  }
  const sm = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(rest);
  if (sm) {
    u.Scheme = sm[1]!.toLowerCase();
    rest = rest.slice(sm[0].length);
  }
  const q = rest.indexOf("?");
  if (q >= 0) {
    u.RawQuery = rest.slice(q + 1);
    u.ForceQuery = u.RawQuery === "";
    rest = rest.slice(0, q);
  }
  if (u.Scheme && !rest.startsWith("/")) {
    u.Opaque = rest;
    return u;
  }
  if (rest.startsWith("//")) {
    rest = rest.slice(2);
    const slash = rest.indexOf("/");
    let auth = slash >= 0 ? rest.slice(0, slash) : rest;
    rest = slash >= 0 ? rest.slice(slash) : "";
    const at = auth.lastIndexOf("@");
    if (at >= 0) {
      u.User = {};
      auth = auth.slice(at + 1);
    }
    u.Host = auth;
  }
  u.Path = safeDecode(rest);
  return u;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function parseGeneralNamesSAN(value: Uint8Array, c: Cert): void {
  const seq = new Der(value).read(TAG.SEQUENCE);
  if (!seq) throw new X509Error("x509: invalid subject alternative names");
  while (!seq.empty()) {
    const el = seq.readAny();
    if (!el) throw new X509Error("x509: invalid subject alternative name");
    const data = el.body.bytes();
    const str = (): string => {
      for (const b of data) if (b > 0x7f) return "";
      return Buffer.from(data).toString("latin1");
    };
    switch (el.tag ^ 0x80) {
      case 1: {
        if (data.some((b) => b > 0x7f)) throw new X509Error("x509: SAN rfc822Name is malformed");
        (c.json.EmailAddresses as string[] | null) ??= [];
        (c.json.EmailAddresses as string[]).push(str());
        break;
      }
      case 2:
        if (data.some((b) => b > 0x7f)) throw new X509Error("x509: SAN dNSName is malformed");
        (c.dnsNames ??= []).push(str());
        break;
      case 6:
        if (data.some((b) => b > 0x7f))
          throw new X509Error("x509: SAN uniformResourceIdentifier is malformed");
        (c.uris ??= []).push(str());
        break;
      case 7:
        if (data.length !== 4 && data.length !== 16) {
          throw new X509Error(`x509: cannot parse IP address of length ${data.length}`);
        }
        (c.ipAddresses ??= []).push(data);
        break;
    }
  }
}

function ipText(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  if (b.length === 16 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return Array.from(b.subarray(12)).join(".");
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  const s = groups.join(":");
  // Compress the longest run of zero groups (RFC 5952).
  const runs = [...s.matchAll(/(?:^|:)0(?::0)+(?::|$)/g)].sort((a, z) => z[0].length - a[0].length);
  if (runs.length === 0) return s;
  const r = runs[0]!;
  return s.slice(0, r.index) + "::" + s.slice(r.index! + r[0].length);
}

function processExtensions(c: Cert, exts: Ext[]): void {
  const j = c.json;
  for (const e of exts) {
    let unhandled = false;
    const id = e.id;
    if (id.length === 4 && id[0] === 2 && id[1] === 5 && id[2] === 29) {
      const val = new Der(e.value);
      switch (id[3]) {
        case 15: {
          const bits = val.readBitString();
          if (!bits) throw new X509Error("x509: invalid key usage");
          let usage = 0;
          for (let i = 0; i < 9; i++) {
            const byte = i >> 3;
            if (byte < bits.bytes.length && i < bits.bitLength && (bits.bytes[byte]! >> (7 - (i & 7))) & 1)
              usage |= 1 << i;
          }
          c.keyUsage = usage;
          break;
        }
        case 19: {
          const seq = val.read(TAG.SEQUENCE);
          if (!seq) throw new X509Error("x509: invalid basic constraints");
          let isCA = false;
          if (seq.peekTag() === TAG.BOOLEAN) {
            const b = seq.readBoolean();
            if (b === null) throw new X509Error("x509: invalid basic constraints");
            isCA = b;
          }
          let maxPathLen = -1;
          if (seq.peekTag() === TAG.INTEGER) {
            const n = seq.readInteger();
            if (n === null || n < 0n || n > BigInt(Number.MAX_SAFE_INTEGER)) {
              throw new X509Error("x509: invalid basic constraints");
            }
            maxPathLen = Number(n);
          }
          c.isCA = isCA;
          c.maxPathLen = maxPathLen;
          c.basicConstraintsValid = true;
          break;
        }
        case 17:
          parseGeneralNamesSAN(e.value, c);
          if (!c.dnsNames && !j.EmailAddresses && !c.ipAddresses && !c.uris) unhandled = true;
          break;
        case 30:
          parseNameConstraints(c, e);
          break;
        case 31: {
          const seq = val.read(TAG.SEQUENCE);
          if (!seq) throw new X509Error("x509: invalid CRL distribution points");
          while (!seq.empty()) {
            const dp = seq.read(TAG.SEQUENCE);
            if (!dp) throw new X509Error("x509: invalid CRL distribution point");
            if (dp.peekTag() !== 0xa0) continue;
            const name = dp.read(0xa0)?.read(0xa0);
            if (!name) throw new X509Error("x509: invalid CRL distribution point");
            while (!name.empty() && name.peekTag() === 0x86) {
              const uri = name.read(0x86)!;
              ((j.CRLDistributionPoints as string[] | null) ??= []).push(latin1(uri.bytes()));
            }
          }
          break;
        }
        case 35: {
          if (e.critical) throw new X509Error("x509: authority key identifier incorrectly marked critical");
          const akid = val.read(TAG.SEQUENCE);
          if (!akid) throw new X509Error("x509: invalid authority key identifier");
          if (akid.peekTag() === 0x80) j.AuthorityKeyId = b64(akid.read(0x80)!.bytes());
          break;
        }
        case 36: {
          const seq = val.read(TAG.SEQUENCE);
          if (!seq) throw new X509Error("x509: invalid policy constraints extension");
          if (seq.peekTag() === 0x80) {
            const v = derInt(seq.read(0x80)!.bytes());
            if (v === null) throw new X509Error("x509: invalid policy constraints extension");
            j.RequireExplicitPolicy = Number(v);
            j.RequireExplicitPolicyZero = v === 0n;
          }
          if (seq.peekTag() === 0x81) {
            const v = derInt(seq.read(0x81)!.bytes());
            if (v === null) throw new X509Error("x509: invalid policy constraints extension");
            j.InhibitPolicyMapping = Number(v);
            j.InhibitPolicyMappingZero = v === 0n;
          }
          break;
        }
        case 37: {
          const seq = val.read(TAG.SEQUENCE);
          if (!seq) throw new X509Error("x509: invalid extended key usages");
          while (!seq.empty()) {
            const oid = seq.readOID();
            if (!oid) throw new X509Error("x509: invalid extended key usages");
            const k = EKU[oidString(oid)];
            if (k !== undefined) (c.extKeyUsage ??= []).push(k);
            else (c.unknownExtKeyUsage ??= []).push(oid);
          }
          break;
        }
        case 14: {
          if (e.critical) throw new X509Error("x509: subject key identifier incorrectly marked critical");
          const skid = val.read(TAG.OCTET_STRING);
          if (!skid) throw new X509Error("x509: invalid subject key identifier");
          j.SubjectKeyId = b64(skid.bytes());
          break;
        }
        case 32: {
          const seq = val.read(TAG.SEQUENCE);
          if (!seq) throw new X509Error("x509: invalid certificate policies");
          const policies: string[] = [];
          const ids: number[][] = [];
          const seen = new Set<string>();
          while (!seq.empty()) {
            const cp = seq.read(TAG.SEQUENCE);
            const raw = cp?.read(TAG.OID);
            if (!raw) throw new X509Error("x509: invalid certificate policies");
            const key = Buffer.from(raw.bytes()).toString("hex");
            if (seen.has(key)) throw new X509Error("x509: invalid certificate policies");
            seen.add(key);
            const oid = parseOID(raw.bytes());
            if (!oid) throw new X509Error("x509: invalid certificate policies");
            policies.push(oidString(oid));
            ids.push(oid);
          }
          j.Policies = policies;
          j.PolicyIdentifiers = ids;
          break;
        }
        case 33: {
          const seq = val.read(TAG.SEQUENCE);
          if (!seq) throw new X509Error("x509: invalid policy mappings extension");
          const maps: J[] = [];
          while (!seq.empty()) {
            const s = seq.read(TAG.SEQUENCE);
            const a = s?.readOID();
            const b = s?.readOID();
            if (!a || !b) throw new X509Error("x509: invalid policy mappings extension");
            maps.push({ IssuerDomainPolicy: oidString(a), SubjectDomainPolicy: oidString(b) });
          }
          j.PolicyMappings = maps;
          break;
        }
        case 54: {
          const v = val.readInteger();
          if (v === null) throw new X509Error("x509: invalid inhibit any policy extension");
          j.InhibitAnyPolicy = Number(v);
          j.InhibitAnyPolicyZero = v === 0n;
          break;
        }
        default:
          unhandled = true;
      }
    } else if (oidString(id) === "1.3.6.1.5.5.7.1.1") {
      if (e.critical) throw new X509Error("x509: authority info access incorrectly marked critical");
      const seq = new Der(e.value).read(TAG.SEQUENCE);
      if (!seq) throw new X509Error("x509: invalid authority info access");
      while (!seq.empty()) {
        const aia = seq.read(TAG.SEQUENCE);
        const method = aia?.readOID();
        if (!aia || !method) throw new X509Error("x509: invalid authority info access");
        if (aia.peekTag() !== 0x86) continue;
        const loc = latin1(aia.read(0x86)!.bytes());
        if (oidIs(method, "1.3.6.1.5.5.7.48.1")) ((j.OCSPServer as string[] | null) ??= []).push(loc);
        else if (oidIs(method, "1.3.6.1.5.5.7.48.2"))
          ((j.IssuingCertificateURL as string[] | null) ??= []).push(loc);
      }
    } else {
      unhandled = true;
    }
    if (e.critical && unhandled) ((j.UnhandledCriticalExtensions as number[][] | null) ??= []).push(id);
  }
}

function parseNameConstraints(c: Cert, e: Ext): void {
  const j = c.json;
  const outer = new Der(e.value);
  const top = outer.read(TAG.SEQUENCE);
  if (!top || !outer.empty()) throw new X509Error("x509: invalid NameConstraints extension");
  const permitted = top.peekTag() === 0xa0 ? top.read(0xa0) : null;
  const excluded = top.peekTag() === 0xa1 ? top.read(0xa1) : null;
  if (!top.empty()) throw new X509Error("x509: invalid NameConstraints extension");
  if ((!permitted || permitted.empty()) && (!excluded || excluded.empty())) {
    throw new X509Error("x509: empty name constraints extension");
  }
  const collect = (sub: Der | null, prefix: "Permitted" | "Excluded"): void => {
    if (!sub) return;
    while (!sub.empty()) {
      const seq = sub.read(TAG.SEQUENCE);
      const v = seq?.readAny();
      if (!v) throw new X509Error("x509: invalid NameConstraints extension");
      const data = v.body.bytes();
      const push = (k: string, x: J): void => {
        ((j[k] as J[] | null) ??= []).push(x);
      };
      switch (v.tag) {
        case 0x82:
          push(`${prefix}DNSDomains`, latin1(data));
          break;
        case 0x81:
          push(`${prefix}EmailAddresses`, latin1(data));
          break;
        case 0x86:
          push(`${prefix}URIDomains`, latin1(data));
          break;
        case 0x87: {
          if (data.length !== 8 && data.length !== 32) {
            throw new X509Error(`x509: IP constraint contained value of length ${data.length}`);
          }
          const half = data.length / 2;
          push(`${prefix}IPRanges`, { IP: ipText(data.subarray(0, half)), Mask: b64(data.subarray(half)) });
          break;
        }
      }
    }
  };
  collect(permitted, "Permitted");
  collect(excluded, "Excluded");
  j.PermittedDNSDomainsCritical = e.critical;
}

/** x509.parseCertificate: the certificate at the start of der, and its length. */
function parseCertificate(der: Uint8Array): Cert {
  const input = new Der(der);
  const certEl = input.readAny();
  if (!certEl || certEl.tag !== TAG.SEQUENCE) throw new X509Error("x509: malformed certificate");
  const raw = certEl.full;
  const cert = certEl.body;
  const tbsRaw = cert.readElement(TAG.SEQUENCE);
  if (!tbsRaw) throw new X509Error("x509: malformed tbs certificate");
  const tbs = new Der(tbsRaw).read(TAG.SEQUENCE);
  if (!tbs) throw new X509Error("x509: malformed tbs certificate");
  let version = 0;
  if (tbs.peekTag() === 0xa0) {
    const v = tbs.read(0xa0)?.readInteger();
    if (v === null || v === undefined) throw new X509Error("x509: malformed version");
    if (v < 0n) throw new X509Error("x509: malformed version");
    if (v > 2n) throw new X509Error("x509: invalid version");
    version = Number(v);
  }
  version++;
  const serial = tbs.readInteger();
  if (serial === null) throw new X509Error("x509: malformed serial number");
  if (serial < 0n) throw new X509Error("x509: negative serial number");
  const sigAIRaw = tbs.read(TAG.SEQUENCE);
  if (!sigAIRaw) throw new X509Error("x509: malformed signature algorithm identifier");
  const outerAI = cert.read(TAG.SEQUENCE);
  if (!outerAI) throw new X509Error("x509: malformed algorithm identifier");
  if (Buffer.compare(Buffer.from(outerAI.bytes()), Buffer.from(sigAIRaw.bytes())) !== 0) {
    throw new X509Error("x509: inner and outer signature algorithm identifiers don't match");
  }
  const sigAlg = signatureAlgorithm(new Der(sigAIRaw.buf, sigAIRaw.pos, sigAIRaw.end));
  const issuerRaw = tbs.readElement(TAG.SEQUENCE);
  if (!issuerRaw) throw new X509Error("x509: malformed issuer");
  const issuer = parseName(issuerRaw);
  const validity = tbs.read(TAG.SEQUENCE);
  if (!validity) throw new X509Error("x509: malformed validity");
  const nb = parseTime(validity);
  const na = parseTime(validity);
  const subjectRaw = tbs.readElement(TAG.SEQUENCE);
  if (!subjectRaw) throw new X509Error("x509: malformed issuer");
  const subject = parseName(subjectRaw);
  const spkiRaw = tbs.readElement(TAG.SEQUENCE);
  if (!spkiRaw) throw new X509Error("x509: malformed spki");
  const spki = new Der(spkiRaw).read(TAG.SEQUENCE);
  if (!spki) throw new X509Error("x509: malformed spki");
  const pkAI = spki.read(TAG.SEQUENCE);
  if (!pkAI) throw new X509Error("x509: malformed public key algorithm identifier");
  const pkOid = pkAI.readOID();
  if (!pkOid) throw new X509Error("x509: malformed OID");
  const pkParams = pkAI.empty() ? null : pkAI.readAny();
  const pkAlg = PK_ALGS[oidString(pkOid)] ?? 0;
  const spk = spki.readBitString();
  if (!spk) throw new X509Error("x509: malformed subjectPublicKey");
  const publicKey = pkAlg === 0 ? null : parsePublicKey(pkAlg, oidString(pkOid), pkParams, spk.bytes);

  const c: Cert = {
    der: raw,
    json: {},
    rawSubject: subjectRaw,
    rawIssuer: issuerRaw,
    notBefore: nb.ms,
    notAfter: na.ms,
    version,
    isCA: false,
    basicConstraintsValid: false,
    maxPathLen: 0,
    keyUsage: 0,
    extKeyUsage: null,
    unknownExtKeyUsage: null,
    dnsNames: null,
    ipAddresses: null,
    uris: null,
    signatureAlgorithm: sigAlg,
    publicKeyAlgorithm: pkAlg,
  };
  const j = c.json;
  Object.assign(j, {
    Raw: b64(raw),
    RawTBSCertificate: b64(tbsRaw),
    RawSubjectPublicKeyInfo: b64(spkiRaw),
    RawSubject: b64(subjectRaw),
    RawIssuer: b64(issuerRaw),
    Signature: null,
    SignatureAlgorithm: sigAlg,
    PublicKeyAlgorithm: pkAlg,
    PublicKey: publicKey,
    Version: version,
    SerialNumber: serial,
    Issuer: issuer,
    Subject: subject,
    NotBefore: rfc3339(nb.ms, nb.offsetMin),
    NotAfter: rfc3339(na.ms, na.offsetMin),
    KeyUsage: 0,
    Extensions: null,
    ExtraExtensions: null,
    UnhandledCriticalExtensions: null,
    ExtKeyUsage: null,
    UnknownExtKeyUsage: null,
    BasicConstraintsValid: false,
    IsCA: false,
    MaxPathLen: 0,
    MaxPathLenZero: false,
    SubjectKeyId: null,
    AuthorityKeyId: null,
    OCSPServer: null,
    IssuingCertificateURL: null,
    DNSNames: null,
    EmailAddresses: null,
    IPAddresses: null,
    URIs: null,
    PermittedDNSDomainsCritical: false,
    PermittedDNSDomains: null,
    ExcludedDNSDomains: null,
    PermittedIPRanges: null,
    ExcludedIPRanges: null,
    PermittedEmailAddresses: null,
    ExcludedEmailAddresses: null,
    PermittedURIDomains: null,
    ExcludedURIDomains: null,
    CRLDistributionPoints: null,
    PolicyIdentifiers: null,
    Policies: null,
    InhibitAnyPolicy: 0,
    InhibitAnyPolicyZero: false,
    InhibitPolicyMapping: 0,
    InhibitPolicyMappingZero: false,
    RequireExplicitPolicy: 0,
    RequireExplicitPolicyZero: false,
    PolicyMappings: null,
  });

  if (version > 1) {
    if (tbs.peekTag() === 0x81 && !tbs.readAny()) throw new X509Error("x509: malformed issuerUniqueID");
    if (tbs.peekTag() === 0x82 && !tbs.readAny()) throw new X509Error("x509: malformed subjectUniqueID");
    if (version === 3 && tbs.peekTag() === 0xa3) {
      const extsWrap = tbs.read(0xa3);
      const exts = extsWrap?.read(TAG.SEQUENCE);
      if (!exts) throw new X509Error("x509: malformed extensions");
      const list: Ext[] = [];
      const seen = new Set<string>();
      while (!exts.empty()) {
        const ext = exts.read(TAG.SEQUENCE);
        if (!ext) throw new X509Error("x509: malformed extension");
        const e = parseExtension(ext);
        const key = oidString(e.id);
        if (seen.has(key))
          throw new X509Error(`x509: certificate contains duplicate extension with OID "${key}"`);
        seen.add(key);
        list.push(e);
      }
      j.Extensions = list.map((e) => ({ Id: e.id, Critical: e.critical, Value: b64(e.value) }));
      processExtensions(c, list);
    }
  }
  const sig = cert.readBitString();
  if (!sig) throw new X509Error("x509: malformed signature");
  j.Signature = b64(sig.bytes);
  j.KeyUsage = c.keyUsage;
  j.ExtKeyUsage = c.extKeyUsage;
  j.UnknownExtKeyUsage = c.unknownExtKeyUsage;
  j.BasicConstraintsValid = c.basicConstraintsValid;
  j.IsCA = c.isCA;
  j.MaxPathLen = c.maxPathLen;
  j.MaxPathLenZero = c.basicConstraintsValid && c.maxPathLen === 0;
  j.DNSNames = c.dnsNames;
  j.IPAddresses = c.ipAddresses ? c.ipAddresses.map(ipText) : null;
  j.URIs = c.uris ? c.uris.map(goURL) : null;
  return c;
}

/** x509.ParseCertificates: concatenated DER certificates. */
export function parseCertificates(der: Uint8Array): Cert[] {
  const out: Cert[] = [];
  let rest = der;
  while (rest.length > 0) {
    const c = parseCertificate(rest);
    out.push(c);
    rest = rest.subarray(c.der.length);
  }
  return out;
}

/** x509.ParseCertificate: exactly one certificate. */
export function parseCertificateStrict(der: Uint8Array): Cert {
  const c = parseCertificate(der);
  if (c.der.length !== der.length) throw new X509Error("x509: trailing data");
  return c;
}

/** OPA's getX509CertsFromString: PEM, base64 of PEM, or base64 of DER. */
export function certsFromString(s: string): Cert[] {
  if (s.startsWith("-----BEGIN")) return certsFromPem(Buffer.from(s, "utf8").toString("latin1"));
  const der = goBase64Decode(s);
  if (latin1(der).startsWith("-----BEGIN")) return certsFromPem(latin1(der));
  return parseCertificates(der);
}

function certsFromPem(pem: string): Cert[] {
  const chunks: Buffer[] = [];
  let rest = pem;
  while (rest.length > 0) {
    const { block, rest: r } = pemDecode(rest);
    if (block && block.type !== "CERTIFICATE") {
      throw new X509Error(`PEM block type is '${block.type}', expected CERTIFICATE`);
    }
    if (!block) break;
    rest = r;
    chunks.push(block.bytes);
  }
  return parseCertificates(Buffer.concat(chunks));
}

// ---- certificate requests ----

export function parseCertificateRequest(der: Uint8Array): Record<string, J> {
  const input = new Der(der);
  const csr = input.read(TAG.SEQUENCE);
  if (!csr) throw new X509Error("x509: malformed certificate request");
  const raw = der.subarray(0, input.pos);
  const tbsRaw = csr.readElement(TAG.SEQUENCE);
  const tbs = tbsRaw ? new Der(tbsRaw).read(TAG.SEQUENCE) : null;
  if (!tbsRaw || !tbs) throw new X509Error("asn1: structure error: malformed certificate request");
  const version = tbs.readInteger();
  const subjectRaw = tbs.readElement(TAG.SEQUENCE);
  const spkiRaw = tbs.readElement(TAG.SEQUENCE);
  if (version === null || !subjectRaw || !spkiRaw)
    throw new X509Error("asn1: structure error: malformed certificate request");
  const spki = new Der(spkiRaw).read(TAG.SEQUENCE)!;
  const pkAI = spki.read(TAG.SEQUENCE);
  const pkOid = pkAI?.readOID();
  if (!pkAI || !pkOid) throw new X509Error("x509: malformed public key algorithm identifier");
  const pkParams = pkAI.empty() ? null : pkAI.readAny();
  const pkAlg = PK_ALGS[oidString(pkOid)] ?? 0;
  const spk = spki.readBitString();
  if (!spk) throw new X509Error("x509: malformed subjectPublicKey");
  const c: Cert = {
    der: raw,
    json: {},
    rawSubject: subjectRaw,
    rawIssuer: subjectRaw,
    notBefore: 0,
    notAfter: 0,
    version: 0,
    isCA: false,
    basicConstraintsValid: false,
    maxPathLen: 0,
    keyUsage: 0,
    extKeyUsage: null,
    unknownExtKeyUsage: null,
    dnsNames: null,
    ipAddresses: null,
    uris: null,
    signatureAlgorithm: 0,
    publicKeyAlgorithm: pkAlg,
  };
  const attributes: J[] = [];
  const extensions: J[] = [];
  if (tbs.peekTag() === 0xa0) {
    const attrs = tbs.read(0xa0)!;
    while (!attrs.empty()) {
      const attr = attrs.read(TAG.SEQUENCE);
      const type = attr?.readOID();
      const values = attr?.read(TAG.SET);
      if (!attr || !type || !values) break;
      if (oidString(type) !== "1.2.840.113549.1.9.14") continue;
      const set: J[] = [];
      while (!values.empty()) {
        const exts = values.read(TAG.SEQUENCE);
        if (!exts) break;
        const list: J[] = [];
        while (!exts.empty()) {
          const ext = exts.read(TAG.SEQUENCE);
          if (!ext) break;
          const e = parseExtension(ext);
          list.push({ Type: e.id, Value: b64(e.value) });
          extensions.push({ Id: e.id, Critical: e.critical, Value: b64(e.value) });
          if (oidString(e.id) === "2.5.29.17") parseGeneralNamesSAN(e.value, c);
        }
        set.push(list);
      }
      attributes.push({ Type: type, Value: set });
    }
  }
  const sigAI = csr.read(TAG.SEQUENCE);
  const sig = csr.readBitString();
  if (!sigAI || !sig) throw new X509Error("x509: malformed certificate request");
  return {
    Raw: b64(raw),
    RawTBSCertificateRequest: b64(tbsRaw),
    RawSubjectPublicKeyInfo: b64(spkiRaw),
    RawSubject: b64(subjectRaw),
    Version: Number(version),
    Signature: b64(sig.bytes),
    SignatureAlgorithm: signatureAlgorithm(sigAI),
    PublicKeyAlgorithm: pkAlg,
    PublicKey: pkAlg === 0 ? null : parsePublicKey(pkAlg, oidString(pkOid), pkParams, spk.bytes),
    Subject: parseName(subjectRaw),
    Attributes: attributes.length ? attributes : null,
    Extensions: extensions.length ? extensions : null,
    ExtraExtensions: null,
    DNSNames: c.dnsNames,
    EmailAddresses: (c.json.EmailAddresses as J) ?? null,
    IPAddresses: c.ipAddresses ? c.ipAddresses.map(ipText) : null,
    URIs: c.uris ? c.uris.map(goURL) : null,
  };
}

// ---- private keys ----

export interface PrivateKey {
  key: KeyObject;
  /** Go's JSON of the key (*rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey) */
  goJSON: J;
  /** JWK (OPA's crypto.x509.parse_rsa_private_key output) */
  jwk: Record<string, J>;
}

function privateKeyInfo(key: KeyObject): PrivateKey {
  const jwk = key.export({ format: "jwk" }) as Record<string, string>;
  switch (key.asymmetricKeyType) {
    case "rsa": {
      const goJSON = {
        N: bigFromB64url(jwk.n!),
        E: bigFromB64url(jwk.e!),
        D: bigFromB64url(jwk.d!),
        Primes: [bigFromB64url(jwk.p!), bigFromB64url(jwk.q!)],
        Precomputed: {
          Dp: bigFromB64url(jwk.dp!),
          Dq: bigFromB64url(jwk.dq!),
          Qinv: bigFromB64url(jwk.qi!),
          CRTValues: [],
        },
      };
      return { key, goJSON, jwk: { ...jwk } };
    }
    case "ec":
      return {
        key,
        goJSON: { Curve: {}, X: bigFromB64url(jwk.x!), Y: bigFromB64url(jwk.y!), D: bigFromB64url(jwk.d!) },
        jwk: { ...jwk },
      };
    case "ed25519":
      return {
        key,
        goJSON: Buffer.concat([Buffer.from(jwk.d!, "base64url"), Buffer.from(jwk.x!, "base64url")]).toString(
          "base64",
        ),
        jwk: { ...jwk },
      };
  }
  throw new X509Error("x509: unsupported private key type");
}

export function parsePKCS1PrivateKey(der: Uint8Array): PrivateKey {
  try {
    return privateKeyInfo(createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs1" }));
  } catch (e) {
    if (e instanceof X509Error) throw e;
    throw new X509Error(
      "x509: failed to parse private key (use ParsePKCS8PrivateKey instead for this key format)",
    );
  }
}

export function parsePKCS8PrivateKey(der: Uint8Array): PrivateKey {
  try {
    return privateKeyInfo(createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" }));
  } catch (e) {
    if (e instanceof X509Error) throw e;
    throw new X509Error(
      "x509: failed to parse private key (use ParsePKCS1PrivateKey instead for this key format)",
    );
  }
}

export function parseECPrivateKey(der: Uint8Array): PrivateKey {
  try {
    return privateKeyInfo(createPrivateKey({ key: Buffer.from(der), format: "der", type: "sec1" }));
  } catch (e) {
    if (e instanceof X509Error) throw e;
    throw new X509Error("x509: failed to parse EC private key");
  }
}

/** OPA's getPrivateKeysFromPEMData. */
export function privateKeysFromPEM(pemData: string): PrivateKey[] {
  let s = pemData;
  try {
    s = latin1(goBase64Decode(s));
  } catch {
    s = Buffer.from(pemData, "utf8").toString("latin1");
  }
  const keys: PrivateKey[] = [];
  let rest = s;
  while (rest.length > 0) {
    const before = rest.length;
    const { block, rest: r } = pemDecode(rest);
    rest = block ? r : rest;
    if (!block) break;
    if (before === rest.length) break;
    switch (block.type) {
      case "RSA PRIVATE KEY":
        keys.push(parsePKCS1PrivateKey(block.bytes));
        break;
      case "PRIVATE KEY":
        keys.push(parsePKCS8PrivateKey(block.bytes));
        break;
      case "EC PRIVATE KEY":
        keys.push(parseECPrivateKey(block.bytes));
        break;
    }
  }
  return keys;
}

/** crypto/tls.X509KeyPair, returning Go's JSON of tls.Certificate. */
export function x509KeyPair(certPEM: string, keyPEM: string): J {
  const certs: Buffer[] = [];
  let skipped: string[] = [];
  let rest = certPEM;
  for (;;) {
    const { block, rest: r } = pemDecode(rest);
    if (!block) break;
    rest = r;
    if (block.type === "CERTIFICATE") certs.push(block.bytes);
    else skipped.push(block.type);
  }
  if (certs.length === 0) {
    if (skipped.length === 0) throw new X509Error("tls: failed to find any PEM data in certificate input");
    if (skipped.length === 1 && skipped[0]!.endsWith("PRIVATE KEY")) {
      throw new X509Error(
        "tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched",
      );
    }
    throw new X509Error(
      `tls: failed to find "CERTIFICATE" PEM block in certificate input after skipping PEM blocks of the following types: [${skipped.join(" ")}]`,
    );
  }
  skipped = [];
  rest = keyPEM;
  let keyBlock: PemBlock;
  for (;;) {
    const { block, rest: r } = pemDecode(rest);
    if (!block) {
      if (skipped.length === 0) throw new X509Error("tls: failed to find any PEM data in key input");
      if (skipped.length === 1 && skipped[0] === "CERTIFICATE") {
        throw new X509Error("tls: found a certificate rather than a key in the PEM for the private key");
      }
      throw new X509Error(
        `tls: failed to find PEM block with type ending in "PRIVATE KEY" in key input after skipping PEM blocks of the following types: [${skipped.join(" ")}]`,
      );
    }
    rest = r;
    if (block.type === "PRIVATE KEY" || block.type.endsWith(" PRIVATE KEY")) {
      keyBlock = block;
      break;
    }
    skipped.push(block.type);
  }
  const leaf = parseCertificateStrict(certs[0]!);
  let priv: PrivateKey | null = null;
  for (const parse of [parsePKCS1PrivateKey, parsePKCS8PrivateKey, parseECPrivateKey]) {
    try {
      priv = parse(keyBlock.bytes);
      break;
    } catch {
      // try the next format, as Go's tls.parsePrivateKey does
    }
  }
  if (!priv) throw new X509Error("tls: failed to parse private key");
  const pub = leaf.json.PublicKey as Record<string, J> | string | null;
  const kt = priv.key.asymmetricKeyType;
  const mismatch = (): never => {
    throw new X509Error("tls: private key does not match public key");
  };
  switch (leaf.publicKeyAlgorithm) {
    case 1:
      if (kt !== "rsa") throw new X509Error("tls: private key type does not match public key type");
      if ((pub as Record<string, J>).N !== (priv.goJSON as Record<string, J>).N) mismatch();
      break;
    case 3:
      if (kt !== "ec") throw new X509Error("tls: private key type does not match public key type");
      if (
        (pub as Record<string, J>).X !== (priv.goJSON as Record<string, J>).X ||
        (pub as Record<string, J>).Y !== (priv.goJSON as Record<string, J>).Y
      ) {
        mismatch();
      }
      break;
    case 4:
      if (kt !== "ed25519") throw new X509Error("tls: private key type does not match public key type");
      if (
        Buffer.from(priv.goJSON as string, "base64")
          .subarray(32)
          .toString("base64") !== pub
      )
        mismatch();
      break;
    default:
      throw new X509Error("tls: unknown public key algorithm");
  }
  return {
    Certificate: certs.map((c) => c.toString("base64")),
    PrivateKey: priv.goJSON,
    SupportedSignatureAlgorithms: null,
    OCSPStaple: null,
    SignedCertificateTimestamps: null,
    Leaf: leaf.json,
  };
}

/** A public key (KeyObject) from a certificate, for signature checks. */
export function certPublicKey(c: Cert): KeyObject {
  try {
    return new X509Certificate(Buffer.from(c.der)).publicKey;
  } catch {
    // node cannot load some keys from certificates; fall back to the SPKI
    const spki = Buffer.from((c.json.RawSubjectPublicKeyInfo as string) ?? "", "base64");
    return createPublicKey({ key: spki, format: "der", type: "spki" });
  }
}

// ---- chain verification (x509.Certificate.Verify) ----

export interface VerifyOptions {
  dnsName: string;
  /** ms since epoch; default now */
  currentTime: number | null;
  keyUsages: number[];
}

const KEY_USAGE_CERT_SIGN = 1 << 5;
const EKU_ANY = 0;
const EKU_SERVER_AUTH = 1;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

function checkSignatureFrom(child: Cert, parent: Cert): boolean {
  if (
    (parent.version === 3 && !parent.basicConstraintsValid) ||
    (parent.basicConstraintsValid && !parent.isCA)
  ) {
    return false;
  }
  if (parent.keyUsage !== 0 && (parent.keyUsage & KEY_USAGE_CERT_SIGN) === 0) return false;
  if (parent.publicKeyAlgorithm === 0) return false;
  // Go refuses MD2/MD5/SHA-1 signatures when verifying chains.
  if (SIG_ALG_NAMES[child.signatureAlgorithm] !== undefined || child.signatureAlgorithm === 0) return false;
  try {
    return new X509Certificate(Buffer.from(child.der)).verify(certPublicKey(parent));
  } catch {
    return false;
  }
}

function matchHostname(pattern: string, host: string): boolean {
  pattern = pattern.toLowerCase().replace(/\.$/, "");
  host = host.toLowerCase().replace(/\.$/, "");
  if (pattern === host) return true;
  if (!pattern.startsWith("*.")) return false;
  const dot = host.indexOf(".");
  return dot > 0 && host.slice(dot) === pattern.slice(1);
}

function verifyHostname(c: Cert, h: string): boolean {
  let host = h;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const ipLike = /^[0-9.]+$/.test(host) || host.includes(":");
  if (ipLike) return (c.ipAddresses ?? []).some((ip) => ipText(ip) === host);
  return (c.dnsNames ?? []).some((n) => matchHostname(n, host));
}

/**
 * Verifies the chain OPA builds from a list (first = root, last = leaf,
 * the rest intermediates) and returns the first chain found, leaf first.
 */
export function verifyChain(certs: Cert[], opts: VerifyOptions): Cert[] {
  if (certs.length < 2) throw new X509Error("must supply at least two certificates to be able to verify");
  const roots = [certs[0]!];
  const intermediates = certs.slice(1, -1);
  const leaf = certs[certs.length - 1]!;
  const now = opts.currentTime ?? Date.now();
  const timeOK = (c: Cert): boolean => now >= c.notBefore && now <= c.notAfter;
  if (!timeOK(leaf)) throw new X509Error("x509: certificate has expired or is not yet valid");
  if (opts.dnsName && !verifyHostname(leaf, opts.dnsName)) {
    throw new X509Error(`x509: certificate is not valid for ${opts.dnsName}`);
  }
  let found: Cert[] | null = null;
  const build = (chain: Cert[], depth: number): void => {
    if (found || depth > 100) return;
    const c = chain[chain.length - 1]!;
    const consider = (candidate: Cert, isRoot: boolean): void => {
      if (found) return;
      if (chain.some((x) => sameBytes(x.der, candidate.der))) return;
      if (!sameBytes(c.rawIssuer, candidate.rawSubject)) return;
      if (!checkSignatureFrom(c, candidate)) return;
      if (!timeOK(candidate)) return;
      if (!isRoot && (!candidate.basicConstraintsValid || !candidate.isCA)) return;
      if (
        candidate.basicConstraintsValid &&
        candidate.maxPathLen >= 0 &&
        chain.length - 1 > candidate.maxPathLen
      )
        return;
      const next = [...chain, candidate];
      if (isRoot) found = next;
      else build(next, depth + 1);
    };
    for (const r of roots) consider(r, true);
    for (const i of intermediates) consider(i, false);
  };
  if (roots.some((r) => sameBytes(r.der, leaf.der))) found = [leaf];
  else build([leaf], 0);
  if (!found) throw new X509Error("x509: certificate signed by unknown authority");
  const usages = opts.keyUsages.length === 0 ? [EKU_SERVER_AUTH] : opts.keyUsages;
  if (!usages.includes(EKU_ANY)) {
    let remaining = [...usages];
    for (const c of [...(found as Cert[])].reverse()) {
      if (!c.extKeyUsage && !c.unknownExtKeyUsage) continue;
      const ekus = c.extKeyUsage ?? [];
      if (ekus.includes(EKU_ANY)) continue;
      remaining = remaining.filter(
        (u) => ekus.includes(u) || (u === EKU_SERVER_AUTH && (ekus.includes(10) || ekus.includes(11))),
      );
      if (remaining.length === 0)
        throw new X509Error("x509: certificate specifies an incompatible key usage");
    }
  }
  return found;
}

export const EXT_KEY_USAGE_NAMES: Record<string, number> = {
  KeyUsageAny: 0,
  KeyUsageServerAuth: 1,
  KeyUsageClientAuth: 2,
  KeyUsageCodeSigning: 3,
  KeyUsageEmailProtection: 4,
  KeyUsageIPSECEndSystem: 5,
  KeyUsageIPSECTunnel: 6,
  KeyUsageIPSECUser: 7,
  KeyUsageTimeStamping: 8,
  KeyUsageOCSPSigning: 9,
  KeyUsageMicrosoftServerGatedCrypto: 10,
  KeyUsageNetscapeServerGatedCrypto: 11,
  KeyUsageMicrosoftCommercialCodeSigning: 12,
  KeyUsageMicrosoftKernelCodeSigning: 13,
};
