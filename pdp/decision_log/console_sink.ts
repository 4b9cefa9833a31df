// Console sink: one JSON line per event on stdout (OPA's `decision_logs.console`).
import type { Sink } from "./sink.js";

export class ConsoleSink implements Sink {
  readonly name = "console";

  constructor(private readonly out: NodeJS.WritableStream = process.stdout) {}

  /** Resolves once the stream took the lines, so a blocked pipe holds the batch (and the buffer fills). */
  write(batch: readonly string[]): Promise<void> {
    let text = "";
    for (const json of batch) text += json + "\n";
    return new Promise((resolve, reject) => {
      this.out.write(text, (err) => (err ? reject(err) : resolve()));
    });
  }
}
