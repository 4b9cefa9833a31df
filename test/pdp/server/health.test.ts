// Readiness follows the policy store: 503 until a revision is loaded, 200 after; status reports it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileRevision } from "../../../pdp/server/index.js";
import { call, startTestPdp, type TestPdp } from "./helpers.js";

let t: TestPdp;

beforeAll(async () => {
  t = await startTestPdp({ load: false });
});
afterAll(() => t.close());

describe("health and status", () => {
  it("is not ready, and decides nothing, before a revision is loaded", async () => {
    const h = await call(t.pdp.url, "/health");
    expect(h.status).toBe(503);
    expect(h.json).toEqual({ error: "no policy revision is loaded" });
    const b = await call(t.pdp.url, "/health?bundles");
    expect(b.status).toBe(503);
    expect(b.json).toEqual({ error: "one or more bundles are not activated" });

    const d = await call(t.pdp.url, "/v1/data/p/allow", { body: { input: {} } });
    expect(d.status).toBe(503);
    expect(d.headers["retry-after"]).toBe("1");
    expect(d.json).toEqual({ code: "internal_error", message: "no policy revision is loaded" });
    const a = await call(t.pdp.url, "/access/v1/evaluation", {
      body: { subject: { type: "u", id: "a" }, action: { name: "r" }, resource: { type: "d", id: "1" } },
    });
    expect(a.status).toBe(503);

    const s = await call(t.pdp.url, "/v1/status");
    expect(s.status).toBe(200);
    expect((s.json as { result: { bundles: object } }).result.bundles).toEqual({});
  });

  it("is ready once a revision is activated, and reports it", async () => {
    const active = compileRevision({
      modules: [{ file: "p.rego", source: "package p\nallow := true\n" }],
      data: {},
      name: "portcullis",
      source: "/policies",
    });
    t.store.activate(active);
    for (const q of ["", "?bundles", "?plugins", "?bundles&plugins"]) {
      const h = await call(t.pdp.url, `/health${q}`);
      expect(h.status).toBe(200);
      expect(h.json).toEqual({});
    }
    const d = await call(t.pdp.url, "/v1/data/p/allow", { body: { input: {} } });
    expect((d.json as Record<string, unknown>).result).toBe(true);

    const s = await call(t.pdp.url, "/v1/status");
    const result = (
      s.json as { result: { labels: Record<string, string>; bundles: Record<string, unknown> } }
    ).result;
    expect(result.labels.version).toBe("9.9.9");
    expect(result.labels.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.bundles).toEqual({
      portcullis: {
        name: "portcullis",
        active_revision: active.revision,
        last_successful_activation: active.activatedAt.toISOString(),
        source: "/policies",
      },
    });
  });

  it("a new revision replaces the old one for the next request", async () => {
    const before = t.store.current()!.revision;
    t.store.activate(
      compileRevision({
        modules: [{ file: "p.rego", source: "package p\nallow := false\n" }],
        data: {},
        name: "portcullis",
        source: "/policies",
      }),
    );
    const d = await call(t.pdp.url, "/v1/data/p/allow?provenance", { body: { input: {} } });
    const body = d.json as { result: boolean; provenance: { bundles: { portcullis: { revision: string } } } };
    expect(body.result).toBe(false);
    expect(body.provenance.bundles.portcullis.revision).not.toBe(before);
    expect(body.provenance.bundles.portcullis.revision).toBe(t.store.current()!.revision);
  });
});
