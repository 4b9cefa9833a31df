// Go's net.IP / net.IPNet as OPA's cidr builtins use them: parsing (net.ParseIP,
// net.ParseCIDR, which go through netip.ParseAddr: no leading zeros in IPv4,
// no zones), containment, and printing, byte for byte like Go, including how
// IPv4 addresses live in IPv4-mapped IPv6 form (::ffff:a.b.c.d).

export type IP = Uint8Array; // 4 or 16 bytes

export interface IPNet {
  ip: IP;
  mask: Uint8Array;
}

export class NetParseError extends Error {}

const V4_IN_V6_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function parseIPv4Fields(s: string, out: Uint8Array, at: number): boolean {
  const parts = s.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (p.length === 0 || p.length > 3 || !/^[0-9]+$/.test(p)) return false;
    if (p.length > 1 && p[0] === "0") return false; // netip rejects leading zeros
    const v = Number(p);
    if (v > 255) return false;
    out[at + i] = v;
  }
  return true;
}

function parseIPv6(s: string): Uint8Array | null {
  const ip = new Uint8Array(16);
  let ellipsis = -1;
  if (s.startsWith("::")) {
    ellipsis = 0;
    s = s.slice(2);
    if (s.length === 0) return ip;
  }
  let i = 0;
  while (i < 16) {
    let off = 0;
    let acc = 0;
    for (; off < s.length; off++) {
      const d = parseInt(s[off]!, 16);
      if (Number.isNaN(d) || !/[0-9a-fA-F]/.test(s[off]!)) break;
      acc = acc * 16 + d;
      if (off > 3 || acc > 0xffff) return null;
    }
    if (off === 0) return null;
    if (off < s.length && s[off] === ".") {
      if ((ellipsis < 0 && i !== 12) || i + 4 > 16) return null;
      if (!parseIPv4Fields(s, ip, i)) return null;
      s = "";
      i += 4;
      break;
    }
    ip[i] = acc >> 8;
    ip[i + 1] = acc & 0xff;
    i += 2;
    s = s.slice(off);
    if (s.length === 0) break;
    if (s[0] !== ":" || s.length === 1) return null;
    s = s.slice(1);
    if (s[0] === ":") {
      if (ellipsis >= 0) return null;
      ellipsis = i;
      s = s.slice(1);
      if (s.length === 0) break;
    }
  }
  if (s.length !== 0) return null;
  if (i < 16) {
    if (ellipsis < 0) return null;
    const n = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) ip[j + n] = ip[j]!;
    ip.fill(0, ellipsis, ellipsis + n);
  } else if (ellipsis >= 0) {
    return null;
  }
  return ip;
}

interface Addr {
  /** 16-byte form */
  b16: Uint8Array;
  /** written as IPv4 (not IPv4-mapped IPv6) */
  is4: boolean;
}

/** netip.ParseAddr without zones (net.ParseIP / ParseCIDR reject them). */
function parseAddr(s: string): Addr | null {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === ".") {
      const b16 = new Uint8Array(16);
      b16.set(V4_IN_V6_PREFIX);
      return parseIPv4Fields(s, b16, 12) ? { b16, is4: true } : null;
    }
    if (c === ":") {
      if (s.includes("%")) return null;
      const b16 = parseIPv6(s);
      return b16 ? { b16, is4: false } : null;
    }
    if (c === "%") return null;
  }
  return null;
}

/** net.ParseIP: a 16-byte IP, or null. */
export function parseIP(s: string): IP | null {
  return parseAddr(s)?.b16 ?? null;
}

export function to4(ip: IP): IP | null {
  if (ip.length === 4) return ip;
  if (ip.length === 16 && V4_IN_V6_PREFIX.every((b, i) => ip[i] === b)) return ip.slice(12);
  return null;
}

export function cidrMask(ones: number, bits: number): Uint8Array {
  const m = new Uint8Array(bits / 8);
  for (let i = 0; i < m.length; i++) {
    const n = Math.max(0, Math.min(8, ones - i * 8));
    m[i] = (0xff << (8 - n)) & 0xff;
  }
  return m;
}

/** net.IP.Mask */
export function maskIP(ip: IP, mask: Uint8Array): IP | null {
  if (mask.length === 16 && ip.length === 4 && mask.slice(0, 12).every((b) => b === 0xff))
    mask = mask.slice(12);
  if (mask.length === 4 && ip.length === 16 && V4_IN_V6_PREFIX.every((b, i) => ip[i] === b))
    ip = ip.slice(12);
  if (ip.length !== mask.length) return null;
  return ip.map((b, i) => b & mask[i]!);
}

/** net.ParseCIDR: the address and its network. */
export function parseCIDR(s: string): { ip: IP; net: IPNet } {
  const fail = (): NetParseError => new NetParseError(`invalid CIDR address: ${s}`);
  const slash = s.indexOf("/");
  if (slash < 0) throw fail();
  const addr = parseAddr(s.slice(0, slash));
  if (!addr) throw fail();
  const maskText = s.slice(slash + 1);
  if (!/^[0-9]+$/.test(maskText) || maskText.length > 7) throw fail();
  const n = Number(maskText);
  const bits = addr.is4 ? 32 : 128;
  if (n > bits) throw fail();
  const mask = cidrMask(n, bits);
  return { ip: addr.b16, net: { ip: maskIP(addr.b16, mask)!, mask } };
}

function networkNumberAndMask(n: IPNet): { ip: IP; mask: Uint8Array } | null {
  let ip = to4(n.ip);
  if (!ip) {
    ip = n.ip;
    if (ip.length !== 16) return null;
  }
  let m = n.mask;
  if (m.length === 4) {
    if (ip.length !== 4) return null;
  } else if (m.length === 16) {
    if (ip.length === 4) m = m.slice(12);
  } else {
    return null;
  }
  return { ip, mask: m };
}

/** net.IPNet.Contains */
export function contains(n: IPNet, ip: IP): boolean {
  const nm = networkNumberAndMask(n);
  if (!nm) return false;
  const x = to4(ip);
  if (x) ip = x;
  if (ip.length !== nm.ip.length) return false;
  for (let i = 0; i < ip.length; i++) if ((nm.ip[i]! & nm.mask[i]!) !== (ip[i]! & nm.mask[i]!)) return false;
  return true;
}

/** net.IPMask.Size: [ones, bits], or [0, 0] for a non-canonical mask. */
export function maskSize(m: Uint8Array): [number, number] {
  let ones = 0;
  let i = 0;
  for (; i < m.length && m[i] === 0xff; i++) ones += 8;
  if (i < m.length) {
    let b = m[i]!;
    while (b & 0x80) {
      ones++;
      b = (b << 1) & 0xff;
    }
    if (b !== 0) return [0, 0];
    for (i++; i < m.length; i++) if (m[i] !== 0) return [0, 0];
  }
  return [ones, m.length * 8];
}

export function ipToBigInt(ip: IP): bigint {
  let v = 0n;
  for (const b of ip) v = (v << 8n) | BigInt(b);
  return v;
}

export function bigIntToIP(v: bigint, len: number): IP {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** OPA's getLastIP: the last address of a network (same length as its IP). */
export function lastIP(n: IPNet): IP {
  const [ones, bits] = maskSize(n.mask);
  if (ones === 0 && bits === 0) throw new NetParseError("CIDR mask is in non-standard format");
  if (ones === bits) return n.ip;
  const first = ipToBigInt(n.ip);
  const last = first | ((1n << BigInt(bits - ones)) - 1n);
  return bigIntToIP(last, bits / 8);
}

function ipv6String(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // Longest run (≥2) of zero groups, first one on ties (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.map((g) => g.toString(16)).join(":");
  const head = groups
    .slice(0, best)
    .map((g) => g.toString(16))
    .join(":");
  const tail = groups
    .slice(best + bestLen)
    .map((g) => g.toString(16))
    .join(":");
  return `${head}::${tail}`;
}

/** net.IP.String */
export function ipString(ip: IP): string {
  if (ip.length === 0) return "<nil>";
  if (ip.length !== 4 && ip.length !== 16) return "?" + Buffer.from(ip).toString("hex");
  const p4 = to4(ip);
  if (p4) return Array.from(p4).join(".");
  return ipv6String(ip);
}

/** net.IPNet.String */
export function netString(n: IPNet): string {
  const nm = networkNumberAndMask(n);
  if (!nm) return "<nil>";
  const [ones, bits] = maskSize(nm.mask);
  if (ones === 0 && bits === 0) return `${ipString(nm.ip)}/${Buffer.from(nm.mask).toString("hex")}`;
  return `${ipString(nm.ip)}/${ones}`;
}

/** net.IP.DefaultMask: the classful mask of an IPv4 address. */
export function defaultMask(ip4: IP): Uint8Array {
  if (ip4[0]! < 0x80) return cidrMask(8, 32);
  if (ip4[0]! < 0xc0) return cidrMask(16, 32);
  return cidrMask(24, 32);
}

export const V4_MAPPED_BASE = 0xffffn << 32n;
