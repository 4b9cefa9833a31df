// OPA's Data API over real HTTP: results, undefined documents, errors, limits and query parameters.
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, startTestPdp, type TestPdp } from "./helpers.js";

const POLICY = `package test
import rego.v1

allow if input.user == "alice"

list := [10, 20, 30]
keyed := {"0": "string key zero"}
names := {"b", "a"}
big := 12345678901234567890

conflict := 1 if input.clash
conflict := 2 if input.clash

r := numbers.range(1, 3000)
slow if {
  some a in r
  some b in r
  some c in r
  a + b + c < 0
}

echo := input
`;

let t: TestPdp;
let base: string;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

beforeAll(async () => {
  t = await startTestPdp({
    modules: [{ file: "test.rego", source: POLICY }],
    data: { static: { greeting: "hello" } },
    config: {
      limits: { max_body_bytes: 4096, max_depth: 8, eval_timeout_ms: 100, max_evaluations: 10 },
    },
  });
  base = t.pdp.url;
});
afterAll(() => t.close());

describe("POST /v1/data/{path}", () => {
  it("answers a defined document with result and a fresh decision_id", async () => {
    const r = await call(base, "/v1/data/test/allow", { body: { input: { user: "alice" } } });
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/json");
    const body = r.json as Record<string, unknown>;
    expect(body.result).toBe(true);
    expect(body.decision_id).toMatch(UUID);
    expect(Object.keys(body)).toEqual(["result", "decision_id"]);
    const again = await call(base, "/v1/data/test/allow", { body: { input: { user: "alice" } } });
    expect((again.json as Record<string, unknown>).decision_id).not.toBe(body.decision_id);
  });

  it("leaves result out when the document is undefined, as OPA does (200, not 404)", async () => {
    const r = await call(base, "/v1/data/test/allow", { body: { input: { user: "mallory" } } });
    expect(r.status).toBe(200);
    const body = r.json as Record<string, unknown>;
    expect("result" in body).toBe(false);
    expect(body.decision_id).toMatch(UUID);

    const missing = await call(base, "/v1/data/no/such/package", { body: { input: {} } });
    expect(missing.status).toBe(200);
    expect("result" in (missing.json as object)).toBe(false);
  });

  it("warns when the body has no input key, and treats input null as no input", async () => {
    for (const body of ["", "{}", '{"input": null}', "null"]) {
      const r = await call(base, "/v1/data/test/echo", { method: "POST", body });
      expect(r.status).toBe(200);
      expect(r.json).toEqual({
        warning: { code: "api_usage_warning", message: "'input' key missing from the request" },
        decision_id: expect.stringMatching(UUID),
      });
    }
  });

  it("accepts any JSON value as input, and a YAML body", async () => {
    const r = await call(base, "/v1/data/test/echo", { body: { input: [1, "two", null] } });
    expect((r.json as Record<string, unknown>).result).toEqual([1, "two", null]);
    const y = await call(base, "/v1/data/test/allow", {
      body: "input:\n  user: alice\n",
      headers: { "content-type": "application/yaml" },
    });
    expect((y.json as Record<string, unknown>).result).toBe(true);
  });

  it("decompresses a gzip body", async () => {
    const r = await call(base, "/v1/data/test/allow", { body: { input: { user: "alice" } }, gzip: true });
    expect(r.status).toBe(200);
    expect((r.json as Record<string, unknown>).result).toBe(true);
  });

  it("reads integer path segments as array indexes and the rest as keys", async () => {
    expect(
      ((await call(base, "/v1/data/test/list/1", { body: {} })).json as Record<string, unknown>).result,
    ).toBe(20);
    // data.test.keyed[0] is undefined: the key is the string "0", and OPA makes the segment an integer.
    expect("result" in ((await call(base, "/v1/data/test/keyed/0", { body: {} })).json as object)).toBe(
      false,
    );
    expect(
      ((await call(base, "/v1/data/static/greeting", { body: {} })).json as Record<string, unknown>).result,
    ).toBe("hello");
    expect(
      ((await call(base, "/v1/data/test/names", { body: {} })).json as Record<string, unknown>).result,
    ).toEqual(["a", "b"]);
  });

  it("keeps big numbers exact in results", async () => {
    const r = await call(base, "/v1/data/test/big", { body: {} });
    expect(r.text).toContain('"result":12345678901234567890');
  });

  it("POST /v1/data evaluates the whole data document", async () => {
    const small = await startTestPdp({
      modules: [{ file: "w.rego", source: 'package w\nimport rego.v1\nallow if input.user == "alice"\n' }],
      data: { static: { greeting: "hello" } },
    });
    try {
      const r = await call(small.pdp.url, "/v1/data", { body: { input: { user: "alice" } } });
      expect(r.status).toBe(200);
      expect((r.json as Record<string, unknown>).result).toEqual({
        static: { greeting: "hello" },
        w: { allow: true },
      });
      const slash = await call(small.pdp.url, "/v1/data/", { method: "GET" });
      expect((slash.json as Record<string, unknown>).result).toEqual({
        static: { greeting: "hello" },
        w: {},
      });
    } finally {
      await small.close();
    }
  });
});

describe("GET /v1/data/{path}", () => {
  it("evaluates without input, or with OPA's ?input= parameter", async () => {
    const r = await call(base, "/v1/data/test/list");
    expect(r.status).toBe(200);
    expect((r.json as Record<string, unknown>).result).toEqual([10, 20, 30]);
    expect("warning" in (r.json as object)).toBe(false);

    const q = encodeURIComponent(JSON.stringify({ user: "alice" }));
    const withInput = await call(base, `/v1/data/test/allow?input=${q}`);
    expect((withInput.json as Record<string, unknown>).result).toBe(true);
    const undef = await call(base, "/v1/data/test/allow");
    expect("result" in (undef.json as object)).toBe(false);
  });

  it("rejects a malformed ?input= with 400 invalid_parameter", async () => {
    const r = await call(base, "/v1/data/test/allow?input=%7Bnope");
    expect(r.status).toBe(400);
    expect((r.json as Record<string, unknown>).code).toBe("invalid_parameter");
    expect((r.json as Record<string, string>).message).toMatch(
      /^parameter contains malformed input document: /,
    );
  });
});

describe("query parameters", () => {
  it("?pretty=true indents with two spaces", async () => {
    const r = await call(base, "/v1/data/test/list?pretty=true", { body: {} });
    expect(r.text).toMatch(
      /^\{\n {2}"result": \[\n {4}10,\n {4}20,\n {4}30\n {2}\],\n {2}"warning": \{\n {4}"code"/,
    );
    expect(r.text.endsWith("}\n")).toBe(true);
    const compact = await call(base, "/v1/data/test/list", { body: { input: {} } });
    expect(compact.text).toMatch(/^\{"result":\[10,20,30\],"decision_id":"[0-9a-f-]+"\}\n$/);
  });

  it("?metrics=true adds OPA's timers", async () => {
    const r = await call(base, "/v1/data/test/allow?metrics=true", { body: { input: { user: "alice" } } });
    const m = (r.json as { metrics: Record<string, number> }).metrics;
    for (const k of ["timer_rego_input_parse_ns", "timer_rego_query_eval_ns", "timer_server_handler_ns"]) {
      expect(Number.isInteger(m[k])).toBe(true);
      expect(m[k]).toBeGreaterThanOrEqual(0);
    }
    const off = await call(base, "/v1/data/test/allow?metrics=false", { body: { input: {} } });
    expect("metrics" in (off.json as object)).toBe(false);
  });

  it("?provenance adds version and the active revision", async () => {
    const r = await call(base, "/v1/data/test/allow?provenance", { body: { input: {} } });
    const p = (r.json as { provenance: Record<string, unknown> }).provenance;
    expect(p.version).toBe("9.9.9");
    expect(p.bundles).toEqual({ portcullis: { revision: t.store.current()!.revision } });
    expect(t.store.current()!.revision).toMatch(/^sha256:[0-9a-f]{16}$/);
  });

  it("?strict-builtin-errors turns builtin errors into evaluation errors", async () => {
    const strictPdp = await startTestPdp({
      modules: [{ file: "s.rego", source: "package s\nx := to_number(input.v)\n" }],
    });
    try {
      const lax = await call(strictPdp.pdp.url, "/v1/data/s/x", { body: { input: { v: "nan-ish" } } });
      expect(lax.status).toBe(200);
      expect("result" in (lax.json as object)).toBe(false);
      const strict = await call(strictPdp.pdp.url, "/v1/data/s/x?strict-builtin-errors", {
        body: { input: { v: "nan-ish" } },
      });
      expect(strict.status).toBe(500);
      expect((strict.json as { errors: { code: string }[] }).errors[0]!.code).toBe("eval_builtin_error");
    } finally {
      await strictPdp.close();
    }
  });
});

describe("errors in OPA's shape", () => {
  it("bad JSON → 400 invalid_parameter", async () => {
    const r = await call(base, "/v1/data/test/allow", { body: '{"input": {' });
    expect(r.status).toBe(400);
    const body = r.json as Record<string, string>;
    expect(body.code).toBe("invalid_parameter");
    expect(body.message).toMatch(/^body contains malformed input document: /);
    // OPA writes error bodies indented.
    expect(r.text).toMatch(/^\{\n {2}"code": "invalid_parameter",\n {2}"message": /);
  });

  it("a body that is not an object → 400", async () => {
    for (const body of ["[1]", '"input"', "42", "true"]) {
      const r = await call(base, "/v1/data/test/allow", { body });
      expect(r.status).toBe(400);
      expect((r.json as Record<string, string>).code).toBe("invalid_parameter");
    }
  });

  it("too deep nesting, or a number JSON cannot hold → 400", async () => {
    const deep = { input: JSON.parse("[".repeat(20) + "]".repeat(20)) as unknown };
    const r = await call(base, "/v1/data/test/echo", { body: deep });
    expect(r.status).toBe(400);
    expect((r.json as Record<string, string>).message).toContain("nesting depth exceeds 8");
    const yamlDeep =
      "input:\n" + Array.from({ length: 60 }, (_, i) => " ".repeat(i + 2) + "a:").join("\n") + " 1";
    const y = await call(base, "/v1/data/test/echo", {
      body: yamlDeep,
      headers: { "content-type": "application/yaml" },
    });
    expect(y.status).toBe(400);
    expect((y.json as Record<string, string>).code).toBe("invalid_parameter");
    const huge = await call(base, "/v1/data/test/echo", { body: '{"input": 1e999}' });
    expect(huge.status).toBe(400);
    expect((huge.json as Record<string, string>).message).toContain("number out of range");
  });

  it("an oversized body → 413, and the server keeps serving", async () => {
    const r = await call(base, "/v1/data/test/echo", { body: { input: "x".repeat(10_000) } });
    expect(r.status).toBe(413);
    expect(r.json).toEqual({ code: "invalid_parameter", message: "request body too large" });
    const gz = await call(base, "/v1/data/test/echo", { body: { input: "x".repeat(100_000) }, gzip: true });
    expect(gz.status).toBe(413);
    expect((gz.json as Record<string, string>).message).toBe("compressed request body too large");
    const ok = await call(base, "/v1/data/test/allow", { body: { input: { user: "alice" } } });
    expect(ok.status).toBe(200);
  });

  it("a body declared far over the limit is answered 413 before it is sent", async () => {
    const url = new URL(base);
    const reply = await new Promise<{ status: number; body: string }>((resolveReply, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: "/v1/data/test/echo",
          method: "POST",
          headers: { "content-type": "application/json", "content-length": String(1024 ** 3) },
          agent: false,
        },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => {
            req.destroy();
            resolveReply({ status: res.statusCode ?? 0, body });
          });
        },
      );
      req.on("error", reject);
      req.write('{"input": "');
    });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toEqual({ code: "invalid_parameter", message: "request body too large" });
    expect((await call(base, "/v1/data/test/list")).status).toBe(200);
  });

  it("a broken gzip body → 400, an unknown content-encoding → 415", async () => {
    const r = await call(base, "/v1/data/test/allow", {
      body: "not gzip at all",
      headers: { "content-encoding": "gzip" },
    });
    expect(r.status).toBe(400);
    expect((r.json as Record<string, string>).message).toBe("could not decompress the body");
    const br = await call(base, "/v1/data/test/allow", { body: "{}", headers: { "content-encoding": "br" } });
    expect(br.status).toBe(415);
  });

  it("an evaluation error → 500 internal_error with the Rego error in errors", async () => {
    const r = await call(base, "/v1/data/test/conflict", { body: { input: { clash: true } } });
    expect(r.status).toBe(500);
    const body = r.json as {
      code: string;
      message: string;
      errors: { code: string; message: string; location?: unknown }[];
    };
    expect(body.code).toBe("internal_error");
    expect(body.message).toBe("error(s) occurred while evaluating query");
    expect(body.errors[0]!.code).toBe("eval_conflict_error");
    expect(body.errors[0]!.location).toEqual({
      file: "test.rego",
      row: expect.any(Number),
      col: expect.any(Number),
    });
    expect(t.logs.some((l) => l.level === "error" && l.msg === "evaluation failed")).toBe(true);
  });

  it("an evaluation past the time limit → 500 with eval_cancel_error", async () => {
    const r = await call(base, "/v1/data/test/slow", { body: { input: {} } });
    expect(r.status).toBe(500);
    const body = r.json as { code: string; errors: { code: string }[] };
    expect(body.code).toBe("internal_error");
    expect(body.errors[0]!.code).toBe("eval_cancel_error");
  });

  it("a quote in a path segment → 400 invalid path", async () => {
    const r = await call(base, "/v1/data/test/%22x", { body: {} });
    expect(r.status).toBe(400);
    expect((r.json as Record<string, string>).message).toBe(`invalid path: invalid ref term '"x'`);
  });

  it("unknown routes → 404, unsupported methods → 405 with Allow", async () => {
    const r = await call(base, "/v2/data/test");
    expect(r.status).toBe(404);
    expect((r.json as Record<string, string>).code).toBe("resource_not_found");
    const put = await call(base, "/v1/data/test/allow", { method: "PUT", body: "{}" });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe("GET, POST");
    const head = await call(base, "/v1/data/test/allow", { method: "HEAD" });
    expect(head.status).toBe(405);
  });
});
