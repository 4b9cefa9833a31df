// A DecisionLogger from `decision_logs:` config: the sinks it turns on, the labels, the masks.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConsoleSink } from "./console_sink.js";
import { FileSink } from "./file_sink.js";
import { HttpSink } from "./http_sink.js";
import { DecisionLogger } from "./logger.js";
import type { DiagnosticLog, Sink } from "./sink.js";
import type { DecisionLogConfig } from "./types.js";

export interface CreateOptions {
  /** OPA's `labels.id`: identifies this process (default: a fresh uuid). */
  id?: string;
  /** OPA's `labels.version` (default: Portcullis's package version). */
  version?: string;
  log?: DiagnosticLog;
  /** Where the console sink writes (default: stdout). */
  stdout?: NodeJS.WritableStream;
  dropReportIntervalMs?: number;
}

/** Throws when a sink cannot start (the file cannot be opened, the token file cannot be read). */
export function createDecisionLogger(config: DecisionLogConfig, o: CreateOptions = {}): DecisionLogger {
  const sinks: Sink[] = [];
  if (config.console) sinks.push(new ConsoleSink(o.stdout));
  if (config.file) sinks.push(new FileSink(config.file));
  if (config.service) sinks.push(new HttpSink(config.service, o.log));
  return new DecisionLogger({
    labels: {
      app: "portcullis",
      ...config.labels,
      id: o.id ?? randomUUID(),
      version: o.version ?? packageVersion(),
    },
    sinks,
    mask: config.mask,
    maxBufferEvents: config.max_buffer_events,
    maxBufferBytes: config.max_buffer_bytes,
    batch: config.batch,
    ...(o.log ? { log: o.log } : {}),
    ...(o.dropReportIntervalMs !== undefined ? { dropReportIntervalMs: o.dropReportIntervalMs } : {}),
  });
}

let version: string | undefined;

/** The version in Portcullis's package.json (found upwards from here, in the sources and in dist/). */
export function packageVersion(): string {
  if (version !== undefined) return version;
  version = "dev";
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      try {
        const v = (JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version;
        if (typeof v === "string") version = v;
      } catch {
        // An unreadable package.json leaves "dev".
      }
      return version;
    }
    const up = dirname(dir);
    if (up === dir) return version;
    dir = up;
  }
}
