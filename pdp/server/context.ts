// What every PDP handler is given: the configuration, the active revision and a log sink.
import type { BundleRegistry } from "../bundle/serve.js";
import type { CachedDecider } from "../cache/index.js";
import type { DecisionLogger } from "../decision_log/index.js";
import type { PdpConfig } from "./config.js";
import type { PolicyStore } from "./policy_store.js";

export type LogLevel = "info" | "warn" | "error";

export interface LogEvent {
  level: LogLevel;
  msg: string;
  [key: string]: unknown;
}

export type PdpLogger = (event: LogEvent) => void;

/** One JSON line per event on stderr. */
export const stderrLogger: PdpLogger = (event) => {
  process.stderr.write(JSON.stringify({ time: new Date().toISOString(), ...event }) + "\n");
};

export interface PdpContext {
  config: PdpConfig;
  store: PolicyStore;
  log: PdpLogger;
  /** Reported in `provenance.version` and the status labels. */
  version: string;
  /** Identifies this PDP process in status reports. */
  instanceId: string;
  /** Set when decision logging is on: one event per evaluation (pdp/decision_log). */
  decisionLog?: DecisionLogger;
  /** Configured bundles (pdp/bundle), reported by the status endpoint. */
  bundles?: BundleRegistry;
  /** The Data API's decision cache (data_cache.ts), when one was given to the server. */
  cache?: CachedDecider;
}
