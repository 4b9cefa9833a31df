// Reading a request body within bounds: size (before and after gzip), nesting depth, JSON or YAML.
// Every failure is an HttpError with OPA's messages, so no malformed body reaches the engine.
import type { IncomingMessage } from "node:http";
import { gunzip } from "node:zlib";
import { parseDocument } from "yaml";
import { HttpError } from "./respond.js";

/** After this many bytes past the limit the connection is cut instead of drained. */
const DRAIN_SLACK = 4 * 1024 * 1024;

/** OPA's messages (server/types): the body is rejected before it is parsed. */
const MSG_TOO_LARGE = "request body too large";
const MSG_GZIP_TOO_LARGE = "compressed request body too large";

/**
 * The raw body, at most `limit` bytes. A body somewhat over the limit is drained and then answered
 * with 413, so the client reliably reads the answer; one far over it (declared or streamed) is
 * answered at once without reading further, and the connection closes after the answer.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, "invalid_parameter", MSG_TOO_LARGE, { connection: "close" });
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit + DRAIN_SLACK) {
      req.pause();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit + DRAIN_SLACK) {
        req.off("data", onData);
        req.pause();
        reject(tooLarge());
        return;
      }
      if (size > limit) {
        over = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.on("end", () => {
      if (over) reject(tooLarge());
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on("error", (e) => reject(e));
    req.on("close", () => {
      if (!req.complete) reject(new HttpError(400, "invalid_parameter", "request body incomplete"));
    });
  });
}

/** Decodes `Content-Encoding: gzip` (bounded), passes identity through, refuses anything else. */
export async function decodeBody(req: IncomingMessage, raw: Buffer, limit: number): Promise<Buffer> {
  const enc = (req.headers["content-encoding"] ?? "").trim().toLowerCase();
  if (enc === "" || enc === "identity") return raw;
  if (enc !== "gzip" && enc !== "x-gzip") {
    throw new HttpError(415, "invalid_parameter", `unsupported content-encoding ${JSON.stringify(enc)}`);
  }
  return new Promise((resolve, reject) => {
    gunzip(raw, { maxOutputLength: limit }, (err, out) => {
      if (!err) return resolve(out);
      if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        reject(new HttpError(413, "invalid_parameter", MSG_GZIP_TOO_LARGE));
      } else reject(new HttpError(400, "invalid_parameter", "could not decompress the body"));
    });
  });
}

/**
 * Parses a body as JSON, or YAML when the Content-Type says so (as OPA does). Empty → undefined.
 * `what` prefixes errors ("body contains malformed input document" for the Data API); `wrapper`
 * levels of envelope (`{"input": …}`) do not count against `maxDepth`.
 */
export function parseBody(
  req: IncomingMessage,
  body: Buffer,
  maxDepth: number,
  what: string,
  wrapper = 0,
): unknown {
  if (body.length === 0) return undefined;
  const ct = (req.headers["content-type"] ?? "").toLowerCase();
  let value: unknown;
  if (ct.includes("yaml")) {
    let doc: ReturnType<typeof parseDocument>;
    try {
      doc = parseDocument(body.toString("utf8"), { prettyErrors: false });
    } catch (e) {
      throw new HttpError(400, "invalid_parameter", `${what}: ${(e as Error).message}`);
    }
    if (doc.errors.length > 0)
      throw new HttpError(400, "invalid_parameter", `${what}: ${doc.errors[0]!.message.split("\n")[0]}`);
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new HttpError(400, "invalid_parameter", `${what}: ${(e as Error).message}`);
    }
  } else {
    const text = body.toString("utf8");
    if (text.trim() === "") return undefined;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new HttpError(400, "invalid_parameter", `${what}: ${(e as Error).message}`);
    }
  }
  const problem = checkValue(value, maxDepth, wrapper);
  if (problem) throw new HttpError(400, "invalid_parameter", `${what}: ${problem}`);
  return value;
}

/**
 * Depth and number checks, iteratively (JSON.parse accepts any depth, but the engine and the
 * serialisers recurse): a value nested deeper than `maxDepth`, or a number JSON cannot carry
 * (1e999 parses to Infinity), is refused.
 */
export function checkValue(value: unknown, maxDepth: number, wrapper = 0): string | undefined {
  const stack: [unknown, number][] = [[value, -wrapper]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) return "number out of range";
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (depth >= maxDepth) return `nesting depth exceeds ${maxDepth}`;
    if (Array.isArray(v)) for (const x of v) stack.push([x, depth + 1]);
    else for (const k in v) stack.push([(v as Record<string, unknown>)[k], depth + 1]);
  }
  return undefined;
}
