import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IntrospectionAuthenticator } from "../../../gateway/authn/introspection.js";
import { facts, nowS, startServer, type TestServer } from "./helpers.js";

let as: TestServer;
const seen: { auth?: string; contentType?: string; body?: string } = {};

beforeAll(async () => {
  as = await startServer((req, body, res) => {
    seen.auth = req.headers.authorization;
    seen.contentType = req.headers["content-type"];
    seen.body = body;
    const expected = `Basic ${Buffer.from("gw:s3cr%26t").toString("base64")}`;
    if (req.headers.authorization !== expected) {
      res.statusCode = 401;
      return res.end();
    }
    const token = new URLSearchParams(body).get("token");
    if (token === "slow-token") return void setTimeout(() => res.end('{"active":true}'), 500);
    res.setHeader("content-type", "application/json");
    if (token === "good-token") {
      return res.end(
        JSON.stringify({ active: true, sub: "user:alice", client_id: "app", scope: "a b", exp: nowS() + 2 }),
      );
    }
    if (token === "dup-token") return res.end('{"active":false,"active":true,"sub":"x"}');
    res.end('{"active":false}');
  });
});
afterAll(() => as.close());

function introspector(extra: { now?: () => number; timeout_ms?: number; client_secret?: string } = {}) {
  return new IntrospectionAuthenticator({
    endpoint: `${as.url}/introspect`,
    client_id: "gw",
    client_secret: "s3cr&t",
    ...extra,
  });
}

const withToken = (t: string) => facts({ authorization: `Bearer ${t}` });

describe("introspection (RFC 7662)", () => {
  it("active token → identity; request is a form POST with client Basic auth", async () => {
    const r = await introspector().authenticate(withToken("good-token"));
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    expect(r.identity).toMatchObject({
      subject: "user:alice",
      clientId: "app",
      scopes: ["a", "b"],
      tokenType: "opaque",
    });
    expect(seen.contentType).toBe("application/x-www-form-urlencoded");
    expect(new URLSearchParams(seen.body).get("token")).toBe("good-token");
  });

  it("caches answers, bounded by the token's exp", async () => {
    let now = Date.now();
    const a = introspector({ now: () => now });
    await a.authenticate(withToken("good-token"));
    await a.authenticate(withToken("good-token"));
    expect(a.calls).toBe(1);
    now += 5000; // past exp (now + 2 s)
    await a.authenticate(withToken("good-token"));
    expect(a.calls).toBe(2);
  });

  it("active:false → invalid_token", async () => {
    const r = await introspector().authenticate(withToken("revoked"));
    expect(r.kind === "error" && r.error.code).toBe("invalid_token");
  });

  it("duplicate keys in the response are not trusted", async () => {
    const r = await introspector().authenticate(withToken("dup-token"));
    expect(r.kind === "error" && r.error.code).toBe("unavailable");
  });

  it("timeout → unavailable (503, fail closed)", async () => {
    const r = await introspector({ timeout_ms: 100 }).authenticate(withToken("slow-token"));
    expect(r.kind === "error" && r.error.status).toBe(503);
  });

  it("AS rejecting our client credentials → unavailable, not the caller's fault", async () => {
    const r = await introspector({ client_secret: "wrong" }).authenticate(withToken("good-token"));
    expect(r.kind === "error" && r.error.code).toBe("unavailable");
  });

  it("JWT-shaped tokens are left to the bearer authenticator; no header → none", async () => {
    const a = introspector();
    expect((await a.authenticate(withToken("aaa.bbb.ccc"))).kind).toBe("none");
    expect((await a.authenticate(facts({}))).kind).toBe("none");
    expect(a.calls).toBe(0);
  });

  it("refuses a non-loopback http endpoint", () => {
    expect(
      () =>
        new IntrospectionAuthenticator({
          endpoint: "http://as.example/i",
          client_id: "a",
          client_secret: "b",
        }),
    ).toThrow(/https/);
  });
});
