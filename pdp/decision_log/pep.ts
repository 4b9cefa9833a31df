// Decision logs for an enforcement point (the gateway): one event per policy decision, allowed or
// denied, with the policy's own result and whether the decision cache answered it. The PEP reports what
// it did through `hook` (an `onDecision` callback); what the PDP answered is picked up by two thin
// wrappers around the PEP's PDP, joined to the hook's call by the input object, which the PEP builds
// once per request and hands to the PDP as is:
//
//   observed ─▶ decision cache ─▶ evaluating ─▶ policy
//
// `observed` records the answer (or the error) for the input; `evaluating` marks inputs the policy
// itself evaluated. An answer with no evaluation behind it came from the cache. Types are structural:
// pdp/ does not import gateway/.
import { randomUUID } from "node:crypto";
import type { DecisionLogger } from "./logger.js";
import type { DecisionRecord } from "./types.js";

/** The PDP the way a PEP calls it (gateway/server/enforce.ts's Pdp fits). */
export interface DecidingPdp<C = unknown> {
  /** `memo`: passed through untouched (the gateway's decision-key memo, pdp/cache DecisionKeyMemo). */
  decide(input: Record<string, unknown>, context?: C, memo?: never): unknown;
  readonly revision?: string;
  readonly entrypoint?: string;
}

/** What the PEP reports about one decision. */
export interface PepDecision {
  /** The input the PDP was asked with (the very object: it joins the hook to the PDP's answer). */
  input: Record<string, unknown>;
  allowed: boolean;
  /** A deny's HTTP status. */
  status?: number;
  /** The PEP's log line for a deny. */
  reason?: string;
  /** From asking the PDP to having the verdict (cache lookup and evaluation included). */
  durationNs: number;
  /** The client's address, `ip:port` (`[ip6]:port`). */
  requestedBy?: string;
}

/** Called by the PEP once per decision; returns the event's decision id. Never throws. */
export type DecisionHook = (d: PepDecision) => string | undefined;

interface Outcome {
  result?: unknown;
  error?: unknown;
}

export interface PepDecisionLogOptions {
  /** OPA's bundle name the revision is reported under (default `portcullis`). */
  bundle?: string;
  /** Reported as `path` when the PDP does not name its entrypoint. */
  entrypoint?: string;
}

/** `ip:port`, IPv6 in brackets, as OPA's `requested_by` spells it. */
export function requestedBy(address: string | undefined, port: number | undefined): string | undefined {
  if (address === undefined) return undefined;
  const host = address.includes(":") ? `[${address}]` : address;
  return port === undefined ? host : `${host}:${port}`;
}

export class PepDecisionLog {
  private readonly outcomes = new WeakMap<object, Outcome>();
  private readonly evaluated = new WeakSet<object>();
  /** Whether a decision cache sits between `observed` and `evaluating` (cache hits can be told). */
  private cached = false;
  private pdp: DecidingPdp<never> | undefined;

  constructor(
    private readonly logger: DecisionLogger,
    private readonly o: PepDecisionLogOptions = {},
  ) {}

  /**
   * Wraps `pdp` for logging. `withCache` puts the decision cache (or nothing) around the evaluating
   * PDP it is given; the returned PDP is the one the PEP must ask. Members of the cache's PDP (its
   * stats, …) stay readable on the result.
   */
  wrap<C, P extends DecidingPdp<C>>(pdp: P, withCache: (evaluating: P) => P = (p) => p): P {
    const evaluating = this.evaluating(pdp);
    const asked = withCache(evaluating);
    this.cached = asked !== evaluating;
    return this.observed(asked);
  }

  /** The PEP's `onDecision`: logs one event and returns its decision id. */
  readonly hook: DecisionHook = (d) => {
    try {
      return this.record(d);
    } catch {
      return undefined;
    }
  };

  private evaluating<C, P extends DecidingPdp<C>>(pdp: P): P {
    const evaluated = this.evaluated;
    return withDecide(pdp, (input: Record<string, unknown>, context?: C, memo?: never): unknown => {
      evaluated.add(input);
      return pdp.decide(input, context, memo);
    });
  }

  private observed<C, P extends DecidingPdp<C>>(pdp: P): P {
    this.pdp = pdp as DecidingPdp<never>;
    const outcomes = this.outcomes;
    return withDecide(pdp, (input: Record<string, unknown>, context?: C, memo?: never): unknown => {
      let r: unknown;
      try {
        r = pdp.decide(input, context, memo);
      } catch (error) {
        outcomes.set(input, { error });
        throw error;
      }
      if (r instanceof Promise) {
        return r.then(
          (result: unknown) => {
            outcomes.set(input, { result });
            return result;
          },
          (error: unknown) => {
            outcomes.set(input, { error });
            throw error;
          },
        );
      }
      outcomes.set(input, { result: r });
      return r;
    });
  }

  private record(d: PepDecision): string {
    const decisionId = randomUUID();
    const outcome = this.outcomes.get(d.input);
    this.outcomes.delete(d.input);
    const revision = this.pdp?.revision;
    const result = outcome?.result;
    const reasons = reasonsOf(result);
    const segment = typeof d.input.segment === "string" ? d.input.segment : undefined;
    const cache =
      this.cached && outcome !== undefined ? (this.evaluated.has(d.input) ? "miss" : "hit") : undefined;
    const error = outcome?.error;
    const rec: DecisionRecord = {
      decision_id: decisionId,
      path: this.pdp?.entrypoint ?? this.o.entrypoint ?? "",
      input: d.input,
      ...(result !== undefined ? { result } : {}),
      ...(error !== undefined
        ? { error: { code: "pdp_error", message: error instanceof Error ? error.message : String(error) } }
        : {}),
      ...(revision !== undefined ? { bundles: { [this.o.bundle ?? "portcullis"]: { revision } } } : {}),
      ...(d.requestedBy !== undefined ? { requested_by: d.requestedBy } : {}),
      metrics: { timer_pep_decision_ns: d.durationNs },
      ...(reasons !== undefined ? { reasons } : {}),
      pep: {
        ...(segment !== undefined ? { segment } : {}),
        allowed: d.allowed,
        ...(d.status !== undefined ? { status: d.status } : {}),
        ...(cache !== undefined ? { cache } : {}),
        ...(d.reason !== undefined ? { reason: d.reason } : {}),
      },
    };
    this.logger.log(rec);
    return decisionId;
  }
}

/**
 * `pdp` with another `decide`. Every other member (a cache's `stats`, getters over private fields) is
 * read from `pdp` itself, so the wrapper can stand wherever `pdp` did.
 */
function withDecide<P extends object>(pdp: P, decide: (...args: never[]) => unknown): P {
  return new Proxy(pdp, {
    get: (target, prop) => (prop === "decide" ? decide : Reflect.get(target, prop, target)),
  });
}

/** The decision document's `reasons`, when it has a list of strings there. */
export function reasonsOf(result: unknown): string[] | undefined {
  if (typeof result !== "object" || result === null || Array.isArray(result)) return undefined;
  const r = (result as Record<string, unknown>).reasons;
  if (!Array.isArray(r)) return undefined;
  return r.filter((x): x is string => typeof x === "string");
}
