// Where a command writes. Commands take an IO so tests can run them in-process
// and capture their output; the binary uses the process streams.
export interface IO {
  out(text: string): void;
  err(text: string): void;
}

export const processIO: IO = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** A command's result: the process exit code. */
export type ExitCode = number;

/** Thrown for bad command-line usage; main prints it with the command's usage line. */
export class UsageError extends Error {
  override name = "UsageError";
}
