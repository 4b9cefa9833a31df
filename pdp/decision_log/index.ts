// Decision logs: one OPA-compatible JSON event per decision, masked, batched to stdout, a file and/or
// an HTTP receiver through bounded buffers that drop (and count) rather than ever block a decision.
export { DecisionLogger, type DecisionLoggerOptions, type DecisionLogStats } from "./logger.js";
export { createDecisionLogger, packageVersion, type CreateOptions } from "./create.js";
export {
  parseDecisionLogConfig,
  DECISION_LOG_DEFAULTS,
  type ConfigReporter,
  type ConfigPath,
} from "./config.js";
export {
  maskParts,
  compileMasks,
  MASKED,
  SECRET_NAMES,
  SECRET_STRING_NAMES,
  ATTESTATION_SECRETS,
  type CompiledMask,
  type MaskedParts,
} from "./mask.js";
export { parsePointer, formatPointer } from "./pointer.js";
export { rfc3339Nano, nowNs } from "./timestamp.js";
export { encodeEvent } from "./event.js";
export { SinkQueue, type SinkStats } from "./queue.js";
export { ConsoleSink } from "./console_sink.js";
export { FileSink } from "./file_sink.js";
export { HttpSink } from "./http_sink.js";
export type { Sink, DiagnosticLog, DecisionLogLevel } from "./sink.js";
export {
  PepDecisionLog,
  requestedBy,
  reasonsOf,
  type DecidingPdp,
  type DecisionHook,
  type PepDecision,
  type PepDecisionLogOptions,
} from "./pep.js";
export type {
  DecisionLogEvent,
  DecisionRecord,
  DecisionLogConfig,
  EncodedEvent,
  MaskRule,
  PepFacts,
  FileSinkConfig,
  ServiceSinkConfig,
  BatchConfig,
  Json,
} from "./types.js";
