// One sink's bounded buffer. Events wait until `max_events` are queued or the oldest waited
// `max_delay_ms`, then go out as one batch; one batch is in flight at a time. Events queued plus in
// flight never exceed `max_buffer_events` nor `max_buffer_bytes` of JSON: beyond either `offer` drops
// the new event and counts it, so a slow or dead sink costs bounded memory (a PDP client controls the
// size of its inputs) and never slows the decisions being logged. Only the JSON text is kept.
import type { Sink } from "./sink.js";
import type { BatchConfig } from "./types.js";

export interface SinkStats {
  /** Events the sink accepted. */
  sent: number;
  /** Events lost: refused by a full buffer or in a batch the sink gave up on. */
  dropped: number;
  /** Events queued or in flight now. */
  pending: number;
}

export class SinkQueue {
  private items: string[] = [];
  private queuedBytes = 0;
  private inFlight = 0;
  private inFlightBytes = 0;
  private busy = false;
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private idle: (() => void)[] = [];
  private sent = 0;
  private lost = 0;

  constructor(
    readonly sink: Sink,
    private readonly o: { maxBufferEvents: number; maxBufferBytes: number; batch: BatchConfig },
    private readonly onFailure: (sink: string, error: unknown, lost: number) => void,
  ) {}

  stats(): SinkStats {
    return { sent: this.sent, dropped: this.lost, pending: this.items.length + this.inFlight };
  }

  get dropped(): number {
    return this.lost;
  }

  /** Queues the event, or drops and counts it when the buffer is full. Never throws, never waits. */
  offer(json: string): void {
    if (
      this.items.length + this.inFlight >= this.o.maxBufferEvents ||
      this.queuedBytes + this.inFlightBytes + json.length > this.o.maxBufferBytes
    ) {
      this.lost++;
      return;
    }
    this.items.push(json);
    this.queuedBytes += json.length;
    this.schedule();
  }

  /** Sends everything queued now; resolves when nothing is queued or in flight. */
  flush(): Promise<void> {
    if (this.items.length === 0 && !this.busy) return Promise.resolve();
    this.draining = true;
    const done = new Promise<void>((resolve) => this.idle.push(resolve));
    this.clearTimer();
    void this.pump();
    return done;
  }

  /** Counts what is still queued as dropped and forgets it (close, after its deadline). */
  abandon(): void {
    this.clearTimer();
    this.lost += this.items.length;
    this.items = [];
    this.queuedBytes = 0;
  }

  private schedule(): void {
    if (this.busy) return;
    if (this.items.length >= this.o.batch.max_events) {
      this.clearTimer();
      void this.pump();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.pump();
      }, this.o.batch.max_delay_ms);
      // Waiting events must not keep a finished process alive; close() flushes them.
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Up to max_events events and max_bytes of JSON (one event always, however large). */
  private take(): string[] {
    const { max_events, max_bytes } = this.o.batch;
    let n = 0;
    let bytes = 0;
    while (n < this.items.length && n < max_events) {
      const size = this.items[n]!.length;
      if (n > 0 && bytes + size + n > max_bytes) break;
      bytes += size;
      n++;
    }
    this.queuedBytes -= bytes;
    return this.items.splice(0, n);
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.items.length > 0) {
        const bytesBefore = this.queuedBytes;
        const batch = this.take();
        this.inFlight = batch.length;
        this.inFlightBytes = bytesBefore - this.queuedBytes;
        try {
          await this.sink.write(batch);
          this.sent += batch.length;
        } catch (e) {
          this.lost += batch.length;
          this.onFailure(this.sink.name, e, batch.length);
        } finally {
          this.inFlight = 0;
          this.inFlightBytes = 0;
        }
        // A partial batch waits for its delay unless a flush asked for everything.
        if (!this.draining && this.items.length < this.o.batch.max_events) break;
      }
    } finally {
      this.busy = false;
      if (this.items.length > 0) {
        this.schedule();
      } else {
        this.draining = false;
        for (const resolve of this.idle.splice(0)) resolve();
      }
    }
  }
}
