// The decision-log event (OPA's EventV1 fields plus a few of our own) and what producers hand over.

/** A JSON value as it appears in an event. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * One decision as OPA's decision logger writes it (docs: management-decision-logs), members in OPA's
 * order. `nd_builtin_cache`, `query` and `req_id` are never set: there is no ad-hoc query API and no
 * non-deterministic builtin cache here.
 */
export interface DecisionLogEvent {
  labels: Record<string, string>;
  decision_id: string;
  trace_id?: string;
  span_id?: string;
  bundles?: Record<string, { revision: string }>;
  path: string;
  input?: unknown;
  result?: unknown;
  erased?: string[];
  masked?: string[];
  /** An evaluation that failed: the engine's error (then there is no `result`). */
  error?: { code: string; message: string };
  requested_by?: string;
  timestamp: string;
  metrics?: Record<string, number>;
  request_context?: { http: { headers: Record<string, string[]> } };
  /** Ours: the decision document's `reasons`, which callers never see. */
  reasons?: string[];
  /** Ours: what the enforcement point did with the decision (gateway events only). */
  pep?: PepFacts;
}

export interface PepFacts {
  segment?: string;
  allowed: boolean;
  /** The status of a deny (an allowed request's status is the upstream's). */
  status?: number;
  /** `hit`: answered by the decision cache, not evaluated; `miss`: evaluated. Absent: no cache. */
  cache?: "hit" | "miss";
  /** The PEP's deny line (`deny: <reasons>`, `policy error: …`, `pdp error: …`). */
  reason?: string;
}

/**
 * What a decision point hands to DecisionLogger.log: references, not copies. Masking, the timestamp's
 * formatting and serialisation happen later, off the request path, so the objects must not be changed
 * after they are logged (both producers build them per request and leave them alone).
 */
export interface DecisionRecord {
  decision_id: string;
  /** The policy path decided, slash-separated without a leading slash (`portcullis/authz/decision`). */
  path: string;
  input?: unknown;
  /** Plain JSON data; use `lazyResult` for a value that needs converting (a Rego value). */
  result?: unknown;
  lazyResult?: () => unknown;
  error?: { code: string; message: string };
  bundles?: Record<string, { revision: string }>;
  requested_by?: string;
  metrics?: Record<string, number>;
  request_context?: { http: { headers: Record<string, string[]> } };
  reasons?: string[];
  pep?: PepFacts;
  trace_id?: string;
  span_id?: string;
}

/** A decision record with the time it was logged (nanoseconds since the epoch). */
export interface StampedRecord extends DecisionRecord {
  timeNs: bigint;
}

/** An event ready for the sinks: the object (for tests and in-process consumers) and its JSON text. */
export interface EncodedEvent {
  event: DecisionLogEvent;
  json: string;
}

/** OPA's mask operations: `remove` erases the member, `upsert` sets it. */
export type MaskRule = { op: "remove"; path: string } | { op: "upsert"; path: string; value: Json };

export interface FileSinkConfig {
  path: string;
  /** Rotate before a write would take the file past this size; 0 = never (use reopen on SIGHUP). */
  max_bytes: number;
  /** Rotated files kept: `path.1` (newest) … `path.N`. */
  max_files: number;
}

export interface ServiceSinkConfig {
  /** The full URL events are POSTed to (OPA's `<service url>/logs`). */
  url: string;
  headers: Record<string, string>;
  /** Sent as `Authorization: Bearer <contents>` (read at start-up, trimmed). */
  bearer_token_file?: string;
  gzip: boolean;
  /** One upload attempt, connect to last byte of the response. */
  timeout_ms: number;
  /** Exponential backoff between failed attempts of the same batch. */
  min_retry_delay_ms: number;
  max_retry_delay_ms: number;
}

export interface BatchConfig {
  max_events: number;
  max_delay_ms: number;
  /** Uncompressed JSON bytes of one batch (a single larger event still goes alone). */
  max_bytes: number;
}

/** `decision_logs:` after validation. Present only when at least one sink is on. */
export interface DecisionLogConfig {
  console: boolean;
  file?: FileSinkConfig;
  service?: ServiceSinkConfig;
  mask: MaskRule[];
  labels: Record<string, string>;
  /** Events one sink may hold (queued and in flight); beyond it new events are dropped and counted. */
  max_buffer_events: number;
  /** The same bound in bytes of JSON (inputs can be large: a PDP client chooses their size). */
  max_buffer_bytes: number;
  batch: BatchConfig;
}
