// The policy input's identity members (authn, caller, peer, token) follow the request's own credentials.
// The gateway derives some of them once per authentication outcome (gateway/server/app.ts), so end to
// end over real TLS (dev PKI, real JWKS file, real upstream, the real Rego engine): whatever changes
// between requests — the token on a keep-alive connection, the client certificate — the policy sees the
// new facts, never an object derived for the earlier ones.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { Agent, request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../../pdp/rego/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startSegment } from "../../../gateway/server/serve.js";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";

const PLANNER = "spiffe://demo.portcullis/agent/planner";
const OTHER = "spiffe://demo.portcullis/agent/other";

const POLICY = `package portcullis.authz
import rego.v1
decision := {"allow": true} if input.request.path == "/ok"
`;

let dir: string;
let pki: DevPki;
let upstream: Server;
let port: number;
const seen: Record<string, unknown>[] = [];
const closers: (() => Promise<unknown> | void)[] = [];

function call(agent: Agent, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/ok", headers: { authorization: `Bearer ${token}` }, agent },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function callWith(agent: Agent, headers: Record<string, string | string[]>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/ok", headers, agent }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

function keepAlive(svid: "planner" | "other"): Agent {
  const id = pki.svids[svid];
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

function token(sub: string, jti: string, scope = "payments:read"): Promise<string> {
  return signAccessToken(pki.issuer, { iss: DEV_ISSUER, aud: "payments", sub, scope, claims: { jti } });
}

type Doc = Record<string, Record<string, unknown>>;
const last = (): Doc => seen[seen.length - 1] as Doc;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-input-"));
  pki = await ensureDevPki({
    dir,
    svids: [
      { name: "planner", spiffeId: PLANNER },
      { name: "other", spiffeId: OTHER },
    ],
    tokens: [],
  });
  upstream = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const inner = regoPdp(
    compile({ modules: [{ file: "t.rego", source: POLICY }] }),
    "portcullis/authz/decision",
  );
  // No decision cache: every request's input reaches the policy, and is recorded as the policy got it.
  const recording: Pdp = {
    revision: inner.revision,
    entrypoint: inner.entrypoint,
    decide: (input, context) => {
      seen.push(input);
      return inner.decide(input, context);
    },
  };
  const running = await startSegment(demoSegment(dir, upstreamUrl, 0), recording, () => undefined);
  port = running.port;
  closers.push(() => new Promise((r) => running.server.close(r)));
});

afterAll(async () => {
  for (const c of closers) await c();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("identity members of the policy input", () => {
  it("a changed token on one keep-alive connection is seen at once, and the first token again after it", async () => {
    const agent = keepAlive("planner");
    const a = await token(PLANNER, "a");
    const b = await token(PLANNER, "b", "payments:read payments:write");
    expect(await call(agent, a)).toBe(200);
    const first = last();
    expect(await call(agent, a)).toBe(200);
    expect(last()).not.toBe(first); // the document itself is per request
    expect(await call(agent, b)).toBe(200);
    const changed = last();
    expect((changed.token.claims as { jti: string }).jti).toBe("b");
    expect(changed.token.scopes).toEqual(["payments:read", "payments:write"]);
    // Back to the first token: its own facts again, not the second token's.
    expect(await call(agent, a)).toBe(200);
    expect((last().token.claims as { jti: string }).jti).toBe("a");
    expect(last().token.scopes).toEqual(["payments:read"]);
  });

  it("another client certificate never gets the first peer's members, even with the same token", async () => {
    const t = await token(PLANNER, "shared");
    expect(await call(keepAlive("planner"), t)).toBe(200);
    const planner = last();
    expect(await call(keepAlive("other"), t)).toBe(200);
    const other = last();
    expect(other.peer).not.toBe(planner.peer);
    expect(other.peer.spiffe_id).toBe(OTHER);
    expect(planner.peer.spiffe_id).toBe(PLANNER);
    expect(other.authn.methods).toEqual(["mtls", "bearer"]);
    expect(other.authn).not.toBe(planner.authn);
  });

  it("reads every field line: repeated fields are joined for the policy, a repeated credential is a 400", async () => {
    const agent = keepAlive("planner");
    const t = await token(PLANNER, "lines");
    expect(await callWith(agent, { authorization: `Bearer ${t}`, "x-tenant": ["a", "b"] })).toBe(200);
    expect(last().request.headers).toMatchObject({ "x-tenant": "a, b", authorization: "Bearer [masked]" });
    // Node keeps only the first Authorization in `req.headers`; the gateway must still see both.
    const before = seen.length;
    expect(await callWith(agent, { authorization: [`Bearer ${t}`, `Bearer ${t}`] })).toBe(400);
    expect(seen.length).toBe(before);
    // And a request with each field once, on the same connection, is read from its own fields again.
    expect(await callWith(agent, { authorization: `Bearer ${t}`, "x-tenant": "c" })).toBe(200);
    expect(last().request.headers).toMatchObject({ "x-tenant": "c" });
  });
});
