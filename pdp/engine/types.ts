// One interface over the policy engines the PDP can run: our Rego engine (pdp/rego) and OPA's Wasm
// SDK (@open-policy-agent/opa-wasm) for bundles that carry a `policy.wasm`. An engine does one job:
// the value of an entrypoint for an input, `undefined` when the document is undefined, or a thrown
// EngineError — never a crash of the process, never a partial answer.
import type { Value } from "../rego/index.js";

export type EngineKind = "rego" | "wasm";

/** Configured selection: `auto` runs a bundle's `policy.wasm` when it has one, else our Rego engine. */
export type EngineChoice = "auto" | EngineKind;

export const ENGINE_CHOICES: readonly EngineChoice[] = ["auto", "rego", "wasm"];

/** Per-evaluation options; an engine ignores what it cannot honour (see docs/engines.md). */
export interface EngineEvalOptions {
  /** OPA --strict-builtin-errors (Rego engine only). */
  strict?: boolean;
  /** Wall-clock bound (Rego engine only: a Wasm call is synchronous and cannot be interrupted). */
  timeoutMs?: number;
  /** print() sink (Rego engine only; the Wasm SDK writes opa_println to console.log). */
  print?: (message: string) => void;
}

export interface Engine {
  readonly kind: EngineKind;
  /** The policy revision this engine was built for. */
  readonly revision: string;
  /** Entrypoints as slash-separated paths under `data` (`portcullis/authz/decision`), in ID order. */
  entrypoints(): string[];
  /**
   * The value of an entrypoint — a slash-separated path or its number in entrypoints() — for `input`
   * (undefined input = no input). Returns undefined when the document is undefined. Throws EngineError.
   */
  evaluate(entrypoint: string | number, input?: unknown, opts?: EngineEvalOptions): Value | undefined;
  /** Replaces the base document `data` for the following evaluations. Throws EngineError. */
  setData(data: Record<string, unknown>): void;
}

export type EngineErrorCode =
  | "load_error" // the module or policy cannot be loaded (corrupt bytes, wrong ABI, compile errors)
  | "unknown_entrypoint" // no such entrypoint
  | "abort" // the policy called opa_abort (or trapped)
  | "builtin_error" // a builtin the host does not provide, or one that failed
  | "data_error" // data could not be loaded
  | "eval_error"; // any other evaluation failure, including a malformed result set

export class EngineError extends Error {
  override name = "EngineError";
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly engine: EngineKind,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The message of anything thrown: the Wasm SDK throws strings and `{message}` objects, not Errors. */
export function thrownMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === "string") return e;
  if (typeof e === "object" && e !== null && typeof (e as { message?: unknown }).message === "string") {
    return (e as { message: string }).message;
  }
  return String(e);
}
