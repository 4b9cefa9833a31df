// uuid.rfc4122 (random v4, the same for the same argument within one query)
// and uuid.parse (google/uuid's accepted forms, OPA's decoded fields).
import { randomBytes } from "node:crypto";
import type { BuiltinDef } from "./registry.js";
import { def, strArg } from "./lib/args.js";
import { toJSONText, type Value } from "../value.js";
import { numFromBigInt } from "../number.js";

function newUUIDv4(): string {
  const b = randomBytes(16);
  b[8] = (b[8]! & 0x3f) | 0x80;
  b[6] = (b[6]! & 0x0f) | 0x40;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const HEX = /^[0-9a-fA-F]*$/;

/** google/uuid.Parse: 36-char canonical, urn:uuid: prefix, {braced}, or 32 hex digits. */
export function parseUUIDBytes(input: string): Uint8Array | null {
  let s = input;
  switch (s.length) {
    case 36:
      break;
    case 36 + 9:
      if (s.slice(0, 9).toLowerCase() !== "urn:uuid:") return null;
      s = s.slice(9);
      break;
    case 36 + 2:
      if (s[0] !== "{" || s[37] !== "}") return null;
      s = s.slice(1, 37);
      break;
    case 32:
      if (!HEX.test(s)) return null;
      return Uint8Array.from(Buffer.from(s, "hex"));
    default:
      return null;
  }
  if (s[8] !== "-" || s[13] !== "-" || s[18] !== "-" || s[23] !== "-") return null;
  const hex = s.slice(0, 8) + s.slice(9, 13) + s.slice(14, 18) + s.slice(19, 23) + s.slice(24);
  if (hex.length !== 32 || !HEX.test(hex)) return null;
  return Uint8Array.from(Buffer.from(hex, "hex"));
}

function variantName(b8: number): string {
  if ((b8 & 0xc0) === 0x80) return "RFC4122";
  if ((b8 & 0xe0) === 0xc0) return "Microsoft";
  if ((b8 & 0xe0) === 0xe0) return "Future";
  return "Reserved";
}

function macVars(b: number): string {
  if ((b & 0b11) === 0b11) return "local:multicast";
  if ((b & 0b01) === 0b01) return "global:multicast";
  if ((b & 0b10) === 0b10) return "local:unicast";
  return "global:unicast";
}

// 100ns intervals between 1582-10-15 and 1970-01-01.
const G1582_NS100 = 122192928000000000n;

function uuidFields(u: Uint8Array): Value {
  const version = u[6]! >> 4;
  const out: Record<string, Value> = Object.create(null) as Record<string, Value>;
  out.version = version;
  out.variant = variantName(u[8]!);
  if (version === 1 || version === 2) {
    const dv = new DataView(u.buffer, u.byteOffset, 16);
    const t =
      BigInt(dv.getUint32(0)) | (BigInt(dv.getUint16(4)) << 32n) | (BigInt(dv.getUint16(6) & 0xfff) << 48n);
    // google/uuid's UnixTime: truncating division, then back to ns.
    const rel = t - G1582_NS100;
    const nsec = (rel % 10000000n) * 100n;
    const sec = rel / 10000000n;
    out.time = numFromBigInt(sec * 1000000000n + nsec);
    out.nodeid = Array.from(u.slice(10, 16), (x) => x.toString(16).padStart(2, "0")).join("-");
    out.macvariables = macVars(u[10]!);
    out.clocksequence = dv.getUint16(8) & 0x3fff;
    if (version === 2) {
      out.id = dv.getUint32(0);
      const d = u[9]!;
      out.domain = d === 0 ? "Person" : d === 1 ? "Group" : d === 2 ? "Org" : `Domain${d}`;
    }
  }
  return out;
}

export const builtins: BuiltinDef[] = [
  def(
    "uuid.rfc4122",
    1,
    (args, ctx) => {
      const key = `uuid.rfc4122\u0000${toJSONText(args[0]!)}`;
      const cached = ctx.memo.get(key);
      if (cached !== undefined) return cached;
      const v = newUUIDv4();
      ctx.memo.set(key, v);
      return v;
    },
    { nondeterministic: true },
  ),
  def("uuid.parse", 1, (args) => {
    const s = strArg("uuid.parse", args[0]!, 1);
    const u = parseUUIDBytes(s);
    return u ? uuidFields(u) : undefined;
  }),
];
