// The builtin function interface. A builtin is a pure function of its operands
// (plus the per-query context for time, randomness and printing); it signals
// failure by throwing BuiltinError, and the evaluator turns that into OPA's
// behaviour: an error in strict mode, an undefined expression otherwise.
import type { Value } from "../value.js";

export interface BuiltinContext {
  /** time.now_ns for this query: the same value for every call in one evaluation. */
  readonly nowNs: bigint;
  /** Per-query memo for builtins that must be deterministic within one query (rand.intn, uuid.rfc4122). */
  readonly memo: Map<string, Value>;
  /** Output sink of print(); the evaluator decides where it goes. */
  print(message: string): void;
}

/**
 * Returns the result, or `undefined` when the builtin is undefined for these
 * operands (e.g. object.get never is, but `regex.find_n` with no match is []).
 */
export type BuiltinFn = (args: Value[], ctx: BuiltinContext) => Value | undefined;

export interface BuiltinDef {
  name: string;
  /** Number of operands (the output is extra). */
  arity: number;
  fn: BuiltinFn;
  /**
   * Relations produce several results (e.g. `walk`): `fn` then returns an
   * array of results, each one unified with the output in turn.
   */
  relation?: boolean;
  /** Results depend on more than the operands (time, randomness): never memoise or fold. */
  nondeterministic?: boolean;
}

export type BuiltinErrorCode = "eval_type_error" | "eval_builtin_error";

export class BuiltinError extends Error {
  constructor(
    readonly code: BuiltinErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "BuiltinError";
  }
}

const registry = new Map<string, BuiltinDef>();

export function registerBuiltins(defs: BuiltinDef[]): void {
  for (const d of defs) registry.set(d.name, d);
}

export function getBuiltin(name: string): BuiltinDef | undefined {
  return registry.get(name);
}

export function builtinNames(): string[] {
  return [...registry.keys()].sort();
}

/** Builtins OPA has that we knowingly do not ship; the conformance runner skips cases using them. */
export const UNSUPPORTED_BUILTINS: ReadonlySet<string> = new Set([
  "http.send",
  "net.lookup_ip_addr",
  "rego.parse_module",
  "rego.metadata.chain",
  "rego.metadata.rule",
]);
