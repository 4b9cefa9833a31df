// The file sink on a real temporary directory: appending JSON lines, size-based rotation, and reopening
// after an external rotation (logrotate renames the file, then sends SIGHUP → reopen()).
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DecisionLogger, FileSink, type DecisionRecord } from "../../../pdp/decision_log/index.js";

let dir: string;
const loggers: DecisionLogger[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-dl-file-"));
});

afterEach(async () => {
  await Promise.all(loggers.splice(0).map((l) => l.close(200)));
  rmSync(dir, { recursive: true, force: true });
});

function logger(path: string, maxBytes = 0, maxFiles = 3): DecisionLogger {
  const l = new DecisionLogger({
    labels: { id: "i", version: "v" },
    sinks: [new FileSink({ path, max_bytes: maxBytes, max_files: maxFiles })],
    maxBufferEvents: 1000,
    batch: { max_events: 1, max_delay_ms: 0, max_bytes: 1 << 20 },
  });
  loggers.push(l);
  return l;
}

function record(n: number): DecisionRecord {
  return { decision_id: `id-${n}`, path: "p", input: { n, pad: "x".repeat(100) }, result: true };
}

/** Decision ids in a file, in order. */
function ids(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as { decision_id: string }).decision_id);
}

describe("file sink", () => {
  it("appends one JSON line per event to an existing file", async () => {
    const file = join(dir, "decisions.log");
    writeFileSync(file, '{"decision_id":"earlier"}\n');
    const l = logger(file);
    for (let i = 0; i < 3; i++) l.log(record(i));
    await l.flush();
    expect(ids(file)).toEqual(["earlier", "id-0", "id-1", "id-2"]);
  });

  it("rotates by size: path → path.1 → path.2, the oldest beyond max_files deleted, no line split", async () => {
    const file = join(dir, "decisions.log");
    // Each event is about 230 bytes: three fit under 800, the fourth rotates.
    const l = logger(file, 800, 2);
    for (let i = 0; i < 12; i++) {
      l.log(record(i));
      await l.flush();
    }
    const kept = [...ids(`${file}.2`), ...ids(`${file}.1`), ...ids(file)];
    expect(existsSync(`${file}.3`)).toBe(false);
    // The newest events, in order, none lost between the kept files.
    const all = Array.from({ length: 12 }, (_, i) => `id-${i}`);
    expect(kept).toEqual(all.slice(12 - kept.length));
    expect(kept.length).toBeGreaterThanOrEqual(7);
    for (const f of [file, `${file}.1`, `${file}.2`]) {
      const text = readFileSync(f, "utf8");
      expect(text.length).toBeLessThanOrEqual(800);
      expect(text.endsWith("\n")).toBe(true);
      expect(ids(f).length).toBeGreaterThan(0);
    }
  });

  it("reopens the path after an external rotation when asked (SIGHUP)", async () => {
    const file = join(dir, "decisions.log");
    const l = logger(file);
    l.log(record(1));
    await l.flush();
    renameSync(file, `${file}.rotated`);
    // Before reopen the old descriptor still writes into the moved file, as with any daemon.
    l.log(record(2));
    await l.flush();
    l.reopen();
    l.log(record(3));
    await l.flush();
    expect(ids(`${file}.rotated`)).toEqual(["id-1", "id-2"]);
    expect(ids(file)).toEqual(["id-3"]);
  });

  it("fails at construction when the file cannot be opened (a start-up error, not a lost event)", () => {
    expect(() => new FileSink({ path: join(dir, "missing", "x.log"), max_bytes: 0, max_files: 0 })).toThrow(
      /ENOENT/,
    );
  });
});
