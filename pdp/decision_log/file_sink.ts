// File sink: JSON lines appended to a file, with size-based rotation (`path` → `path.1` → … →
// `path.N`, the oldest deleted) and reopen-on-SIGHUP for external rotation (logrotate moves the file,
// then signals). Both happen between writes, which the queue never overlaps, so no line is split.
import { close, fstat, fstatSync, open, openSync, write as writeFd } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { promisify } from "node:util";
import type { Sink } from "./sink.js";
import type { FileSinkConfig } from "./types.js";

export class FileSink implements Sink {
  readonly name = "file";
  private fd: number | undefined;
  private size: number;
  private reopenRequested = false;

  /** Opens (creates) the file now, so a bad path fails start-up rather than the first decision. */
  constructor(private readonly cfg: FileSinkConfig) {
    this.fd = openSync(cfg.path, "a", 0o640);
    this.size = fstatSync(this.fd).size;
  }

  reopen(): void {
    this.reopenRequested = true;
  }

  async write(batch: readonly string[]): Promise<void> {
    let text = "";
    for (const json of batch) text += json + "\n";
    const buf = Buffer.from(text, "utf8");
    try {
      if (this.reopenRequested || this.fd === undefined) await this.reopenNow();
      if (this.cfg.max_bytes > 0 && this.size > 0 && this.size + buf.length > this.cfg.max_bytes) {
        await this.rotate();
      }
      await writeAll(this.fd!, buf);
    } catch (e) {
      // The batch is lost (the queue counts it); the next write starts from a freshly opened file.
      this.reopenRequested = true;
      throw e;
    }
    this.size += buf.length;
  }

  async close(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await closeFd(fd);
  }

  private async reopenNow(): Promise<void> {
    this.reopenRequested = false;
    const old = this.fd;
    this.fd = undefined;
    if (old !== undefined) await closeFd(old).catch(() => {});
    const fd = await openFd(this.cfg.path, "a", 0o640);
    this.fd = fd;
    this.size = (await fstatFd(fd)).size;
  }

  private async rotate(): Promise<void> {
    const { path, max_files } = this.cfg;
    await rm(`${path}.${max_files}`, { force: true });
    for (let i = max_files - 1; i >= 1; i--) {
      await rename(`${path}.${i}`, `${path}.${i + 1}`).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "ENOENT") throw e;
      });
    }
    if (max_files >= 1) await rename(path, `${path}.1`);
    else await rm(path, { force: true });
    await this.reopenNow();
  }
}

// Plain descriptors rather than FileHandles: a FileHandle must be closed through itself, and the sync
// open at start-up (for an early error) gives a descriptor.
const openFd = promisify(open);
const closeFd = promisify(close);
const fstatFd = promisify(fstat);

function writeAll(fd: number, buf: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (offset: number) => {
      writeFd(fd, buf, offset, buf.length - offset, null, (err, n) => {
        if (err) reject(err);
        else if (offset + n < buf.length) step(offset + n);
        else resolve();
      });
    };
    step(0);
  });
}
