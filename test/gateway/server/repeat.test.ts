// A keep-alive connection repeating its previous request head byte for byte reuses what that head yielded
// (gateway/server/repeat.ts). End to end over real TLS (dev PKI, real JWKS file, real upstream, the real
// Rego engine behind a real decision cache): whatever can change between two identical requests — the
// token's expiry, the policy's answer and headers, a revoked subject — still decides each of them.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { Agent, request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LruDecisionCache } from "../../../pdp/cache/index.js";
import { compile } from "../../../pdp/rego/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { cachedPdp, regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { isRepeatable } from "../../../gateway/server/repeat.js";
import { startSegment } from "../../../gateway/server/serve.js";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";

const PLANNER = "spiffe://demo.portcullis/agent/planner";

// `data.mode` is swapped between requests by the tests (a new compiled policy per mode).
const POLICY = `package portcullis.authz
import rego.v1
decision := {"allow": true, "headers": {"x-plan": data.mode}} if {
  input.request.path == "/ok"
  data.mode != "deny"
}
decision := {"allow": false} if data.mode == "deny"
`;

let dir: string;
let pki: DevPki;
let upstream: Server;
let direct: { port: number; setMode(m: string): void };
let cached: { port: number; revoke(s: string): number };
const upstreamSeen: { url: string; headers: IncomingMessage["headers"] }[] = [];
const inputs: Record<string, Record<string, unknown>>[] = [];
const closers: (() => Promise<unknown> | void)[] = [];

function get(port: number, agent: Agent, path: string, t: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path, headers: { authorization: `Bearer ${t}` }, agent },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function keepAlive(): Agent {
  const id = pki.svids.planner;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 1,
    ca: pki.ca.certPem,
    cert: id.certPem,
    key: id.keyPem,
  });
  closers.push(() => agent.destroy());
  return agent;
}

function token(jti: string, expiresInS = 600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: "payments",
    sub: PLANNER,
    scope: "payments:read",
    claims: { jti, exp: now + expiresInS },
  });
}

function policy(mode: string): Pdp {
  return regoPdp(
    compile({ modules: [{ file: "t.rego", source: POLICY }], data: { mode } }),
    "portcullis/authz/decision",
    { revision: `mode:${mode}` },
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-repeat-"));
  pki = await ensureDevPki({ dir, svids: [{ name: "planner", spiffeId: PLANNER }], tokens: [] });
  upstream = createServer((req, res) => {
    upstreamSeen.push({ url: req.url ?? "", headers: req.headers });
    res.end("ok");
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  // No clock skew, so a token with a 2 s lifetime expires during the test.
  const segment = (name: string) => {
    const s = demoSegment(dir, upstreamUrl, 0, { name });
    return { ...s, authenticators: { bearer: { ...s.authenticators.bearer!, clock_skew_s: 0 } } };
  };

  // Segment 1, no decision cache: every request's input reaches the policy, which the test can swap.
  let current = policy("a");
  const swappable: Pdp = {
    revision: "swappable",
    entrypoint: current.entrypoint,
    decide: (input, context) => {
      inputs.push(input as Record<string, Record<string, unknown>>);
      return current.decide(input, context);
    },
  };
  const a = await startSegment(segment("direct"), swappable, () => undefined);
  direct = { port: a.port, setMode: (m) => (current = policy(m)) };
  closers.push(() => new Promise((r) => a.server.close(r)));

  // Segment 2, behind the decision cache as `serve` configures it: counts the evaluations below it.
  const lru = new LruDecisionCache({ maxEntries: 100 });
  const b = await startSegment(segment("cached"), cachedPdp(swappable, lru, { ttlS: 60 }), () => undefined);
  cached = { port: b.port, revoke: (s) => lru.deleteSubject(s) };
  closers.push(() => new Promise((r) => b.server.close(r)));
});

afterAll(async () => {
  for (const c of closers) await c();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("a repeated request head on one keep-alive connection", () => {
  it("gets its own input (its own time) and the normalised target upstream, every time", async () => {
    direct.setMode("a");
    const agent = keepAlive();
    const t = await token("same");
    const before = inputs.length;
    const up = upstreamSeen.length;
    for (let i = 0; i < 3; i++) expect(await get(direct.port, agent, "/x/../ok", t)).toBe(200);
    const mine = inputs.slice(before);
    expect(mine).toHaveLength(3);
    expect(new Set(mine).size).toBe(3);
    const times = mine.map((i) => i.request.time_ns as number);
    expect(times[2]).toBeGreaterThanOrEqual(times[0]!);
    const strip = (i: Record<string, Record<string, unknown>>) => ({
      ...i,
      request: { ...i.request, time_ns: 0 },
    });
    expect(strip(mine[2]!)).toEqual(strip(mine[0]!));
    expect(mine[2]!.request.path).toBe("/ok");
    for (const u of upstreamSeen.slice(up)) {
      expect(u.url).toBe("/ok");
      expect(u.headers["x-portcullis-subject"]).toBe(PLANNER);
      expect(u.headers["x-plan"]).toBe("a");
    }
  });

  it("follows the policy's answer: a deny stops the repeat, new policy headers replace the old", async () => {
    const agent = keepAlive();
    const t = await token("policy");
    direct.setMode("a");
    expect(await get(direct.port, agent, "/ok", t)).toBe(200);
    expect(upstreamSeen.at(-1)!.headers["x-plan"]).toBe("a");
    direct.setMode("deny");
    const up = upstreamSeen.length;
    expect(await get(direct.port, agent, "/ok", t)).toBe(403);
    expect(upstreamSeen.length).toBe(up);
    direct.setMode("b");
    expect(await get(direct.port, agent, "/ok", t)).toBe(200);
    expect(await get(direct.port, agent, "/ok", t)).toBe(200);
    expect(upstreamSeen.slice(up).map((u) => u.headers["x-plan"])).toEqual(["b", "b"]);
  });

  it("adversarial: a token that expired since the last identical request is refused", async () => {
    direct.setMode("a");
    const agent = keepAlive();
    const t = await token("short", 2);
    expect(await get(direct.port, agent, "/ok", t)).toBe(200);
    const up = upstreamSeen.length;
    await new Promise((r) => setTimeout(r, 2_100));
    expect(await get(direct.port, agent, "/ok", t)).toBe(401);
    expect(upstreamSeen.length).toBe(up);
  });

  it("behind the decision cache: answered from it, and decided again once the subject is revoked", async () => {
    direct.setMode("a");
    const agent = keepAlive();
    const t = await token("cached");
    const before = inputs.length;
    for (let i = 0; i < 3; i++) expect(await get(cached.port, agent, "/ok", t)).toBe(200);
    expect(inputs.length - before).toBe(1);
    expect(cached.revoke(PLANNER)).toBeGreaterThan(0);
    expect(await get(cached.port, agent, "/ok", t)).toBe(200);
    expect(inputs.length - before).toBe(2);
    expect(await get(cached.port, agent, "/ok", t)).toBe(200);
    expect(inputs.length - before).toBe(2);
  });
});

describe("isRepeatable", () => {
  const req = (method: string, headers: Record<string, string> = {}) =>
    ({ method, headers }) as unknown as IncomingMessage;
  it("only body-less GET and HEAD", () => {
    expect(isRepeatable(req("GET"))).toBe(true);
    expect(isRepeatable(req("HEAD", { "content-length": "0" }))).toBe(true);
    expect(isRepeatable(req("GET", { "content-length": "3" }))).toBe(false);
    expect(isRepeatable(req("GET", { "transfer-encoding": "chunked" }))).toBe(false);
    expect(isRepeatable(req("POST"))).toBe(false);
    expect(isRepeatable(req("DELETE"))).toBe(false);
  });
});
