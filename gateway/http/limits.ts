/**
 * Message framing and size checks. Node's parser (llhttp) already refuses most smuggling shapes, but it
 * folds or drops repeated fields before application code sees `req.headers`; these checks read
 * `req.rawHeaders`, every field line as sent, so no framing the gateway and the upstream could disagree on
 * is ever forwarded, whatever parser leniency a future Node or option turns on.
 */
import { invalidRequest } from "./errors.js";

export interface RequestLimits {
  /** Most header field lines. */
  maxHeaderCount: number;
  /** Longest single field line (name + value), in bytes. */
  maxHeaderFieldBytes: number;
  /** All field lines together (names + values), in bytes. */
  maxHeaderBytes: number;
  /** Largest request body, declared (checked here) or streamed (bounded as it flows: body_limit.ts). */
  maxBodyBytes: number;
}

export const DEFAULT_LIMITS: Readonly<RequestLimits> = Object.freeze({
  maxHeaderCount: 100,
  maxHeaderFieldBytes: 8192,
  maxHeaderBytes: 16384,
  maxBodyBytes: 1024 * 1024,
});

export function resolveLimits(partial: Partial<RequestLimits> = {}): RequestLimits {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`${key} must be a non-negative integer`);
  }
  return limits;
}

/** The parts of `IncomingMessage` the checks read, so they run the same on a real request and in tests. */
export interface RequestHead {
  /** Alternating names and values, exactly as `IncomingMessage.rawHeaders`. */
  rawHeaders: readonly string[];
  httpVersion: string;
}

export interface FramingResult {
  /** The declared body length, or undefined for a chunked or body-less request. */
  contentLength: number | undefined;
  chunked: boolean;
}

const FIELD_BREAK = /[\0\r\n]/;

/**
 * Throws a HygieneError (400, or 431/413 for sizes) for ambiguous framing or oversized heads; returns the
 * framing the body stream will have.
 */
export function checkRequestHead(head: RequestHead, limits: RequestLimits = DEFAULT_LIMITS): FramingResult {
  const raw = head.rawHeaders;
  if (raw.length % 2 !== 0) throw new TypeError("rawHeaders must alternate names and values");
  if (raw.length / 2 > limits.maxHeaderCount) throw invalidRequest("too many header fields", 431);

  let total = 0;
  const contentLengths: string[] = [];
  const transferEncodings: string[] = [];
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const rawName = raw[i];
    const value = raw[i + 1];
    // Node decodes field lines as latin1, one character per wire byte, so length is the byte count.
    const size = rawName.length + value.length;
    if (size > limits.maxHeaderFieldBytes) throw invalidRequest("header field too large", 431);
    total += size;
    // Bare CR/LF/NUL inside a value could split the field again when re-serialised for the upstream.
    if (FIELD_BREAK.test(value)) throw invalidRequest("control character in header value");
    // Only names of these three lengths can be framing fields: no lower-cased copy of every other name.
    const len = rawName.length;
    if (len !== 4 && len !== 14 && len !== 17) continue;
    const name = rawName.toLowerCase();
    if (name === "content-length") contentLengths.push(value);
    else if (name === "transfer-encoding") transferEncodings.push(value);
    else if (name === "host") hosts++;
  }
  if (total > limits.maxHeaderBytes) throw invalidRequest("header section too large", 431);

  // RFC 9112 §3.2: more than one Host, or none in HTTP/1.1, is a 400; Node would silently keep the first.
  if (hosts > 1) throw invalidRequest("multiple host headers");
  if (hosts === 0 && head.httpVersion === "1.1") throw invalidRequest("missing host header");

  // RFC 9112 §6.1: with both present the framing is ambiguous — the core of CL.TE / TE.CL smuggling.
  if (contentLengths.length > 0 && transferEncodings.length > 0) {
    throw invalidRequest("both content-length and transfer-encoding");
  }
  if (transferEncodings.length > 0) {
    if (head.httpVersion !== "1.1") throw invalidRequest("transfer-encoding in HTTP/1.0 request");
    // Exactly one field line saying exactly `chunked`: any list (`gzip, chunked`, `chunked, chunked`) or
    // variant spelling is something a downstream parser may read differently.
    if (transferEncodings.length !== 1 || transferEncodings[0].trim().toLowerCase() !== "chunked") {
      throw invalidRequest("unsupported transfer-encoding");
    }
    return { contentLength: undefined, chunked: true };
  }
  if (contentLengths.length > 1) throw invalidRequest("multiple content-length headers");
  if (contentLengths.length === 1) {
    const value = contentLengths[0].trim();
    // Digits only: no sign, no list (`5, 5`), no hex; and small enough to be an exact number.
    if (!/^[0-9]{1,15}$/.test(value)) throw invalidRequest("invalid content-length");
    const contentLength = Number(value);
    if (contentLength > limits.maxBodyBytes) throw invalidRequest("request body too large", 413);
    return { contentLength, chunked: false };
  }
  return { contentLength: undefined, chunked: false };
}
