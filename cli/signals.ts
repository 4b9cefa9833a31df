// The long-running commands (serve, demo, pdp, verifier) stop on SIGINT or SIGTERM.

/** Resolves with the signal once SIGINT or SIGTERM arrives. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const done = (sig: NodeJS.Signals) => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve(sig);
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}
