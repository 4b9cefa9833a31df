// The HTTP sink against a real receiver on loopback: OPA's upload (POST of a JSON array, gzip), retry
// with backoff after a failure, and the drop counter when the receiver hangs and the buffer fills.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DecisionLogger,
  HttpSink,
  type DecisionRecord,
  type ServiceSinkConfig,
} from "../../../pdp/decision_log/index.js";
import { Receiver, waitFor } from "./helpers.js";

let receiver: Receiver;
const loggers: DecisionLogger[] = [];

beforeEach(async () => {
  receiver = await new Receiver().start();
});

afterEach(async () => {
  await Promise.all(loggers.splice(0).map((l) => l.close(100)));
  await receiver.close();
});

interface Diag {
  level: string;
  msg: string;
  [k: string]: unknown;
}

function service(over: Partial<ServiceSinkConfig> = {}): ServiceSinkConfig {
  return {
    url: receiver.url,
    headers: {},
    gzip: true,
    timeout_ms: 2_000,
    min_retry_delay_ms: 10,
    max_retry_delay_ms: 40,
    ...over,
  };
}

function logger(
  cfg: ServiceSinkConfig,
  o: { maxEvents?: number; maxDelayMs?: number; maxBufferEvents?: number; diag?: Diag[] } = {},
): DecisionLogger {
  const log = (e: Diag) => o.diag?.push(e);
  const l = new DecisionLogger({
    labels: { app: "portcullis", id: "i", version: "v" },
    sinks: [new HttpSink(cfg, log)],
    maxBufferEvents: o.maxBufferEvents ?? 1000,
    batch: { max_events: o.maxEvents ?? 100, max_delay_ms: o.maxDelayMs ?? 60_000, max_bytes: 1 << 20 },
    log,
    dropReportIntervalMs: 10,
  });
  loggers.push(l);
  return l;
}

function record(n: number): DecisionRecord {
  return {
    decision_id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    path: "portcullis/authz/decision",
    input: { n, token: { raw: "eyJ.raw.token" } },
    result: { allow: true },
  };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("HTTP sink", () => {
  it("POSTs a gzip-compressed JSON array of the batch, as OPA uploads decision logs", async () => {
    const l = logger(service(), { maxEvents: 3 });
    for (let i = 0; i < 3; i++) l.log(record(i));
    await waitFor(() => receiver.uploads.length === 1, 5_000, "the upload");
    const [u] = receiver.uploads;
    expect(u!.method).toBe("POST");
    expect(u!.url).toBe("/logs");
    expect(u!.headers["content-type"]).toBe("application/json");
    expect(u!.headers["content-encoding"]).toBe("gzip");
    // A gzip member starts with 1f 8b.
    expect(u!.raw.subarray(0, 2).toString("hex")).toBe("1f8b");
    expect(u!.events.map((e) => (e.input as { n: number }).n)).toEqual([0, 1, 2]);
    expect(u!.events[0]!.labels).toEqual({ app: "portcullis", id: "i", version: "v" });
    expect(JSON.stringify(u!.events)).not.toContain("eyJ.raw.token");
    await l.flush();
    expect(l.stats().sinks.service).toEqual({ sent: 3, dropped: 0, pending: 0 });
  });

  it("sends plain JSON when gzip is off, with the configured headers and bearer token", async () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-dl-"));
    try {
      writeFileSync(join(dir, "token"), "collector-token\n");
      const l = logger(
        service({ gzip: false, headers: { "x-tenant": "blue" }, bearer_token_file: join(dir, "token") }),
      );
      l.log(record(7));
      await l.flush();
      const [u] = receiver.uploads;
      expect(u!.headers["content-encoding"]).toBeUndefined();
      expect(u!.raw.toString().startsWith("[{")).toBe(true);
      expect(u!.headers["x-tenant"]).toBe("blue");
      expect(u!.headers.authorization).toBe("Bearer collector-token");
      expect(u!.events).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("retries a batch the receiver refused (500) with backoff until it is accepted", async () => {
    let calls = 0;
    receiver.status = () => (++calls <= 2 ? 500 : 204);
    const diag: Diag[] = [];
    const l = logger(service(), { diag });
    l.log(record(1));
    l.log(record(2));
    await l.flush();
    expect(receiver.uploads).toHaveLength(3);
    // The same batch each time.
    for (const u of receiver.uploads)
      expect(u.events.map((e) => e.decision_id)).toEqual([record(1).decision_id, record(2).decision_id]);
    expect(l.stats().sinks.service).toEqual({ sent: 2, dropped: 0, pending: 0 });
    expect(diag.filter((d) => d.msg.includes("upload failed"))).toHaveLength(1);
    expect(diag.find((d) => d.msg.includes("upload failed"))).toMatchObject({ error: "HTTP 500" });
    expect(diag.some((d) => d.msg.includes("succeeded after retrying") && d.attempts === 3)).toBe(true);
  });

  it("retries when the receiver is unreachable, and delivers once it is back", async () => {
    const port = Number(new URL(receiver.url).port);
    await receiver.close();
    const l = logger(service());
    l.log(record(1));
    const flushed = l.flush();
    // Let a few attempts fail, then bring a receiver up on the same port.
    await new Promise((r) => setTimeout(r, 60));
    receiver = new Receiver();
    await receiver.startOn(port);
    await flushed;
    expect(receiver.events().map((e) => e.decision_id)).toEqual([record(1).decision_id]);
  });

  it("counts drops once a hanging receiver holds the buffer full; log() returns at once; close is bounded", async () => {
    receiver.hang = true;
    const diag: Diag[] = [];
    const l = logger(service({ timeout_ms: 60_000 }), { maxEvents: 2, maxBufferEvents: 4, diag });
    for (let i = 0; i < 12; i++) {
      // Synchronous: nothing to await, whatever the receiver does.
      expect(l.log(record(i))).toBeUndefined();
      await tick();
    }
    await waitFor(() => receiver.uploads.length === 1, 5_000, "the first (hanging) upload");
    await waitFor(() => l.dropped === 8, 5_000, "8 drops");
    expect(l.stats().sinks.service).toEqual({ sent: 0, dropped: 8, pending: 4 });
    await waitFor(() => diag.some((d) => d.msg === "decision log: events dropped"), 5_000, "the drop report");
    // Returns although the receiver never answers (the test would time out otherwise).
    await l.close(100);
    // The in-flight batch was aborted and the queued one failed at once: all 12 are accounted for.
    expect(l.stats().sinks.service).toEqual({ sent: 0, dropped: 12, pending: 0 });
    expect(receiver.uploads).toHaveLength(1);
  });

  it("treats a receiver that does not answer within timeout_ms as a failure and retries", async () => {
    const l = logger(service({ timeout_ms: 50 }));
    receiver.hang = true;
    l.log(record(1));
    const flushed = l.flush();
    await waitFor(() => receiver.uploads.length >= 2, 5_000, "a retry after the timeout");
    receiver.hang = false;
    const n = receiver.uploads.length;
    await flushed;
    expect(receiver.uploads.length).toBeGreaterThan(n);
    expect(l.stats().sinks.service!.sent).toBe(1);
  });
});
