// The logger: OPA's event shape, batching, the bounded buffer and its drop counter, closing.
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConsoleSink,
  DecisionLogger,
  rfc3339Nano,
  type BatchConfig,
  type DecisionRecord,
} from "../../../pdp/decision_log/index.js";
import { HeldStream, RFC3339_NANO, UUID, waitFor } from "./helpers.js";

const loggers: DecisionLogger[] = [];
afterEach(async () => {
  await Promise.all(loggers.splice(0).map((l) => l.close(200)));
});

interface Diag {
  level: string;
  msg: string;
  [k: string]: unknown;
}

function logger(
  streams: HeldStream[],
  o: {
    batch?: Partial<BatchConfig>;
    maxBufferEvents?: number;
    maxBufferBytes?: number;
    diag?: Diag[];
    reportMs?: number;
  } = {},
): DecisionLogger {
  const l = new DecisionLogger({
    labels: { app: "portcullis", id: "instance-1", version: "1.2.3" },
    sinks: streams.map((s) => new ConsoleSink(s)),
    maxBufferEvents: o.maxBufferEvents ?? 1000,
    ...(o.maxBufferBytes !== undefined ? { maxBufferBytes: o.maxBufferBytes } : {}),
    batch: { max_events: 100, max_delay_ms: 60_000, max_bytes: 1024 * 1024, ...o.batch },
    log: (e) => o.diag?.push(e),
    ...(o.reportMs !== undefined ? { dropReportIntervalMs: o.reportMs } : {}),
  });
  loggers.push(l);
  return l;
}

/** Requests arrive in separate I/O callbacks: the encoder runs between them. */
const tick = () => new Promise<void>((r) => setImmediate(r));

function record(n = 0, over: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    decision_id: randomUUID(),
    path: "portcullis/authz/decision",
    input: { n, request: { headers: { authorization: "Bearer secret-token" } } },
    result: { allow: n % 2 === 0, reasons: ["because"] },
    bundles: { portcullis: { revision: "sha256:0123456789abcdef" } },
    requested_by: "127.0.0.1:5555",
    metrics: { timer_rego_query_eval_ns: 1234 },
    ...over,
  };
}

describe("event shape", () => {
  it("writes OPA's decision-log fields, in OPA's order, one JSON line per event", async () => {
    const out = new HeldStream();
    const l = logger([out]);
    const r = record(0, { reasons: ["because"], lazyResult: () => ({ allow: true, lazy: 1 }) });
    delete r.result;
    const before = Date.now();
    l.log(r);
    await l.flush();
    const [line] = out.writes.join("").split("\n");
    const e = JSON.parse(line!) as Record<string, unknown>;
    expect(Object.keys(e)).toEqual([
      "labels",
      "decision_id",
      "bundles",
      "path",
      "input",
      "result",
      "masked",
      "requested_by",
      "timestamp",
      "metrics",
      "reasons",
    ]);
    expect(e.labels).toEqual({ app: "portcullis", id: "instance-1", version: "1.2.3" });
    expect(e.decision_id).toMatch(UUID);
    expect(e.decision_id).toBe(r.decision_id);
    expect(e.bundles).toEqual({ portcullis: { revision: "sha256:0123456789abcdef" } });
    expect(e.path).toBe("portcullis/authz/decision");
    expect(e.input).toEqual({ n: 0, request: { headers: { authorization: "Bearer [masked]" } } });
    expect(e.result).toEqual({ allow: true, lazy: 1 });
    expect(e.masked).toEqual(["/input/request/headers/authorization"]);
    expect(e.requested_by).toBe("127.0.0.1:5555");
    expect(e.timestamp).toMatch(RFC3339_NANO);
    const t = Date.parse(e.timestamp as string);
    expect(t).toBeGreaterThanOrEqual(before - 1);
    expect(t).toBeLessThanOrEqual(Date.now() + 1);
    expect(e.metrics).toEqual({ timer_rego_query_eval_ns: 1234 });
    expect(e).not.toHaveProperty("nd_builtin_cache");
    expect(line).not.toContain("secret-token");
  });

  it("formats timestamps as Go's RFC3339Nano does (UTC, trailing zeros dropped)", () => {
    expect(rfc3339Nano(1559592436939402185n)).toBe("2019-06-03T20:07:16.939402185Z");
    expect(rfc3339Nano(1559592436100000000n)).toBe("2019-06-03T20:07:16.1Z");
    expect(rfc3339Nano(1559592436000000000n)).toBe("2019-06-03T20:07:16Z");
    expect(rfc3339Nano(1559592436000000007n)).toBe("2019-06-03T20:07:16.000000007Z");
  });
});

describe("batching", () => {
  it("sends a batch as soon as max_events are queued; the rest waits for the delay or a flush", async () => {
    const out = new HeldStream();
    const l = logger([out], { batch: { max_events: 3, max_delay_ms: 60_000 } });
    for (let i = 0; i < 7; i++) l.log(record(i));
    await waitFor(() => out.writes.length === 2, 5_000, "two full batches");
    expect(out.writes.map((w) => w.split("\n").length - 1)).toEqual([3, 3]);
    expect(l.stats().sinks.console!.pending).toBe(1);
    await l.flush();
    expect(out.writes.map((w) => w.split("\n").length - 1)).toEqual([3, 3, 1]);
    expect(out.events().map((e) => (e.input as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it("sends a partial batch once max_delay_ms passed, without a flush", async () => {
    const out = new HeldStream();
    const l = logger([out], { batch: { max_events: 100, max_delay_ms: 20 } });
    l.log(record(1));
    l.log(record(2));
    await waitFor(() => out.writes.length === 1, 5_000, "the delayed batch");
    expect(out.events()).toHaveLength(2);
  });

  it("keeps a batch under max_bytes (an event larger than that still goes, alone)", async () => {
    const out = new HeldStream();
    const l = logger([out], { batch: { max_events: 100, max_bytes: 1024 } });
    const big = "x".repeat(2000);
    for (let i = 0; i < 6; i++) l.log(record(i, { input: { n: i, pad: i === 3 ? big : "y".repeat(200) } }));
    await l.flush();
    const sizes = out.writes.map((w) => w.length);
    expect(out.events()).toHaveLength(6);
    expect(out.writes.length).toBeGreaterThan(2);
    for (const [i, w] of out.writes.entries()) {
      if (!w.includes(big)) expect(sizes[i]).toBeLessThanOrEqual(1024);
      else expect(w.split("\n").length - 1).toBe(1);
    }
  });
});

describe("bounded buffer and drop counter", () => {
  it("drops and counts new events once a blocked sink holds max_buffer_events; log() never waits", async () => {
    const out = new HeldStream();
    out.held = true;
    const diag: Diag[] = [];
    const l = logger([out], { batch: { max_events: 2 }, maxBufferEvents: 5, diag, reportMs: 10 });
    for (let i = 0; i < 20; i++) {
      l.log(record(i));
      await tick();
    }
    await waitFor(() => l.dropped === 15, 5_000, "15 drops");
    expect(l.stats().sinks.console).toEqual({ sent: 0, dropped: 15, pending: 5 });
    // The periodic line reports new drops (a slow machine may report them in more than one line).
    const reports = () => diag.filter((d) => d.msg === "decision log: events dropped");
    await waitFor(() => reports().some((d) => d.dropped_total === 15), 5_000, "drop report");
    expect(reports().at(-1)).toMatchObject({ level: "warn", dropped_total: 15, sinks: { console: 15 } });
    expect(reports().reduce((n, d) => n + (d.dropped as number), 0)).toBe(15);
    out.release();
    await l.flush();
    expect(out.events().map((e) => (e.input as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
    expect(l.stats()).toMatchObject({ logged: 20, dropped: 15, sinks: { console: { sent: 5, pending: 0 } } });
  });

  it("bounds the buffer in bytes too: large events are dropped before the count is reached", async () => {
    const out = new HeldStream();
    out.held = true;
    const l = logger([out], { batch: { max_events: 1 }, maxBufferEvents: 100, maxBufferBytes: 10_000 });
    for (let i = 0; i < 10; i++) {
      l.log(record(i, { input: { n: i, pad: "z".repeat(4_000) } }));
      await tick();
    }
    // A little over 4 kB each: two fit in 10 000 (one in flight, one queued), the other eight are dropped.
    await waitFor(() => l.dropped === 8, 5_000, "8 drops");
    expect(l.stats().sinks.console!.pending).toBe(2);
    out.release();
    await l.flush();
    expect(out.events().map((e) => (e.input as { n: number }).n)).toEqual([0, 1]);
  });

  it("a blocked sink costs only its own events: the other sink gets everything", async () => {
    const blocked = new HeldStream();
    blocked.held = true;
    const free = new HeldStream();
    const l = logger([blocked, free], { batch: { max_events: 1 }, maxBufferEvents: 3 });
    for (let i = 0; i < 10; i++) {
      l.log(record(i));
      await tick();
    }
    await waitFor(() => free.events().length === 10, 5_000, "all events on the free sink");
    await waitFor(() => l.dropped === 7);
    blocked.release();
  });

  it("refuses (and counts) records beyond max_buffer_events logged within one tick", async () => {
    const out = new HeldStream();
    const l = logger([out], { maxBufferEvents: 4 });
    for (let i = 0; i < 10; i++) l.log(record(i));
    await l.flush();
    expect(out.events()).toHaveLength(4);
    expect(l.stats()).toMatchObject({ logged: 10, dropped: 6, sinks: { console: { sent: 4, dropped: 0 } } });
  });

  it("counts an event that is not JSON (a bigint) as dropped, logs it, and goes on", async () => {
    const out = new HeldStream();
    const diag: Diag[] = [];
    const l = logger([out], { diag });
    l.log(record(1, { input: { big: 10n } }));
    l.log(record(2));
    await l.flush();
    expect(out.events()).toHaveLength(1);
    expect(l.stats()).toMatchObject({ encode_errors: 1, dropped: 1 });
    expect(diag.some((d) => d.msg.includes("could not be encoded"))).toBe(true);
  });
});

describe("close", () => {
  it("delivers what is buffered, then refuses (and counts) later records", async () => {
    const out = new HeldStream();
    const l = logger([out], { batch: { max_events: 50, max_delay_ms: 60_000 } });
    for (let i = 0; i < 3; i++) l.log(record(i));
    await l.close();
    expect(out.events()).toHaveLength(3);
    l.log(record(9));
    expect(l.stats()).toMatchObject({ logged: 4, dropped: 1 });
  });

  it("gives a sink that never finishes a bounded time, then abandons and counts its events", async () => {
    const out = new HeldStream();
    out.held = true;
    const diag: Diag[] = [];
    const l = logger([out], { batch: { max_events: 2 }, diag });
    for (let i = 0; i < 5; i++) l.log(record(i));
    await waitFor(() => out.writes.length === 1);
    await l.close(50);
    // 2 in flight stay unaccounted (the stream still holds them); the 3 queued are dropped.
    expect(l.dropped).toBe(3);
    expect(diag.some((d) => d.msg === "decision log: events dropped" && d.dropped_total === 3)).toBe(true);
    out.release();
  });
});
