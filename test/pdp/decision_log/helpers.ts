// Helpers for the decision-log tests: a stream that can be held (a blocked stdout pipe), a real HTTP
// receiver for uploads, and polling with a deadline (never a fixed sleep that a slow machine breaks).
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { gunzipSync } from "node:zlib";
import type { DecisionLogEvent } from "../../../pdp/decision_log/index.js";

/** A stream that records what it was given; while `held`, writes do not complete. */
export class HeldStream extends Writable {
  writes: string[] = [];
  held = false;
  private waiting: (() => void)[] = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writes.push(chunk.toString("utf8"));
    if (this.held) this.waiting.push(() => cb());
    else cb();
  }

  release(): void {
    this.held = false;
    for (const cb of this.waiting.splice(0)) cb();
  }

  /** Every event written so far, one per line. */
  events(): DecisionLogEvent[] {
    return this.writes
      .join("")
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as DecisionLogEvent);
  }
}

/** Polls `cond` every 5 ms until it holds; fails after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface Upload {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** The body as received (before gunzip). */
  raw: Buffer;
  events: DecisionLogEvent[];
}

/**
 * A decision-log receiver on 127.0.0.1: records every upload and answers with `status()` (default
 * 200). `hang` makes it accept requests and never answer.
 */
export class Receiver {
  uploads: Upload[] = [];
  status: () => number = () => 200;
  hang = false;
  private server: Server | undefined;
  private hanging: ServerResponse[] = [];
  url = "";

  start(): Promise<this> {
    return this.startOn(0);
  }

  /** Listens on `port` (0: any free port). */
  async startOn(port: number): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks);
        const text = req.headers["content-encoding"] === "gzip" ? gunzipSync(raw).toString() : raw.toString();
        const status = this.hang ? 0 : this.status();
        this.uploads.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          raw,
          events: JSON.parse(text) as DecisionLogEvent[],
        });
        if (this.hang) {
          this.hanging.push(res);
          return;
        }
        res.writeHead(status, { "content-type": "application/json" });
        res.end("{}");
      });
    });
    await new Promise<void>((r) => this.server!.listen(port, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/logs`;
    return this;
  }

  /** Every event received, in upload order (retried uploads included). */
  events(): DecisionLogEvent[] {
    return this.uploads.flatMap((u) => u.events);
  }

  async close(): Promise<void> {
    for (const r of this.hanging) r.destroy();
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

export const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
