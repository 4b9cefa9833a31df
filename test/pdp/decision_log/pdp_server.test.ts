// Decision logs through a running PDP (pdp/server): one event per evaluation, uploaded to a real HTTP
// receiver, with the response's decision id, the policy's result, the revision, and the token masked.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DECISION_LOG_DEFAULTS, type DecisionLogConfig } from "../../../pdp/decision_log/index.js";
import { call, startTestPdp, type TestPdp } from "../server/helpers.js";
import { Receiver, RFC3339_NANO, UUID } from "./helpers.js";

const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "reasons": ["no rule matched"]}
decision := {"allow": true, "reasons": ["reader"]} if input.token.claims.scope == "read"
conflict := 1 if input.boom
conflict := 2 if input.boom
`;

const JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzY29wZSI6InJlYWQifQ.c2lnbmF0dXJlLXNlY3JldA";

let receiver: Receiver;
let t: TestPdp;

function config(): DecisionLogConfig {
  return {
    console: false,
    service: {
      url: receiver.url,
      headers: {},
      gzip: true,
      timeout_ms: 2_000,
      min_retry_delay_ms: 10,
      max_retry_delay_ms: 50,
    },
    mask: [{ op: "remove", path: "/input/token/claims/email" }],
    labels: { env: "test" },
    max_buffer_events: 100,
    max_buffer_bytes: DECISION_LOG_DEFAULTS.max_buffer_bytes,
    batch: { max_events: 100, max_delay_ms: 60_000, max_bytes: DECISION_LOG_DEFAULTS.max_bytes },
  };
}

beforeAll(async () => {
  receiver = await new Receiver().start();
  t = await startTestPdp({
    modules: [{ file: "p.rego", source: POLICY }],
    config: { decision_logs: config() },
  });
});

afterAll(async () => {
  await t.close();
  await receiver.close();
});

/** Events uploaded since `from`, after making the PDP's logger send what it has. */
async function eventsSince(from: number) {
  await t.pdp.decisionLog!.flush();
  return receiver.events().slice(from);
}

describe("decision logs from the PDP server", () => {
  it("logs one event per Data API decision under the response's decision_id, token masked", async () => {
    const from = receiver.events().length;
    const input = {
      request: { headers: { authorization: `Bearer ${JWT}`, accept: "application/json" } },
      token: { raw: JWT, claims: { scope: "read", email: "alice@example.com" } },
    };
    const r = await call(t.pdp.url, "/v1/data/portcullis/authz/decision", { body: { input } });
    expect(r.status).toBe(200);
    const answer = r.json as { result: unknown; decision_id: string };
    const status = (await call(t.pdp.url, "/v1/status")).json as { result: { labels: { id: string } } };

    const events = await eventsSince(from);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e.decision_id).toBe(answer.decision_id);
    expect(e.decision_id).toMatch(UUID);
    expect(e.path).toBe("portcullis/authz/decision");
    expect(e.result).toEqual(answer.result);
    expect(e.result).toEqual({ allow: true, reasons: ["reader"] });
    expect(e.bundles).toEqual({ portcullis: { revision: t.store.current()!.revision } });
    expect(e.labels).toEqual({
      app: "portcullis",
      env: "test",
      id: status.result.labels.id,
      version: "9.9.9",
    });
    expect(e.input).toEqual({
      request: { headers: { authorization: "Bearer [masked]", accept: "application/json" } },
      token: { raw: "[masked]", claims: { scope: "read" } },
    });
    expect(e.masked).toEqual(["/input/request/headers/authorization", "/input/token/raw"]);
    expect(e.erased).toEqual(["/input/token/claims/email"]);
    expect(e.requested_by).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(e.timestamp).toMatch(RFC3339_NANO);
    expect(Object.keys(e.metrics!).sort()).toEqual([
      "timer_rego_input_parse_ns",
      "timer_rego_query_eval_ns",
      "timer_server_handler_ns",
    ]);
    expect(e).not.toHaveProperty("nd_builtin_cache");
    expect(JSON.stringify(receiver.uploads.map((u) => u.events))).not.toContain(JWT);
  });

  it("logs undefined decisions (no result) and evaluation errors (error, no result); not bad requests", async () => {
    const from = receiver.events().length;
    const undef = await call(t.pdp.url, "/v1/data/portcullis/nothing", { body: { input: { a: 1 } } });
    const failed = await call(t.pdp.url, "/v1/data/portcullis/authz/conflict", {
      body: { input: { boom: true } },
    });
    const bad = await call(t.pdp.url, "/v1/data/portcullis/authz/decision", { body: "{not json" });
    expect([undef.status, failed.status, bad.status]).toEqual([200, 500, 400]);

    const events = await eventsSince(from);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ path: "portcullis/nothing", input: { a: 1 } });
    expect(events[0]).not.toHaveProperty("result");
    expect(events[0]!.decision_id).toBe((undef.json as { decision_id: string }).decision_id);
    expect(events[1]).toMatchObject({
      path: "portcullis/authz/conflict",
      error: { code: "eval_conflict_error" },
    });
    expect(events[1]).not.toHaveProperty("result");
  });

  it("logs each AuthZEN evaluation of a batch, linked by the request's X-Request-ID", async () => {
    const from = receiver.events().length;
    const r = await call(t.pdp.url, "/access/v1/evaluations", {
      headers: { "x-request-id": "batch-7" },
      body: {
        subject: { type: "service", id: "svc-a", properties: { token: { claims: { scope: "read" } } } },
        action: { name: "GET" },
        evaluations: [
          { resource: { type: "route", id: "/a" } },
          { resource: { type: "route", id: "/b" } },
          { subject: { type: "service", id: "svc-b" }, resource: { type: "route", id: "/c" } },
        ],
      },
    });
    expect(r.status).toBe(200);
    expect((r.json as { evaluations: { decision: boolean }[] }).evaluations.map((d) => d.decision)).toEqual([
      true,
      true,
      false,
    ]);
    const events = await eventsSince(from);
    expect(events).toHaveLength(3);
    expect(new Set(events.map((e) => e.decision_id)).size).toBe(3);
    for (const e of events) {
      expect(e.path).toBe("portcullis/authz/decision");
      expect(e.request_context).toEqual({ http: { headers: { "x-request-id": ["batch-7"] } } });
    }
    expect(events.map((e) => (e.input as { request: { path: string } }).request.path)).toEqual([
      "/a",
      "/b",
      "/c",
    ]);
    expect(events.map((e) => e.result)).toEqual([
      { allow: true, reasons: ["reader"] },
      { allow: true, reasons: ["reader"] },
      { allow: false, reasons: ["no rule matched"] },
    ]);
  });
});
