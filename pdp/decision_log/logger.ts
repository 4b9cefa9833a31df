// The decision logger: `log()` is all a decision point calls. It stamps the record and queues a
// reference — no copying, masking or serialising on the request path, no awaiting, no throwing. A
// setImmediate tick encodes what arrived (masking, JSON once) and hands every event to each sink's own
// bounded queue, so a stuck HTTP receiver fills and drops only its own buffer, never the console's.
import { encodeEvent } from "./event.js";
import { compileMasks, type CompiledMask } from "./mask.js";
import { SinkQueue, type SinkStats } from "./queue.js";
import type { DiagnosticLog, Sink } from "./sink.js";
import { nowNs } from "./timestamp.js";
import type { BatchConfig, DecisionRecord, MaskRule, StampedRecord } from "./types.js";

export interface DecisionLoggerOptions {
  /** OPA's `labels`: `id`, `version`, `app` and any configured ones. */
  labels: Record<string, string>;
  sinks: Sink[];
  mask?: readonly MaskRule[];
  /** Per sink: events queued plus in flight before new ones are dropped. */
  maxBufferEvents: number;
  /** Per sink: JSON characters queued plus in flight before new events are dropped (default 64 MiB). */
  maxBufferBytes?: number;
  batch: BatchConfig;
  log?: DiagnosticLog;
  /** How often a warning reports new drops (default 60 s; only when there were any). */
  dropReportIntervalMs?: number;
}

export interface DecisionLogStats {
  /** Records handed to log(). */
  logged: number;
  /** Events lost, summed over the sinks (one event lost by two sinks counts twice), plus refused records. */
  dropped: number;
  /** Records refused at intake (closed, or a burst beyond max_buffer_events in one tick); in `dropped`. */
  refused: number;
  /** Records that could not be encoded (not JSON); also in `dropped`. */
  encode_errors: number;
  sinks: Record<string, SinkStats>;
}

const DEFAULT_DROP_REPORT_MS = 60_000;
const DEFAULT_MAX_BUFFER_BYTES = 64 * 1024 * 1024;

export class DecisionLogger {
  readonly labels: Record<string, string>;
  private readonly queues: SinkQueue[];
  private readonly masks: CompiledMask[];
  private readonly log_: DiagnosticLog;
  private readonly maxIntake: number;
  private intake: StampedRecord[] = [];
  private scheduled = false;
  private closed = false;
  private logged = 0;
  private refused = 0;
  private encodeErrors = 0;
  private reportedDrops = 0;
  private readonly reporter: NodeJS.Timeout;

  constructor(o: DecisionLoggerOptions) {
    this.labels = o.labels;
    this.masks = compileMasks(o.mask ?? []);
    this.log_ = o.log ?? (() => {});
    this.maxIntake = o.maxBufferEvents;
    this.queues = o.sinks.map(
      (s) =>
        new SinkQueue(
          s,
          {
            maxBufferEvents: o.maxBufferEvents,
            maxBufferBytes: o.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES,
            batch: o.batch,
          },
          (sink, error, lost) =>
            this.log_({
              level: "error",
              msg: "decision log: sink gave up on a batch",
              sink,
              lost,
              error: error instanceof Error ? error.message : String(error),
            }),
        ),
    );
    this.reporter = setInterval(() => this.reportDrops(), o.dropReportIntervalMs ?? DEFAULT_DROP_REPORT_MS);
    this.reporter.unref();
  }

  /**
   * Logs one decision. Constant time and allocation-light; never throws and never waits: when the
   * logger is closed or the intake is full the record is dropped and counted.
   */
  log(record: DecisionRecord): void {
    try {
      this.logged++;
      if (this.closed || this.intake.length >= this.maxIntake) {
        this.refused++;
        return;
      }
      // The prototype keeps the record's members without copying them.
      const stamped = Object.create(record) as StampedRecord;
      stamped.timeNs = nowNs();
      this.intake.push(stamped);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.drain);
      }
    } catch {
      this.refused++;
    }
  }

  /** Events lost so far (what the periodic warning reports). */
  get dropped(): number {
    let n = this.refused + this.encodeErrors;
    for (const q of this.queues) n += q.dropped;
    return n;
  }

  stats(): DecisionLogStats {
    const sinks: Record<string, SinkStats> = {};
    for (const q of this.queues) sinks[q.sink.name] = q.stats();
    return {
      logged: this.logged,
      dropped: this.dropped,
      refused: this.refused,
      encode_errors: this.encodeErrors,
      sinks,
    };
  }

  /** Encodes what was logged and sends every queued event now; resolves when all sinks are idle. */
  async flush(): Promise<void> {
    this.drain();
    await Promise.all(this.queues.map((q) => q.flush()));
  }

  /** Reopens log files (SIGHUP after an external rotation). */
  reopen(): void {
    for (const q of this.queues) q.sink.reopen?.();
  }

  /**
   * Stops accepting records and delivers what is buffered, giving the sinks up to `timeoutMs`; what is
   * still undelivered then (a receiver that stays down) is abandoned and counted as dropped.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.reporter);
    const flushed = this.flush();
    if (!(await within(flushed, timeoutMs))) {
      for (const q of this.queues) q.sink.abort?.();
      // An aborted upload rejects at once; a sink that cannot abort (a blocked stdout) is not waited for.
      await within(flushed, 1_000);
      for (const q of this.queues) q.abandon();
    }
    await within(Promise.all(this.queues.map((q) => q.sink.close?.())), 1_000);
    this.reportDrops();
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const records = this.intake;
    if (records.length === 0) return;
    this.intake = [];
    for (const r of records) {
      let encoded;
      try {
        encoded = encodeEvent(r, this.labels, this.masks);
      } catch (e) {
        this.encodeErrors++;
        this.log_({
          level: "error",
          msg: "decision log: event could not be encoded; dropped",
          decision_id: r.decision_id,
          error: e instanceof Error ? e.message : String(e),
        });
        continue;
      }
      // Only the text goes on: the event object (and the input it shares) can be collected now.
      for (const q of this.queues) q.offer(encoded.json);
    }
  };

  private reportDrops(): void {
    const total = this.dropped;
    if (total === this.reportedDrops) return;
    const sinks: Record<string, number> = {};
    for (const q of this.queues) sinks[q.sink.name] = q.dropped;
    this.log_({
      level: "warn",
      msg: "decision log: events dropped",
      dropped: total - this.reportedDrops,
      dropped_total: total,
      refused: this.refused,
      sinks,
    });
    this.reportedDrops = total;
  }
}

/** Whether `p` settled within `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
