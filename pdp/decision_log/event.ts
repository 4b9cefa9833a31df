// A logged record → the event the sinks write: masked, stamped, serialised once for every sink.
import { maskParts, type CompiledMask } from "./mask.js";
import { rfc3339Nano } from "./timestamp.js";
import type { DecisionLogEvent, EncodedEvent, StampedRecord } from "./types.js";

/** Throws when the record cannot be JSON (a bigint, a cycle); the logger counts and reports that. */
export function encodeEvent(
  r: StampedRecord,
  labels: Record<string, string>,
  masks: readonly CompiledMask[],
): EncodedEvent {
  const result = r.lazyResult !== undefined ? r.lazyResult() : r.result;
  const m = maskParts(r.input, result, masks);
  // Members in the order of OPA's EventV1, ours last.
  const event: DecisionLogEvent = {
    labels,
    decision_id: r.decision_id,
    ...(r.trace_id !== undefined ? { trace_id: r.trace_id } : {}),
    ...(r.span_id !== undefined ? { span_id: r.span_id } : {}),
    ...(r.bundles !== undefined ? { bundles: r.bundles } : {}),
    path: r.path,
    ...(m.input !== undefined ? { input: m.input } : {}),
    ...(m.result !== undefined ? { result: m.result } : {}),
    ...(m.erased.length > 0 ? { erased: m.erased } : {}),
    ...(m.masked.length > 0 ? { masked: m.masked } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
    ...(r.requested_by !== undefined ? { requested_by: r.requested_by } : {}),
    timestamp: rfc3339Nano(r.timeNs),
    ...(r.metrics !== undefined ? { metrics: r.metrics } : {}),
    ...(r.request_context !== undefined ? { request_context: r.request_context } : {}),
    ...(r.reasons !== undefined ? { reasons: r.reasons } : {}),
    ...(r.pep !== undefined ? { pep: r.pep } : {}),
  };
  return { event, json: JSON.stringify(event) };
}
