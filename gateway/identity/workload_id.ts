// Workload IDs as subjects: `spiffe://` and `wimse://` URIs with SPIFFE syntax. Shared by the config
// loader (map files are checked when they are read) and identifier translation on the request path, so
// what the config accepts and what a request is matched with are the same parse.
import { parseSpiffeId } from "../pki/spiffe.js";

export interface WorkloadId {
  scheme: "spiffe" | "wimse";
  trustDomain: string;
  segments: string[];
}

const WORKLOAD_SCHEME = /^(spiffe|wimse):\/\//;

/**
 * A `spiffe://` or `wimse://` ID with SPIFFE syntax (the WIMSE identifier draft allows the same form);
 * `undefined` for anything else, including near-misses such as `SPIFFE://` or a `..` segment.
 */
export function parseWorkloadId(id: string): WorkloadId | undefined {
  const m = WORKLOAD_SCHEME.exec(id);
  if (!m) return undefined;
  const parsed = parseSpiffeId(`spiffe://${id.slice(m[0].length)}`);
  if (typeof parsed === "string") return undefined;
  return { scheme: m[1] as WorkloadId["scheme"], trustDomain: parsed.trustDomain, segments: parsed.segments };
}

/** A subject that claims to be a workload ID (any case), whether or not it is a valid one. */
export function isWorkloadUri(subject: string): boolean {
  return /^(spiffe|wimse):/i.test(subject);
}
