// Writing responses the way OPA's server does: JSON bodies ending in a newline, compact unless
// `?pretty`, and errors as OPA's ErrorV1 (`{code, message, errors?}`, always indented).
import type { ServerResponse } from "node:http";
import { RegoError, RegoErrors } from "../rego/index.js";

/** OPA's REST API error codes (server/types). */
export type OpaErrorCode =
  | "internal_error"
  | "evaluation_error"
  | "unauthorized"
  | "invalid_parameter"
  | "invalid_operation"
  | "resource_not_found"
  | "resource_conflict"
  | "undefined_document";

/** One detailed error, as OPA serialises a topdown or ast error. */
export interface OpaErrorDetail {
  code: string;
  message: string;
  location?: { file: string; row: number; col: number };
}

export interface OpaError {
  code: OpaErrorCode;
  message: string;
  errors?: OpaErrorDetail[];
}

/** An error that already knows its HTTP status and OPA body. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    readonly code: OpaErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const MSG_EVALUATION_ERROR = "error(s) occurred while evaluating query";

export function sendJSONText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendJSON(res: ServerResponse, status: number, body: unknown, pretty = false): void {
  sendJSONText(res, status, JSON.stringify(body, null, pretty ? 2 : undefined) + "\n");
}

export function sendOpaError(
  res: ServerResponse,
  status: number,
  err: OpaError,
  headers: Record<string, string> = {},
): void {
  const body: OpaError = { code: err.code, message: err.message };
  if (err.errors && err.errors.length > 0) body.errors = err.errors;
  sendJSONText(res, status, JSON.stringify(body, null, 2) + "\n", headers);
}

/** The detail OPA gives for a Rego error: its code, message and location (when it has one). */
export function regoErrorDetail(e: RegoError): OpaErrorDetail {
  const d: OpaErrorDetail = { code: e.code, message: e.detail };
  if (e.location) d.location = { file: e.location.file, row: e.location.row, col: e.location.col };
  return d;
}

/**
 * An evaluation failure as OPA reports it: 500 internal_error with the Rego errors in `errors`
 * (writer.ErrorAuto on a topdown error). Anything that is not a Rego error is an internal error.
 */
export function evaluationError(e: unknown): { status: number; body: OpaError } {
  if (e instanceof RegoError) {
    return {
      status: 500,
      body: { code: "internal_error", message: MSG_EVALUATION_ERROR, errors: [regoErrorDetail(e)] },
    };
  }
  if (e instanceof RegoErrors) {
    return {
      status: 500,
      body: { code: "internal_error", message: MSG_EVALUATION_ERROR, errors: e.errors.map(regoErrorDetail) },
    };
  }
  return {
    status: 500,
    body: { code: "internal_error", message: e instanceof Error ? e.message : String(e) },
  };
}
