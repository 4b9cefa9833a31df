// Helpers for bundle tests: temp trees, real key pairs, hand-written (evil) tar archives, a real HTTP
// bundle server with ETags and optional long polling, and waiting for a manager's events.
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import type { BundleConfig, BundleEvent, BundleManager } from "../../../pdp/bundle/index.js";

export function tempDir(prefix = "portcullis-bundle-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes `files` (relative path → content) under root; returns root. */
export function writeTree(root: string, files: Record<string, string | Buffer>): string {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return root;
}

export function removeTree(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

export interface KeyFiles {
  privatePem: string;
  publicPem: string;
  privateFile: string;
  publicFile: string;
}

/** A fresh key pair written to `dir` as PEM files. */
export function keyPair(dir: string, kind: "ec-p256" | "ec-p384" | "rsa", name: string = kind): KeyFiles {
  const pair =
    kind === "rsa"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : generateKeyPairSync("ec", { namedCurve: kind === "ec-p256" ? "P-256" : "P-384" });
  const privatePem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const publicPem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
  const privateFile = join(dir, `${name}.key`);
  const publicFile = join(dir, `${name}.pub.pem`);
  writeFileSync(privateFile, privatePem);
  writeFileSync(publicFile, publicPem);
  return { privatePem, publicPem, privateFile, publicFile };
}

// ---- hand-written tar ----

export interface RawEntry {
  name: string;
  /** Tar type flag: "0" file (default), "5" dir, "1" hard link, "2" symlink, "3" char device, "x" PAX. */
  type?: string;
  data?: string | Buffer;
  linkname?: string;
  /** ustar prefix field. */
  prefix?: string;
  /** Corrupt the checksum. */
  badChecksum?: boolean;
  /** Declared size (default: the data's). */
  size?: number;
}

function field(h: Buffer, offset: number, width: number, value: string): void {
  Buffer.from(value, "utf8").copy(h, offset, 0, width);
}

/** One 512-byte ustar header, written by hand (independent of the code under test). */
export function tarHeader(e: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  field(h, 0, 100, e.name);
  field(h, 100, 8, "0000644\0");
  field(h, 108, 8, "0000000\0");
  field(h, 116, 8, "0000000\0");
  field(h, 124, 12, size.toString(8).padStart(11, "0") + "\0");
  field(h, 136, 12, "00000000000\0");
  field(h, 148, 8, "        ");
  field(h, 156, 1, e.type ?? "0");
  if (e.linkname) field(h, 157, 100, e.linkname);
  field(h, 257, 6, "ustar\0");
  field(h, 263, 2, "00");
  if (e.prefix) field(h, 345, 155, e.prefix);
  let sum = 0;
  for (const b of h) sum += b;
  if (e.badChecksum) sum += 1;
  field(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** A tar archive (not compressed) of raw entries, ended by two zero blocks. */
export function rawTar(entries: RawEntry[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = typeof e.data === "string" ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
    parts.push(tarHeader(e, e.size ?? data.length), data);
    const pad = data.length % 512;
    if (pad) parts.push(Buffer.alloc(512 - pad));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function rawTarGz(entries: RawEntry[]): Buffer {
  return gzipSync(rawTar(entries));
}

// ---- a bundle server ----

export interface BundleServer {
  url: string;
  /** Replaces the served bundle (a new ETag). */
  set(archive: Buffer, etag?: string): void;
  /** Requests seen: their If-None-Match and Prefer headers and the status answered. */
  requests: { ifNoneMatch?: string; prefer?: string; status: number }[];
  /** Long-poll requests being held right now. */
  holding(): number;
  /** Answer with this status (no body) until cleared. */
  failWith(status: number | undefined): void;
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1 serving one bundle with an ETag and 304s; with `longPoll` it holds
 * requests that carry the current ETag and `Prefer: wait=N` until set() is called (or N passes), and
 * marks answers with OPA's long-polling content type.
 */
export async function startBundleServer(o: { longPoll?: boolean } = {}): Promise<BundleServer> {
  let archive: Buffer | undefined;
  let etag = "";
  let version = 0;
  let failing: number | undefined;
  const waiters = new Set<() => void>();
  const requests: BundleServer["requests"] = [];
  const contentType = o.longPoll ? "application/vnd.openpolicyagent.bundles" : "application/gzip";

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const ifNoneMatch = req.headers["if-none-match"];
    const rawPrefer = req.headers.prefer;
    const prefer = Array.isArray(rawPrefer) ? rawPrefer.join(", ") : rawPrefer;
    const record = (status: number) => requests.push({ ifNoneMatch, prefer, status });
    if (failing !== undefined) {
      record(failing);
      res.writeHead(failing).end();
      return;
    }
    if (!archive) {
      record(404);
      res.writeHead(404).end();
      return;
    }
    if (ifNoneMatch === etag) {
      const wait = /wait=(\d+)/.exec(prefer ?? "");
      if (o.longPoll && wait) {
        const seen = version;
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, Number(wait[1]) * 1000);
          function done() {
            clearTimeout(t);
            waiters.delete(done);
            resolve();
          }
          waiters.add(done);
          res.once("close", done);
        });
        if (res.destroyed) return;
        if (version === seen) {
          record(304);
          res.writeHead(304, { etag, "content-type": contentType }).end();
          return;
        }
      } else {
        record(304);
        res.writeHead(304, { etag }).end();
        return;
      }
    }
    record(200);
    res.writeHead(200, { etag, "content-type": contentType, "content-length": archive.length }).end(archive);
  };

  const server: Server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/bundles/authz.tar.gz`,
    requests,
    set(a, e) {
      archive = a;
      version++;
      etag = e ?? `"v${version}"`;
      for (const w of [...waiters]) w();
    },
    holding: () => waiters.size,
    failWith(status) {
      failing = status;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const w of [...waiters]) w();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

// ---- managers ----

/** Resolves with the first event of `manager` that `pred` accepts (rejects after `ms`). */
export function nextEvent(
  manager: Pick<BundleManager, "onEvent">,
  pred: (e: BundleEvent) => boolean,
  ms = 10_000,
): Promise<BundleEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching bundle event within ${ms} ms`));
    }, ms);
    const off = manager.onEvent((e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** A bundle config for tests (fast polling, default limits). */
export function bundleConfig(over: Partial<BundleConfig> & Pick<BundleConfig, "source">): BundleConfig {
  return {
    name: "authz",
    polling: { min_delay_s: 60, max_delay_s: 60, timeout_s: 5 },
    size_limit_bytes: 64 * 1024 * 1024,
    max_bundle_bytes: 256 * 1024 * 1024,
    ...over,
  };
}

/** A small policy whose every answer says which revision produced it, twice (rule and data). */
export function revisionPolicy(rev: string): Record<string, string> {
  return {
    ".manifest": JSON.stringify({ revision: rev, roots: ["authz"] }),
    "authz/policy.rego": `package authz\n\nrule_rev := "${rev}"\n\nanswer := {"rule": rule_rev, "data": data.authz.meta.rev, "allow": input.user == "alice"}\n`,
    "authz/meta/data.json": JSON.stringify({ rev }),
  };
}
