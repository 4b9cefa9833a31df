// A strict tar reader and a deterministic tar writer, over in-memory buffers (a bundle is bounded
// before it gets here, so streaming buys nothing). The reader understands what `opa build` (Go's
// archive/tar), GNU tar and bsdtar write — ustar names with prefixes, PAX `path`/`size` records, GNU
// long names — and refuses every entry that is not a regular file or a directory: links, devices and
// FIFOs make an archive mean different things to different extractors.
import { normalizeEntryName } from "./paths.js";
import { BundleError, type BundleLimits } from "./types.js";

export interface TarEntry {
  /** The normalised bundle-relative path. */
  path: string;
  /** The name as written in the archive, for messages. */
  rawName: string;
  data: Buffer;
}

const BLOCK = 512;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function corrupt(message: string): BundleError {
  return new BundleError("archive", `corrupt archive: ${message}`);
}

function cstring(b: Buffer): Buffer {
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

function decodeName(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new BundleError("archive", "unsafe entry name: not valid UTF-8");
  }
}

/** An octal field (space/NUL padded), or GNU base-256 when the high bit is set. */
function numeric(field: Buffer, what: string): number {
  if (field[0]! & 0x80) {
    // Base-256: only sizes beyond 8 GiB use it, and no bundle may be that large.
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) {
      n = n * 256 + field[i]!;
      if (n > Number.MAX_SAFE_INTEGER) throw corrupt(`${what} out of range`);
    }
    return n;
  }
  const text = field
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .replace(/^ +/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw corrupt(`bad ${what} field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  const stored = numeric(header.subarray(148, 156), "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : header[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  // Some historic writers summed signed bytes; both forms are valid.
  return stored === unsigned || stored === signed;
}

/** PAX extended header records: `<len> <key>=<value>\n`, len counting the whole record. */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp < 0) throw corrupt("malformed PAX header");
    const len = Number(data.subarray(pos, sp).toString("latin1"));
    if (!Number.isInteger(len) || len <= sp - pos + 1 || pos + len > data.length) {
      throw corrupt("malformed PAX record length");
    }
    const rec = data.subarray(sp + 1, pos + len);
    if (rec[rec.length - 1] !== 0x0a) throw corrupt("malformed PAX record");
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw corrupt("malformed PAX record");
    out.set(rec.subarray(0, eq).toString("utf8"), decodeName(rec.subarray(eq + 1, rec.length - 1)));
    pos += len;
  }
  return out;
}

/**
 * The regular files of an (uncompressed) tar archive, in archive order, with safe normalised paths.
 * Throws BundleError("archive") for a corrupt archive, a link/device/FIFO entry, an unsafe or
 * duplicate name, or more entries or bigger files than the limits allow.
 */
export function readTar(buf: Buffer, limits: Pick<BundleLimits, "maxFileBytes" | "maxFiles">): TarEntry[] {
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  let offset = 0;
  let paxPath: string | undefined;
  let paxSize: number | undefined;
  let longName: string | undefined;
  let ended = false;

  while (offset + BLOCK <= buf.length) {
    const header = buf.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) {
      ended = true;
      break;
    }
    if (!checksumOk(header)) throw corrupt(`bad header checksum at offset ${offset}`);
    const type = String.fromCharCode(header[156]!);
    let size = numeric(header.subarray(124, 136), "size");
    if (paxSize !== undefined && (type === "0" || type === "\0" || type === "7")) size = paxSize;
    const start = offset + BLOCK;
    if (start + size > buf.length) throw corrupt("truncated entry");
    if (size > limits.maxFileBytes) {
      throw new BundleError(
        "archive",
        `archive entry of ${size} bytes exceeds the limit of ${limits.maxFileBytes} bytes`,
      );
    }
    const data = buf.subarray(start, start + size);
    offset = start + Math.ceil(size / BLOCK) * BLOCK;

    // A PAX path or a GNU long name replaces the header's own (possibly truncated) name.
    let name = paxPath ?? longName;
    if (name === undefined) {
      name = decodeName(cstring(header.subarray(0, 100)));
      if (header.subarray(257, 263).toString("latin1") === "ustar\0") {
        // POSIX ustar: a prefix field extends the name (GNU's "ustar  " uses those bytes otherwise).
        const prefix = decodeName(cstring(header.subarray(345, 500)));
        if (prefix !== "") name = `${prefix}/${name}`;
      }
    }

    switch (type) {
      case "x": {
        const rec = paxRecords(data);
        paxPath = rec.get("path");
        const s = rec.get("size");
        if (s !== undefined) {
          if (!/^\d{1,15}$/.test(s)) throw corrupt("bad PAX size");
          paxSize = Number(s);
        }
        continue;
      }
      case "g":
        continue; // global PAX defaults (mtime, charset, …) do not change what a file is
      case "L":
        longName = decodeName(cstring(data));
        continue;
      case "K":
        continue; // a long link name; the link entry it belongs to is refused below
      case "0":
      case "\0":
      case "7":
      case "5": {
        const isDir = type === "5";
        const path = normalizeEntryName(name, isDir || (type === "\0" && name.endsWith("/")));
        paxPath = paxSize = longName = undefined;
        if (path === undefined || isDir || name.endsWith("/")) continue;
        if (seen.has(path))
          throw new BundleError("archive", `duplicate archive entry ${JSON.stringify(path)}`);
        seen.add(path);
        if (entries.length >= limits.maxFiles) {
          throw new BundleError("archive", `archive has more than ${limits.maxFiles} files`);
        }
        entries.push({ path, rawName: name, data: Buffer.from(data) });
        continue;
      }
      case "1":
      case "2":
        throw new BundleError(
          "archive",
          `archive entry ${JSON.stringify(name)} is a ${type === "1" ? "hard" : "symbolic"} link; links are not allowed`,
        );
      case "3":
      case "4":
      case "6":
        throw new BundleError("archive", `archive entry ${JSON.stringify(name)} is a device or FIFO`);
      default:
        throw new BundleError(
          "archive",
          `archive entry ${JSON.stringify(name)} has unsupported type ${JSON.stringify(type)}`,
        );
    }
  }
  if (!ended && offset < buf.length) throw corrupt("truncated header");
  if (!ended && entries.length === 0) throw corrupt("no end-of-archive marker");
  return entries;
}

// ---- writing ----

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL, as Go's archive/tar and GNU tar write them.
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function header(name: Buffer, prefix: Buffer, size: number, type: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  name.copy(h, 0);
  h.write(octal(0o644, 8), 100, "latin1");
  h.write(octal(0, 8), 108, "latin1"); // uid
  h.write(octal(0, 8), 116, "latin1"); // gid
  h.write(octal(size, 12), 124, "latin1");
  h.write(octal(0, 12), 136, "latin1"); // mtime: fixed, so builds are reproducible
  h.write("        ", 148, "latin1");
  h.write(type, 156, "latin1");
  h.write("ustar\u000000", 257, "latin1");
  h.write(octal(0, 8), 329, "latin1"); // devmajor
  h.write(octal(0, 8), 337, "latin1"); // devminor
  prefix.copy(h, 345);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return h;
}

/** Splits a name into ustar prefix (≤155 bytes) and name (≤100 bytes) at a `/`, if it can be done. */
function ustarSplit(name: Buffer): [Buffer, Buffer] | undefined {
  if (name.length <= 100) return [name, Buffer.alloc(0)];
  for (let i = Math.min(name.length - 1, 155); i > 0; i--) {
    if (name[i] === 0x2f && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
      return [name.subarray(i + 1), name.subarray(0, i)];
    }
  }
  return undefined;
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return Buffer.from(`${len}${body}`);
}

function pad(data: Buffer): Buffer[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, Buffer.alloc(BLOCK - rest)];
}

/**
 * A ustar archive of `files` in the given order: mode 0644, uid/gid 0, mtime 0, no user names — the
 * same input gives the same bytes. Names that do not fit ustar get a PAX `path` record.
 */
export function writeTar(files: readonly { name: string; data: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const name = Buffer.from(f.name, "utf8");
    const split = ustarSplit(name);
    if (split) {
      parts.push(header(split[0], split[1], f.data.length, "0"));
    } else {
      const pax = paxRecord("path", f.name);
      // The header names are only for readers without PAX support: ASCII, truncated.
      const ascii = f.name.replace(/[^\x20-\x7e]/g, "_");
      const short = Buffer.from(`PaxHeaders/${ascii.slice(-80)}`, "latin1");
      parts.push(header(short.subarray(0, 100), Buffer.alloc(0), pax.length, "x"), ...pad(pax));
      parts.push(header(Buffer.from(ascii.slice(0, 100), "latin1"), Buffer.alloc(0), f.data.length, "0"));
    }
    parts.push(...pad(f.data));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
