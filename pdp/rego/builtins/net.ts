// The net.cidr_* family (OPA's topdown/cidr.go) on top of a port of Go's
// net.IP/IPNet behaviour (lib/cidr.ts). net.lookup_ip_addr needs DNS and is
// deliberately not provided (see UNSUPPORTED_BUILTINS).
import type { BuiltinDef } from "./registry.js";
import { BuiltinError } from "./registry.js";
import { builtinErr, def, strArg } from "./lib/args.js";
import {
  bigIntToIP,
  contains,
  defaultMask,
  ipString,
  ipToBigInt,
  lastIP,
  maskIP,
  netString,
  NetParseError,
  parseCIDR,
  parseIP,
  to4,
  V4_MAPPED_BASE,
  type IPNet,
} from "./lib/cidr.js";
import { isArray, isObject, isSet, makeSet, objectEntries, type Value } from "../value.js";

function netOf(name: string, v: Value, pos = 1): IPNet {
  const s = strArg(name, v, pos);
  try {
    return parseCIDR(s).net;
  } catch (e) {
    if (e instanceof NetParseError) throw builtinErr(name, e.message);
    throw e;
  }
}

/** OPA's builtinNetCIDRContains (OPA reports both operands as "operand 1"). */
function cidrContains(name: string, a: Value, b: Value): boolean {
  const netA = netOf(name, a);
  const bStr = strArg(name, b, 1);
  const ip = parseIP(bStr);
  if (ip) return contains(netA, ip);
  let netB: IPNet;
  try {
    netB = parseCIDR(bStr).net;
  } catch {
    throw builtinErr(name, `not a valid textual representation of an IP address or CIDR: ${bStr}`);
  }
  if (!contains(netA, netB.ip)) return false;
  try {
    return contains(netA, lastIP(netB));
  } catch (e) {
    if (e instanceof NetParseError) throw builtinErr(name, e.message);
    throw e;
  }
}

/** The (cidr, index) pairs of a cidr_contains_matches operand. */
function matchTerms(name: string, pos: number, v: Value): [Value, Value][] {
  const cidrOf = (x: Value): Value => {
    if (typeof x === "string") return x;
    if (isArray(x) && x.length > 0) return x[0]!;
    throw builtinErr(name, `operand ${pos}: element must be string or non-empty array`);
  };
  if (typeof v === "string") return [[v, v]];
  if (isArray(v)) return v.map((x, i) => [cidrOf(x), i]);
  if (isSet(v)) return v.sorted().map((x) => [cidrOf(x), x]);
  if (isObject(v)) return objectEntries(v).map(([k, x]) => [cidrOf(x), k]);
  return [];
}

// net.cidr_expand materialises every address; refuse ranges that cannot fit in memory.
const MAX_EXPAND_BITS = 20;

function cidrExpand(name: string, s: string): Value {
  let ip: Uint8Array;
  let net: IPNet;
  try {
    ({ ip, net } = parseCIDR(s));
  } catch (e) {
    if (e instanceof NetParseError) throw builtinErr(name, e.message);
    throw e;
  }
  const first = maskIP(ip, net.mask)!;
  const hostBits = net.mask.length * 8 - net.mask.reduce((n, b) => n + popcount(b), 0);
  if (hostBits > MAX_EXPAND_BITS) {
    throw new BuiltinError("eval_builtin_error", `${name}: timed out before generating all IP addresses`);
  }
  const start = ipToBigInt(first);
  const count = 1n << BigInt(hostBits);
  const out: Value[] = [];
  for (let i = 0n; i < count; i++) out.push(ipString(bigIntToIP(start + i, first.length)));
  return makeSet(out);
}

function popcount(b: number): number {
  let n = 0;
  for (; b; b &= b - 1) n++;
  return n;
}

// ---- cidr_merge ----

interface Block {
  first: bigint;
  last: bigint;
  /** the operand's own network when not merged with another */
  net: IPNet | null;
}

const V4_SPACE = V4_MAPPED_BASE;
const isV4 = (x: bigint): boolean => x >= V4_SPACE && x < V4_SPACE + (1n << 32n);

/** OPA's generateIPNet: a bare IPv4 address gets its classful mask; IPv6 needs a prefix. */
function mergeOperand(name: string, x: Value): IPNet {
  if (typeof x !== "string") throw builtinErr(name, "element must be string");
  const ip = parseIP(x);
  if (!ip) {
    try {
      return parseCIDR(x).net;
    } catch (e) {
      if (e instanceof NetParseError) throw builtinErr(name, e.message);
      throw e;
    }
  }
  const v4 = to4(ip);
  if (v4) return { ip, mask: defaultMask(v4) };
  throw builtinErr(name, "IPv6 invalid: needs prefix length");
}

/** First and last address as 128-bit integers, IPv4 in the ::ffff:0:0/96 space (Go's GetAddressRange). */
function addressRange(n: IPNet): [bigint, bigint] {
  const first = maskIP(n.ip, n.mask)!;
  const bits = first.length * 8;
  let lo = ipToBigInt(first);
  const ones = n.mask.reduce((c, b) => c + popcount(b), 0);
  let hi = lo | ((1n << BigInt(bits - ones)) - 1n);
  if (to4(first)) {
    const base = first.length === 4 ? V4_SPACE : 0n;
    lo += base;
    hi += base;
  }
  return [lo, hi];
}

/** Minimal CIDR cover of [first, last] (unique, so it equals Go's RangeToCIDRs). */
function rangeToCIDRs(first: bigint, last: bigint): string[] {
  const v4 = isV4(first);
  const base = v4 ? V4_SPACE : 0n;
  const bits = v4 ? 32 : 128;
  let a = first - base;
  const b = last - base;
  const out: string[] = [];
  while (a <= b) {
    let size = 0;
    while (
      size < bits &&
      (a & ((1n << BigInt(size + 1)) - 1n)) === 0n &&
      a + (1n << BigInt(size + 1)) - 1n <= b
    ) {
      size++;
    }
    out.push(`${ipString(bigIntToIP(a, bits / 8))}/${bits - size}`);
    a += 1n << BigInt(size);
  }
  return out;
}

function cidrMerge(name: string, v: Value): Value {
  let items: Value[];
  if (isArray(v)) items = v;
  else if (isSet(v)) items = v.sorted();
  else throw builtinErr(name, "operand must be an array");
  const blocks: Block[] = items.map((x) => {
    const net = mergeOperand(name, x);
    const [first, last] = addressRange(net);
    return { first, last, net };
  });
  blocks.sort((p, q) =>
    p.last !== q.last ? (p.last < q.last ? -1 : 1) : p.first < q.first ? -1 : p.first > q.first ? 1 : 0,
  );
  for (let i = blocks.length - 1; i > 0; i--) {
    const cur = blocks[i]!;
    const prev = blocks[i - 1]!;
    // Go's GetPreviousIP never goes below 0.0.0.0 / ::.
    const before = cur.first === 0n || cur.first === V4_SPACE ? cur.first : cur.first - 1n;
    if (before <= prev.last) {
      blocks[i - 1] = { first: prev.first < cur.first ? prev.first : cur.first, last: cur.last, net: null };
      blocks.splice(i, 1);
    }
  }
  const out: string[] = [];
  for (const b of blocks) {
    if (b.net) out.push(netString(b.net));
    else out.push(...rangeToCIDRs(b.first, b.last));
  }
  return makeSet(out);
}

export const builtins: BuiltinDef[] = [
  def("net.cidr_contains", 2, (args) => cidrContains("net.cidr_contains", args[0]!, args[1]!)),
  def("net.cidr_overlap", 2, (args) => cidrContains("net.cidr_overlap", args[0]!, args[1]!)),
  def("net.cidr_intersects", 2, (args) => {
    const name = "net.cidr_intersects";
    const a = netOf(name, args[0]!);
    const b = netOf(name, args[1]!);
    return contains(a, b.ip) || contains(b, a.ip);
  }),
  def("net.cidr_contains_matches", 2, (args) => {
    const name = "net.cidr_contains_matches";
    const out: Value[] = [];
    for (const [c1, i1] of matchTerms(name, 1, args[0]!)) {
      for (const [c2, i2] of matchTerms(name, 2, args[1]!)) {
        if (cidrContains(name, c1, c2)) out.push([i1, i2]);
      }
    }
    return makeSet(out);
  }),
  def("net.cidr_expand", 1, (args) => cidrExpand("net.cidr_expand", strArg("net.cidr_expand", args[0]!, 1))),
  def("net.cidr_is_valid", 1, (args) => {
    const s = args[0]!;
    if (typeof s !== "string") return false;
    try {
      parseCIDR(s);
      return true;
    } catch {
      return false;
    }
  }),
  def("net.cidr_merge", 1, (args) => cidrMerge("net.cidr_merge", args[0]!)),
];
