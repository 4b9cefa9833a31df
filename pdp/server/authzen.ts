// OpenID AuthZEN Authorization API 1.0: Access Evaluation, Access Evaluations (all three evaluation
// semantics) and the PDP metadata document. A deny is `200 {"decision": false}`; HTTP errors mean the
// request could not be processed, and the PEP fails closed on them.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { requestedBy, type DecisionRecord } from "../decision_log/index.js";
import { toJS, type Value } from "../rego/index.js";
import {
  authzenInput,
  AuthzenRequestError,
  parseEvaluation,
  parseEvaluations,
  type AuthzenTuple,
} from "./authzen_request.js";
import { decodeBody, parseBody, readBody } from "./body.js";
import type { PdpContext } from "./context.js";
import { evaluatePath } from "./evaluate.js";
import type { ActivePolicy } from "./policy_store.js";
import { evaluationError, HttpError, sendJSON, sendOpaError } from "./respond.js";

export const EVALUATION_PATH = "/access/v1/evaluation";
export const EVALUATIONS_PATH = "/access/v1/evaluations";
export const METADATA_PATH = "/.well-known/authzen-configuration";

export interface AuthzenDecision {
  decision: boolean;
  context?: Record<string, unknown>;
}

/**
 * A policy result as an AuthZEN decision, failing closed:
 * - `true`/`false` (a bare boolean policy) → that decision;
 * - `{decision: bool, context?: {…}}` (a policy written for AuthZEN) → passed through;
 * - a decision document `{allow: bool, …}` → `allow`, with its other members except `reasons` (which
 *   are for logs, never for callers) as the context: status, error, scope, downscope, headers, …;
 * - undefined or anything else → `false` (`problem` says why, for the log).
 */
export function toAuthzenDecision(v: unknown): { result: AuthzenDecision; problem?: string } {
  if (typeof v === "boolean") return { result: { decision: v } };
  if (v === undefined) return { result: { decision: false }, problem: "decision is undefined" };
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (typeof o.decision === "boolean") {
      const c = o.context;
      const ok = c === undefined || (typeof c === "object" && c !== null && !Array.isArray(c));
      if (!ok) return { result: { decision: false }, problem: "decision context is not an object" };
      return {
        result:
          c === undefined
            ? { decision: o.decision }
            : { decision: o.decision, context: c as Record<string, unknown> },
      };
    }
    if (typeof o.allow === "boolean") {
      const context: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) if (k !== "allow" && k !== "reasons") context[k] = x;
      return {
        result: Object.keys(context).length > 0 ? { decision: o.allow, context } : { decision: o.allow },
      };
    }
  }
  return { result: { decision: false }, problem: "policy result is not a decision document" };
}

function entrypointTerms(ctx: PdpContext): string[] {
  return ctx.config.authzen.entrypoint.split("/").filter((s) => s !== "");
}

/** Evaluates one tuple; throws the engine's errors. */
function decide(
  active: ActivePolicy,
  t: AuthzenTuple,
  timeoutMs: number,
  ctx: PdpContext,
  requestId: string | undefined,
  req?: IncomingMessage,
): AuthzenDecision {
  const terms = entrypointTerms(ctx);
  // A JSON round trip gives the engine plain data (the tuple's objects are the request's own).
  const input = JSON.parse(JSON.stringify(authzenInput(t))) as Value;
  const t0 = process.hrtime.bigint();
  let value: Value | undefined;
  try {
    value = evaluatePath(active.engine ?? active.policy, terms, {
      input,
      timeoutMs,
      print: (message) => ctx.log({ level: "info", msg: "print", request_id: requestId, text: message }),
    });
  } catch (e) {
    const detail = evaluationError(e).body.errors?.[0];
    const error = detail ?? { code: "internal_error", message: e instanceof Error ? e.message : String(e) };
    logEvaluation(ctx, req, requestId, active, input, {
      error: { code: error.code, message: error.message },
    });
    throw e;
  }
  const evalNs = Number(process.hrtime.bigint() - t0);
  const raw = value === undefined ? undefined : toJS(value);
  logEvaluation(ctx, req, requestId, active, input, {
    ...(raw !== undefined ? { result: raw } : {}),
    metrics: { timer_rego_query_eval_ns: evalNs },
  });
  const { result, problem } = toAuthzenDecision(raw);
  if (problem) {
    ctx.log({
      level: problem === "decision is undefined" ? "warn" : "error",
      msg: `authzen: ${problem}; denied`,
      entrypoint: ctx.config.authzen.entrypoint,
      revision: active.revision,
      request_id: requestId,
    });
  }
  return result;
}

/**
 * One decision-log event per evaluation (AuthZEN answers carry no decision id; the request's
 * X-Request-ID goes into OPA's `request_context` so a batch's events can be found together).
 */
function logEvaluation(
  ctx: PdpContext,
  req: IncomingMessage | undefined,
  requestId: string | undefined,
  active: ActivePolicy,
  input: unknown,
  extra: Pick<DecisionRecord, "result" | "error" | "metrics">,
): void {
  ctx.decisionLog?.log({
    decision_id: randomUUID(),
    path: entrypointTerms(ctx).join("/"),
    input,
    ...extra,
    bundles: { [active.name]: { revision: active.revision } },
    ...(req ? { requested_by: requestedBy(req.socket.remoteAddress, req.socket.remotePort) } : {}),
    ...(requestId !== undefined
      ? { request_context: { http: { headers: { "x-request-id": [requestId] } } } }
      : {}),
  });
}

async function readJSON(req: IncomingMessage, ctx: PdpContext): Promise<unknown> {
  const { max_body_bytes, max_depth } = ctx.config.limits;
  const raw = await readBody(req, max_body_bytes);
  return parseBody(req, await decodeBody(req, raw, max_body_bytes), max_depth, "malformed request body");
}

function activePolicy(ctx: PdpContext): ActivePolicy {
  const active = ctx.store.current();
  if (!active)
    throw new HttpError(503, "internal_error", "no policy revision is loaded", { "retry-after": "1" });
  return active;
}

function badRequest(e: unknown): never {
  if (e instanceof AuthzenRequestError) throw new HttpError(400, "invalid_parameter", e.message);
  throw e;
}

/** One evaluation answered over HTTP: an engine error is a 500 (the PEP fails closed). */
function answerSingle(
  res: ServerResponse,
  active: ActivePolicy,
  t: AuthzenTuple,
  ctx: PdpContext,
  requestId?: string,
): void {
  let d: AuthzenDecision;
  try {
    d = decide(active, t, ctx.config.limits.eval_timeout_ms, ctx, requestId, res.req);
  } catch (e) {
    ctx.log({
      level: "error",
      msg: "authzen evaluation failed",
      request_id: requestId,
      revision: active.revision,
      error: String(e),
    });
    const { status, body } = evaluationError(e);
    if (!body.errors) body.message = "internal error (see the PDP log)";
    sendOpaError(res, status, body);
    return;
  }
  sendJSON(res, 200, d);
}

export async function handleEvaluation(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: PdpContext,
): Promise<void> {
  const requestId = header(req, "x-request-id");
  let t: AuthzenTuple;
  try {
    t = parseEvaluation(await readJSON(req, ctx));
  } catch (e) {
    badRequest(e);
  }
  answerSingle(res, activePolicy(ctx), t, ctx, requestId);
}

export async function handleEvaluations(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: PdpContext,
): Promise<void> {
  const requestId = header(req, "x-request-id");
  let parsed: ReturnType<typeof parseEvaluations>;
  try {
    parsed = parseEvaluations(await readJSON(req, ctx), ctx.config.limits.max_evaluations);
  } catch (e) {
    badRequest(e);
  }
  const active = activePolicy(ctx);
  if (parsed.single) {
    answerSingle(res, active, parsed.single, ctx, requestId);
    return;
  }
  // The whole batch shares one time budget: evaluation is synchronous, so a long batch holds the process.
  const deadline = Date.now() + ctx.config.limits.eval_timeout_ms;
  const out: AuthzenDecision[] = [];
  for (const item of parsed.items!) {
    let d: AuthzenDecision;
    if (item instanceof AuthzenRequestError) {
      d = { decision: false, context: { error: { status: 400, message: item.message } } };
    } else {
      const left = deadline - Date.now();
      try {
        if (left <= 0) throw new Error("evaluation exceeded the time limit");
        d = decide(active, item, left, ctx, requestId, req);
      } catch (e) {
        ctx.log({
          level: "error",
          msg: "authzen evaluation failed",
          request_id: requestId,
          revision: active.revision,
          error: String(e),
        });
        d = { decision: false, context: { error: { status: 500, message: "evaluation failed" } } };
      }
    }
    out.push(d);
    // Short-circuit like `&&` / `||`: the deciding item is the last one answered.
    if (parsed.semantic === "deny_on_first_deny" && !d.decision) break;
    if (parsed.semantic === "permit_on_first_permit" && d.decision) break;
  }
  sendJSON(res, 200, { evaluations: out });
}

/** The PDP metadata document: only the endpoints served here (absent means unsupported). */
export function handleMetadata(req: IncomingMessage, res: ServerResponse, ctx: PdpContext): void {
  const base = ctx.config.authzen.pdp_identifier ?? derivedIdentifier(req, ctx);
  sendJSON(res, 200, {
    policy_decision_point: base,
    access_evaluation_endpoint: base + EVALUATION_PATH,
    access_evaluations_endpoint: base + EVALUATIONS_PATH,
  });
}

const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Without a configured identifier: the scheme we serve and the Host the client used (if sane). */
function derivedIdentifier(req: IncomingMessage, ctx: PdpContext): string {
  const scheme = ctx.config.tls ? "https" : "http";
  const host = header(req, "host");
  if (host && HOST.test(host)) return `${scheme}://${host.toLowerCase()}`;
  const { host: h, port } = ctx.config.listen;
  return `${scheme}://${h.includes(":") ? `[${h}]` : h}:${port}`;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
