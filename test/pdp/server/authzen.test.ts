// OpenID AuthZEN 1.0 over real HTTP, answered by the shipped policy (policies/portcullis) through the
// documented subject/action/resource/context → input mapping.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, shippedPolicy, startTestPdp, type TestPdp } from "./helpers.js";

let t: TestPdp;
let base: string;

const service = {
  type: "service",
  id: "spiffe://demo.portcullis/service/billing",
  properties: { token: { scopes: ["payments:read"] } },
};
const read = { name: "GET" };
const write = { name: "POST" };
const payment = (id: string) => ({
  type: "route",
  id: `/payments/${id}`,
  properties: { segment: "payments" },
});

beforeAll(async () => {
  const { modules, data } = shippedPolicy();
  t = await startTestPdp({
    modules,
    data,
    config: { limits: { max_body_bytes: 65536, max_depth: 16, eval_timeout_ms: 1000, max_evaluations: 5 } },
  });
  base = t.pdp.url;
});
afterAll(() => t.close());

describe("POST /access/v1/evaluation", () => {
  it("permits what the shipped policy allows, with its enforcement hints as context", async () => {
    const r = await call(base, "/access/v1/evaluation", {
      body: {
        subject: service,
        action: read,
        resource: payment("1"),
        context: { time: "2026-01-01T00:00:00Z" },
      },
    });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      decision: true,
      context: {
        downscope: ["payments:read"],
        headers: { "x-portcullis-caller-type": "service" },
        cache_ttl_s: 60,
      },
    });
  });

  it("denies with the policy's status, error and scope but never its reasons", async () => {
    const r = await call(base, "/access/v1/evaluation", {
      body: { subject: service, action: write, resource: payment("1") },
    });
    expect(r.status).toBe(200);
    const body = r.json as { decision: boolean; context: Record<string, unknown> };
    expect(body.decision).toBe(false);
    expect(body.context).toMatchObject({ status: 403, error: "insufficient_scope", scope: "payments:write" });
    expect(body.context.reasons).toBeUndefined();
  });

  it("maps subject properties onto the input (an AI agent needs an affirming attestation)", async () => {
    const agent = {
      type: "ai-agent",
      id: "spiffe://demo.portcullis/agent/planner",
      properties: { token: { scopes: ["payments:read"] } },
    };
    const without = await call(base, "/access/v1/evaluation", {
      body: { subject: agent, action: read, resource: payment("7") },
    });
    expect((without.json as { decision: boolean }).decision).toBe(false);
    const attested = {
      ...agent,
      properties: { ...agent.properties, attestation: { status: "affirming", age_seconds: 10 } },
    };
    const withIt = await call(base, "/access/v1/evaluation", {
      body: { subject: attested, action: read, resource: payment("7") },
    });
    expect(withIt.json).toMatchObject({ decision: true, context: { cache_ttl_s: 60 } });
  });

  it("echoes X-Request-ID, on errors too", async () => {
    const ok = await call(base, "/access/v1/evaluation", {
      body: { subject: service, action: read, resource: payment("1") },
      headers: { "x-request-id": "bfe9eb29-ab87-4ca3-be83-a1d5d8305716" },
    });
    expect(ok.headers["x-request-id"]).toBe("bfe9eb29-ab87-4ca3-be83-a1d5d8305716");
    const bad = await call(base, "/access/v1/evaluation", {
      body: "{",
      headers: { "x-request-id": "req-2" },
    });
    expect(bad.status).toBe(400);
    expect(bad.headers["x-request-id"]).toBe("req-2");
    const none = await call(base, "/access/v1/evaluation", {
      body: { subject: service, action: read, resource: payment("1") },
    });
    expect(none.headers["x-request-id"]).toBeUndefined();
  });

  it("rejects malformed requests with 400", async () => {
    const cases: [unknown, string][] = [
      ["{nope", "malformed request body"],
      ["[]", "request must be an object"],
      [{ action: read, resource: payment("1") }, "request.subject is required"],
      [{ subject: { type: "user" }, action: read, resource: payment("1") }, "request.subject.id is required"],
      [
        { subject: service, action: { name: 7 }, resource: payment("1") },
        "request.action.name must be a string",
      ],
      [
        { subject: service, action: read, resource: { type: "route", id: "/x", properties: [] } },
        "request.resource.properties must be an object",
      ],
      [
        { subject: service, action: read, resource: payment("1"), context: "now" },
        "request.context must be an object",
      ],
    ];
    for (const [body, message] of cases) {
      const r = await call(base, "/access/v1/evaluation", { body });
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect((r.json as Record<string, string>).code).toBe("invalid_parameter");
      expect((r.json as Record<string, string>).message).toContain(message);
    }
    const empty = await call(base, "/access/v1/evaluation", { method: "POST", body: "" });
    expect(empty.status).toBe(400);
    const get = await call(base, "/access/v1/evaluation");
    expect(get.status).toBe(405);
  });
});

describe("POST /access/v1/evaluations", () => {
  // Documents 1 and 3 are readable, 2 is a write the token cannot do: true, false, true.
  const batch = (semantic?: string) => ({
    subject: service,
    action: read,
    ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
    evaluations: [
      { resource: payment("1") },
      { action: write, resource: payment("2") },
      { resource: payment("3") },
    ],
  });

  it("execute_all (the default) answers every item in order, item members overriding the defaults", async () => {
    for (const semantic of [undefined, "execute_all"]) {
      const r = await call(base, "/access/v1/evaluations", { body: batch(semantic) });
      expect(r.status).toBe(200);
      const decisions = (r.json as { evaluations: { decision: boolean }[] }).evaluations.map(
        (e) => e.decision,
      );
      expect(decisions).toEqual([true, false, true]);
    }
  });

  it("deny_on_first_deny stops after the first deny", async () => {
    const r = await call(base, "/access/v1/evaluations", { body: batch("deny_on_first_deny") });
    const decisions = (r.json as { evaluations: { decision: boolean }[] }).evaluations.map((e) => e.decision);
    expect(decisions).toEqual([true, false]);
  });

  it("permit_on_first_permit stops after the first permit", async () => {
    const r = await call(base, "/access/v1/evaluations", { body: batch("permit_on_first_permit") });
    const decisions = (r.json as { evaluations: { decision: boolean }[] }).evaluations.map((e) => e.decision);
    expect(decisions).toEqual([true]);
    const denyFirst = {
      ...batch("permit_on_first_permit"),
      evaluations: [
        { action: write, resource: payment("2") },
        { resource: payment("3") },
        { resource: payment("4") },
      ],
    };
    const r2 = await call(base, "/access/v1/evaluations", { body: denyFirst });
    expect((r2.json as { evaluations: { decision: boolean }[] }).evaluations.map((e) => e.decision)).toEqual([
      false,
      true,
    ]);
  });

  it("a malformed item is that item's deny with an error context; deny_on_first_deny stops there", async () => {
    const body = {
      subject: service,
      action: read,
      evaluations: [{ resource: payment("1") }, { resource: { type: "route" } }, { resource: payment("3") }],
    };
    const r = await call(base, "/access/v1/evaluations", { body });
    expect(r.status).toBe(200);
    const ev = (
      r.json as {
        evaluations: { decision: boolean; context?: { error?: { status: number; message: string } } }[];
      }
    ).evaluations;
    expect(ev.map((e) => e.decision)).toEqual([true, false, true]);
    expect(ev[1]!.context!.error).toEqual({ status: 400, message: "evaluations[1].resource.id is required" });
    const stop = await call(base, "/access/v1/evaluations", {
      body: { ...body, options: { evaluations_semantic: "deny_on_first_deny" } },
    });
    expect((stop.json as { evaluations: unknown[] }).evaluations).toHaveLength(2);
  });

  it("without an evaluations array behaves as a single evaluation", async () => {
    const r = await call(base, "/access/v1/evaluations", {
      body: { subject: service, action: read, resource: payment("1") },
    });
    expect((r.json as { decision: boolean }).decision).toBe(true);
    expect("evaluations" in (r.json as object)).toBe(false);
  });

  it("echoes X-Request-ID", async () => {
    const r = await call(base, "/access/v1/evaluations", {
      body: batch(),
      headers: { "x-request-id": "batch-1" },
    });
    expect(r.headers["x-request-id"]).toBe("batch-1");
  });

  it("rejects a malformed batch with 400", async () => {
    const cases: [unknown, string][] = [
      [
        { ...batch(), options: { evaluations_semantic: "first_come" } },
        "options.evaluations_semantic must be one of",
      ],
      [{ ...batch(), options: "fast" }, "options must be an object"],
      [{ ...batch(), evaluations: { resource: payment("1") } }, "evaluations must be an array"],
      [
        { ...batch(), evaluations: Array.from({ length: 6 }, (_, i) => ({ resource: payment(String(i)) })) },
        "the limit is 5",
      ],
    ];
    for (const [body, message] of cases) {
      const r = await call(base, "/access/v1/evaluations", { body });
      expect(r.status).toBe(400);
      expect((r.json as Record<string, string>).message).toContain(message);
    }
  });
});

describe("the AuthZEN → input mapping and decision shapes", () => {
  it("copies subject, action, resource and context members onto the documented input fields", async () => {
    const echo = await startTestPdp({
      modules: [
        {
          file: "e.rego",
          source: 'package e\ndecision := {"decision": true, "context": {"input": input}}\n',
        },
      ],
      config: { authzen: { entrypoint: "e/decision" } },
    });
    try {
      const tuple = {
        subject: {
          type: "ai-agent",
          id: "spiffe://td/agent/a",
          properties: {
            token: { scopes: ["s"] },
            peer: { spiffe_id: "spiffe://td/agent/a" },
            attestation: { status: "affirming" },
            delegation: { depth: 1 },
            ignored: 1,
          },
        },
        action: { name: "call", properties: { method: "POST", rpc: { protocol: "mcp", tool: "send" } } },
        resource: { type: "route", id: "r1", properties: { segment: "payments", path: "/mcp" } },
        context: { txn: { id: "t1" }, time: "x" },
      };
      const r = await call(echo.pdp.url, "/access/v1/evaluation", { body: tuple });
      expect((r.json as { context: { input: unknown } }).context.input).toEqual({
        authzen: tuple,
        segment: "payments",
        request: { method: "POST", path: "/mcp" },
        caller: { type: "ai-agent" },
        authn: { subject: "spiffe://td/agent/a" },
        token: { scopes: ["s"] },
        peer: { spiffe_id: "spiffe://td/agent/a" },
        attestation: { status: "affirming" },
        delegation: { depth: 1 },
        rpc: { protocol: "mcp", tool: "send" },
        txn: { id: "t1" },
      });
    } finally {
      await echo.close();
    }
  });

  it("fails closed on undefined, non-decision results and evaluation errors", async () => {
    const odd = await startTestPdp({
      modules: [
        {
          file: "o.rego",
          source: `package o
import rego.v1
decision := "yes" if input.authzen.resource.id == "string"
decision := true if input.authzen.resource.id == "bool"
decision := {"decision": true, "context": {"id": "0"}} if input.authzen.resource.id == "native"
decision := 1 if input.authzen.resource.id == "clash"
decision := 2 if input.authzen.resource.id == "clash"
`,
        },
      ],
      config: { authzen: { entrypoint: "o/decision" } },
    });
    try {
      const ask = (id: string) =>
        call(odd.pdp.url, "/access/v1/evaluation", {
          body: { subject: service, action: read, resource: { type: "t", id } },
        });
      expect((await ask("bool")).json).toEqual({ decision: true });
      expect((await ask("native")).json).toEqual({ decision: true, context: { id: "0" } });
      expect((await ask("string")).json).toEqual({ decision: false });
      expect((await ask("undefined")).json).toEqual({ decision: false });
      expect(
        odd.logs.some((l) => l.level === "error" && String(l.msg).includes("not a decision document")),
      ).toBe(true);
      const clash = await ask("clash");
      expect(clash.status).toBe(500);
      expect((clash.json as { errors: { code: string }[] }).errors[0]!.code).toBe("eval_conflict_error");
      const batch = await call(odd.pdp.url, "/access/v1/evaluations", {
        body: {
          subject: service,
          action: read,
          evaluations: [{ resource: { type: "t", id: "clash" } }, { resource: { type: "t", id: "bool" } }],
        },
      });
      expect(batch.status).toBe(200);
      expect(batch.json).toEqual({
        evaluations: [
          { decision: false, context: { error: { status: 500, message: "evaluation failed" } } },
          { decision: true },
        ],
      });
    } finally {
      await odd.close();
    }
  });
});

describe("GET /.well-known/authzen-configuration", () => {
  it("publishes the evaluation endpoints under the identifier the client used", async () => {
    const r = await call(base, "/.well-known/authzen-configuration");
    expect(r.status).toBe(200);
    const id = `http://127.0.0.1:${t.pdp.port}`;
    expect(r.json).toEqual({
      policy_decision_point: id,
      access_evaluation_endpoint: `${id}/access/v1/evaluation`,
      access_evaluations_endpoint: `${id}/access/v1/evaluations`,
    });
  });

  it("publishes a configured identifier as is", async () => {
    const pinned = await startTestPdp({
      config: { authzen: { entrypoint: "x", pdp_identifier: "https://pdp.example.com" } },
    });
    try {
      const r = await call(pinned.pdp.url, "/.well-known/authzen-configuration");
      expect((r.json as Record<string, string>).policy_decision_point).toBe("https://pdp.example.com");
      expect((r.json as Record<string, string>).access_evaluation_endpoint).toBe(
        "https://pdp.example.com/access/v1/evaluation",
      );
    } finally {
      await pinned.close();
    }
  });
});
