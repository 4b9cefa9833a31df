// The Data API through the decision cache (pdp/server/data_cache.ts), on a real PDP server over HTTP.
// The policy print()s on every evaluation, and the PDP logs each print: a request that printed was
// evaluated, one that did not was answered from the cache.
import { afterEach, describe, expect, it } from "vitest";
import { LruDecisionCache } from "../../../pdp/cache/index.js";
import {
  compileRevision,
  PolicyStore,
  startPdpServer,
  type LogEvent,
  type RunningPdp,
} from "../../../pdp/server/index.js";
import { call, testConfig } from "./helpers.js";

const policy = (allowed: string) => `package portcullis.authz
import rego.v1
decision := d if {
  print("evaluated")
  d := {"allow": input.authn.subject == "${allowed}"}
}
meta := {"evaluations": "never cached"} if print("evaluated")
`;

const PATH = "/v1/data/portcullis/authz/decision";
let pdp: RunningPdp | undefined;
afterEach(async () => {
  await pdp?.close();
  pdp = undefined;
});

async function start(): Promise<{ url: string; store: PolicyStore; evaluations: () => number }> {
  const logs: LogEvent[] = [];
  const store = new PolicyStore();
  store.activate(
    compileRevision({
      modules: [{ file: "p.rego", source: policy("alice") }],
      data: {},
      name: "p",
      source: "t",
    }),
  );
  pdp = await startPdpServer({
    config: testConfig(),
    store,
    log: (e) => logs.push(e),
    cache: { store: new LruDecisionCache({ maxEntries: 100 }), ttl_s: 60 },
  });
  return { url: pdp.url, store, evaluations: () => logs.filter((e) => e.msg === "print").length };
}

const input = (subject: string, exp?: number, jti?: string) => ({
  input: {
    authn: { subject },
    request: { headers: { "x-request-id": String(Math.random()) }, time_ns: Date.now() * 1e6 },
    ...(exp !== undefined || jti !== undefined ? { token: { claims: { exp, jti } } } : {}),
  },
});

describe("PDP Data API with the decision cache", () => {
  it("answers a repeated input from the cache (request ids and times aside), another input evaluates", async () => {
    const t = await start();
    const a = await call(t.url, PATH, { body: input("alice") });
    const b = await call(t.url, PATH, { body: input("alice") });
    expect(a.json).toMatchObject({ result: { allow: true } });
    expect(b.json).toMatchObject({ result: { allow: true } });
    expect((b.json as { decision_id: string }).decision_id).not.toBe(
      (a.json as { decision_id: string }).decision_id,
    );
    expect(t.evaluations()).toBe(1);
    const bob = await call(t.url, `${PATH}?pretty`, { body: input("bob") });
    expect(bob.json).toMatchObject({ result: { allow: false } });
    expect(t.evaluations()).toBe(2);
    const bobAgain = await call(t.url, `${PATH}?pretty`, { body: input("bob") });
    // The cached answer reads exactly like the evaluated one (pretty-printed too), decision id aside.
    const norm = (s: string) => s.replace(/"decision_id": "[^"]+"/, '"decision_id": "…"');
    expect(norm(bobAgain.text)).toBe(norm(bob.text));
    expect(t.evaluations()).toBe(2);
  });

  it("a new revision never answers from the old one's entries", async () => {
    const t = await start();
    expect((await call(t.url, PATH, { body: input("alice") })).json).toMatchObject({
      result: { allow: true },
    });
    t.store.activate(
      compileRevision({
        modules: [{ file: "p.rego", source: policy("bob") }],
        data: {},
        name: "p",
        source: "t",
      }),
    );
    expect((await call(t.url, PATH, { body: input("alice") })).json).toMatchObject({
      result: { allow: false },
    });
    expect(t.evaluations()).toBe(2);
  });

  it("does not store a decision for an expired token, nor a document that is not a decision", async () => {
    const t = await start();
    const past = Math.floor(Date.now() / 1000) - 10;
    await call(t.url, PATH, { body: input("alice", past) });
    await call(t.url, PATH, { body: input("alice", past) });
    expect(t.evaluations()).toBe(2);
    await call(t.url, "/v1/data/portcullis/authz/meta", { body: input("alice") });
    const meta = await call(t.url, "/v1/data/portcullis/authz/meta", { body: input("alice") });
    expect(meta.json).toMatchObject({ result: { evaluations: "never cached" } });
    expect(t.evaluations()).toBe(4);
  });

  it("keys on the input paths the active revision reads, and a reload brings the new revision's paths", async () => {
    const t = await start();
    const exp = Math.floor(Date.now() / 1000) + 600;
    // The policy reads input.authn.subject only: a fresh token (another jti) shares the entry.
    await call(t.url, PATH, { body: input("alice", exp, "jti-1") });
    expect((await call(t.url, PATH, { body: input("alice", exp, "jti-2") })).json).toMatchObject({
      result: { allow: true },
    });
    expect(t.evaluations()).toBe(1);
    // A revision that reads the jti: tokens no longer share, the same token still does.
    t.store.activate(
      compileRevision({
        modules: [
          {
            file: "p.rego",
            source: `package portcullis.authz
import rego.v1
decision := d if {
  print("evaluated")
  d := {"allow": input.token.claims.jti == "jti-1"}
}`,
          },
        ],
        data: {},
        name: "p",
        source: "t",
      }),
    );
    const first = await call(t.url, PATH, { body: input("alice", exp, "jti-1") });
    const second = await call(t.url, PATH, { body: input("alice", exp, "jti-2") });
    expect([first.json, second.json]).toMatchObject([
      { result: { allow: true } },
      { result: { allow: false } },
    ]);
    expect(t.evaluations()).toBe(3);
    await call(t.url, PATH, { body: input("alice", exp, "jti-2") });
    expect(t.evaluations()).toBe(3);
  });
});
