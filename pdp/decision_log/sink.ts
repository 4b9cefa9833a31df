// Where events go. A sink writes one batch at a time (its queue never overlaps writes), so it needs no
// locking of its own; a write that resolves delivered the batch, one that rejects lost it.
export interface Sink {
  /** `console`, `file` or `service`: names the sink in stats and log lines. */
  readonly name: string;
  /** Events as JSON text, one per element, in order. */
  write(batch: readonly string[]): Promise<void>;
  /** Reopen files (after an external rotation, on SIGHUP); sinks without files ignore it. */
  reopen?(): void;
  /** Stop retrying: the current write rejects soon, later writes fail at once (the close deadline). */
  abort?(): void;
  /** Release files and connections, after the last write. */
  close?(): Promise<void>;
}

export type DecisionLogLevel = "info" | "warn" | "error";

/** How the logger reports on itself: the process's JSON log lines, never the decision-log sinks. */
export type DiagnosticLog = (event: { level: DecisionLogLevel; msg: string; [key: string]: unknown }) => void;
