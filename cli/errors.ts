// Error reporting for the CLI in OPA's style, with columns:
// `1 error occurred: policy.rego:3:5: rego_parse_error: unexpected …`.
import { RegoError, RegoErrors } from "../pdp/rego/index.js";

/** A problem loading files (missing path, bad JSON/YAML, conflicting data). */
export class LoadError extends Error {
  override name = "LoadError";
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

/** One Rego error as `file:row:col: code: detail` (parts without a location left out). */
export function formatRegoError(e: RegoError): string {
  const loc = e.location;
  if (!loc) return `${e.code}: ${e.detail}`;
  const where = loc.file ? `${loc.file}:${loc.row}:${loc.col}` : `${loc.row}:${loc.col}`;
  return `${where}: ${e.code}: ${e.detail}`;
}

/** The lines of any error, one per underlying error. */
export function errorLines(err: unknown): string[] {
  if (err instanceof RegoErrors) return err.errors.map(formatRegoError);
  if (err instanceof RegoError) return [formatRegoError(err)];
  if (err instanceof LoadError) return [err.message];
  if (err instanceof Error) return [err.message];
  return [String(err)];
}

/** OPA's summary: `1 error occurred: …` or `N errors occurred:` followed by one line each. */
export function formatErrors(err: unknown): string {
  const lines = errorLines(err);
  if (lines.length === 1) return `1 error occurred: ${lines[0]}\n`;
  return `${lines.length} errors occurred:\n${lines.join("\n")}\n`;
}
