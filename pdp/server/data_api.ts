// OPA's Data API: `GET|POST /v1/data/{path}` → `{"result": …, "decision_id": …}` with OPA's query
// parameters (pretty, metrics, instrument, provenance, strict-builtin-errors), OPA's input rules
// (POST body `{"input": …}`, GET `?input=<JSON>`) and OPA's error bodies.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { requestedBy, type DecisionRecord } from "../decision_log/index.js";
import { toJS, toJSONText, type Value } from "../rego/index.js";
import { checkValue, decodeBody, parseBody, readBody } from "./body.js";
import type { PdpContext } from "./context.js";
import { cachedText, decideCached, readPaths } from "./data_cache.js";
import { evaluatePath, pathTerms, type PathTerm } from "./evaluate.js";
import type { ActivePolicy } from "./policy_store.js";
import { evaluationError, HttpError, sendJSONText, sendOpaError } from "./respond.js";

/** OPA's getBoolParam: present without a value is true; otherwise any value equal to "true" (any case). */
export function boolParam(q: URLSearchParams, name: string): boolean {
  const values = q.getAll(name);
  if (values.length === 0) return false;
  if (values.length === 1 && values[0] === "") return true;
  return values.some((v) => v.toLowerCase() === "true");
}

const MSG_INPUT_MISSING = "'input' key missing from the request";

/** Reads the input: undefined when the request carries none (OPA then warns on POST). */
async function readInput(req: IncomingMessage, q: URLSearchParams, ctx: PdpContext): Promise<unknown> {
  const { max_body_bytes, max_depth } = ctx.config.limits;
  if (req.method === "GET") {
    const params = q.getAll("input");
    if (params.length === 0) return undefined;
    const text = params[params.length - 1]!;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new HttpError(
        400,
        "invalid_parameter",
        `parameter contains malformed input document: ${(e as Error).message}`,
      );
    }
    const problem = checkValue(v, max_depth);
    if (problem)
      throw new HttpError(
        400,
        "invalid_parameter",
        `parameter contains malformed input document: ${problem}`,
      );
    return v;
  }
  const raw = await readBody(req, max_body_bytes);
  const body = parseBody(
    req,
    await decodeBody(req, raw, max_body_bytes),
    max_depth,
    "body contains malformed input document",
    1,
  );
  if (body === undefined || body === null) return undefined;
  if (typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(
      400,
      "invalid_parameter",
      `body contains malformed input document: the body must be an object like {"input": …}, got ${Array.isArray(body) ? "an array" : typeof body}`,
    );
  }
  const input = (body as Record<string, unknown>).input;
  // As in OPA (a *any field), `"input": null` counts as no input.
  return input === null ? undefined : input;
}

export async function handleData(
  req: IncomingMessage,
  res: ServerResponse,
  escapedPath: string,
  q: URLSearchParams,
  ctx: PdpContext,
): Promise<void> {
  const t0 = process.hrtime.bigint();
  const decisionId = randomUUID();
  const pretty = boolParam(q, "pretty");
  const wantMetrics = boolParam(q, "metrics") || boolParam(q, "instrument");
  const wantProvenance = boolParam(q, "provenance");
  const strict = boolParam(q, "strict-builtin-errors");

  const terms = pathTerms(escapedPath);
  const input = await readInput(req, q, ctx);
  const tParsed = process.hrtime.bigint();

  const active = ctx.store.current();
  if (!active) {
    throw new HttpError(503, "internal_error", "no policy revision is loaded", { "retry-after": "1" });
  }
  let value: Value | undefined;
  let cached: unknown;
  try {
    const evaluate = () =>
      evaluatePath(active.engine ?? active.policy, terms, {
        ...(input !== undefined ? { input: input as Value } : {}),
        strict,
        timeoutMs: ctx.config.limits.eval_timeout_ms,
        print: (message) => ctx.log({ level: "info", msg: "print", decision_id: decisionId, text: message }),
      });
    if (ctx.cache) {
      const paths = readPaths(active, terms);
      const a = decideCached(ctx.cache, active.revision, terms, strict, input, evaluate, paths);
      ({ value, cached } = a instanceof Promise ? await a : a);
    } else value = evaluate();
  } catch (e) {
    const { status, body } = evaluationError(e);
    const detail = body.errors?.[0];
    logDecision(ctx, req, decisionId, terms, input, active, {
      error: detail
        ? { code: detail.code, message: detail.message }
        : { code: body.code, message: e instanceof Error ? e.message : String(e) },
      metrics: { timer_rego_input_parse_ns: Number(tParsed - t0) },
    });
    ctx.log({
      level: "error",
      msg: "evaluation failed",
      decision_id: decisionId,
      path: "/" + terms.join("/"),
      revision: active.revision,
      error: e instanceof Error ? e.message : String(e),
    });
    if (body.code === "internal_error" && !body.errors) body.message = "internal error (see the PDP log)";
    sendOpaError(res, status, body);
    return;
  }
  const tEval = process.hrtime.bigint();

  // Members in the order OPA's DataResponseV1 declares them.
  const members: [string, string][] = [];
  if (wantProvenance) {
    members.push([
      "provenance",
      json(
        {
          bundles: { [active.name]: { revision: active.revision } },
          version: ctx.version,
          build_commit: "",
          build_timestamp: "",
          build_hostname: "",
        },
        pretty,
      ),
    ]);
  }
  if (wantMetrics) {
    members.push([
      "metrics",
      json(
        {
          timer_rego_input_parse_ns: Number(tParsed - t0),
          timer_rego_query_eval_ns: Number(tEval - tParsed),
          timer_server_handler_ns: Number(process.hrtime.bigint() - t0),
        },
        pretty,
      ),
    ]);
  }
  if (value !== undefined) members.push(["result", toJSONText(value, pretty ? "  " : "")]);
  else if (cached !== undefined) members.push(["result", cachedText(cached, pretty)]);
  if (input === undefined && req.method === "POST") {
    members.push(["warning", json({ code: "api_usage_warning", message: MSG_INPUT_MISSING }, pretty)]);
  }
  members.push(["decision_id", JSON.stringify(decisionId)]);
  sendJSONText(res, 200, envelope(members, pretty));
  const result = value;
  logDecision(ctx, req, decisionId, terms, input, active, {
    // Converted off the request path, when the event is encoded.
    ...(result !== undefined
      ? { lazyResult: () => toJS(result) }
      : cached !== undefined
        ? { lazyResult: () => cached }
        : {}),
    metrics: {
      timer_rego_input_parse_ns: Number(tParsed - t0),
      timer_rego_query_eval_ns: Number(tEval - tParsed),
      timer_server_handler_ns: Number(process.hrtime.bigint() - t0),
    },
  });
}

/** One decision-log event (when decision logging is on) under the response's decision id. */
function logDecision(
  ctx: PdpContext,
  req: IncomingMessage,
  decisionId: string,
  terms: readonly PathTerm[],
  input: unknown,
  active: ActivePolicy,
  extra: Pick<DecisionRecord, "lazyResult" | "error" | "metrics">,
): void {
  ctx.decisionLog?.log({
    decision_id: decisionId,
    path: terms.join("/"),
    ...(input !== undefined ? { input } : {}),
    ...extra,
    bundles: { [active.name]: { revision: active.revision } },
    requested_by: requestedBy(req.socket.remoteAddress, req.socket.remotePort),
  });
}

function json(v: unknown, pretty: boolean): string {
  return JSON.stringify(v, null, pretty ? 2 : undefined);
}

/** `{"k":v,…}` from already serialised members; pretty nests them one level (two spaces) deeper. */
function envelope(members: [string, string][], pretty: boolean): string {
  if (!pretty) return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}\n`;
  // JSON text has no raw newlines inside strings, so re-indenting line by line is safe.
  const lines = members.map(([k, v]) => `  ${JSON.stringify(k)}: ${v.split("\n").join("\n  ")}`);
  return `{\n${lines.join(",\n")}\n}\n`;
}
