// Errors carry OPA's codes so that callers (CLI, PDP API, conformance runner)
// can report them exactly as OPA does: `file:row: code: message`.
import type { Location } from "./ast.js";

export type RegoErrorCode =
  | "rego_parse_error"
  | "rego_compile_error"
  | "rego_unsafe_var_error"
  | "rego_recursion_error"
  | "rego_type_error"
  | "eval_conflict_error"
  | "eval_type_error"
  | "eval_builtin_error"
  | "eval_cancel_error"
  | "eval_internal_error";

export class RegoError extends Error {
  readonly code: RegoErrorCode;
  readonly location: Location | undefined;
  /** The message without location and code, as OPA's `Error.Message`. */
  readonly detail: string;

  constructor(code: RegoErrorCode, detail: string, location?: Location) {
    super(formatError(code, detail, location));
    this.name = "RegoError";
    this.code = code;
    this.detail = detail;
    this.location = location;
  }
}

/** OPA's `Error.Error()`: `file:row: code: message` (file:row omitted without a location). */
export function formatError(code: string, detail: string, location?: Location): string {
  if (!location) return `${code}: ${detail}`;
  return `${location.file}:${location.row}: ${code}: ${detail}`;
}

/** Several compile errors reported together, as OPA's `Errors` (`N errors occurred:` …). */
export class RegoErrors extends Error {
  readonly errors: RegoError[];
  constructor(errors: RegoError[]) {
    super(
      errors.length === 1
        ? `1 error occurred: ${errors[0]!.message}`
        : `${errors.length} errors occurred:\n${errors.map((e) => e.message).join("\n")}`,
    );
    this.name = "RegoErrors";
    this.errors = errors;
  }
  get code(): RegoErrorCode {
    return this.errors[0]!.code;
  }
}
