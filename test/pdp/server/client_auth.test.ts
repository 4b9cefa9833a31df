// Client authentication over real sockets: bearer JWTs signed with jose against a real JWKS file and
// a real JWKS HTTP server, and mTLS with real certificates from the dev PKI (and a foreign CA).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createCA,
  createIssuer,
  DEV_ISSUER,
  ensureDevPki,
  issueSvid,
  signAccessToken,
  type DevIssuer,
  type DevPki,
  type Issued,
} from "../../../gateway/pki/index.js";
import { call, startTestPdp, type TestPdp } from "./helpers.js";

const POLICY = [{ file: "p.rego", source: "package p\nallow := true\n" }];
const AUDIENCE = "portcullis-pdp";

let dir: string;
let pki: DevPki;
let stranger: DevIssuer;
let foreignSvid: Issued;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-pdp-auth-"));
  pki = await ensureDevPki({
    dir,
    svids: [{ name: "pep", spiffeId: "spiffe://demo.portcullis/gateway/pep-1" }],
    tokens: [],
  });
  stranger = await createIssuer();
  const foreignCa = await createCA({ trustDomain: "evil.example" });
  foreignSvid = await issueSvid(foreignCa, "spiffe://evil.example/gateway/pep-1");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const token = (o: { issuer?: DevIssuer; iss?: string; aud?: string; iat?: number; ttl_s?: number } = {}) =>
  signAccessToken(o.issuer ?? pki.issuer, {
    iss: o.iss ?? DEV_ISSUER,
    aud: o.aud ?? AUDIENCE,
    sub: "spiffe://demo.portcullis/gateway/pep-1",
    ...(o.iat !== undefined ? { iat: o.iat } : {}),
    ...(o.ttl_s !== undefined ? { ttl_s: o.ttl_s } : {}),
  });

describe("bearer JWT client authentication (JWKS file)", () => {
  let t: TestPdp;
  beforeAll(async () => {
    t = await startTestPdp({
      modules: POLICY,
      config: {
        auth: {
          type: "bearer",
          jwks_file: join(dir, "jwks.json"),
          issuer: DEV_ISSUER,
          audience: [AUDIENCE],
          algorithms: ["ES256"],
          clock_skew_s: 0,
        },
      },
    });
  });
  afterAll(() => t.close());

  const ask = (authorization?: string) =>
    call(t.pdp.url, "/v1/data/p/allow", {
      body: { input: {} },
      headers: authorization ? { authorization } : {},
    });

  it("answers a client with a valid token", async () => {
    const r = await ask(`Bearer ${await token()}`);
    expect(r.status).toBe(200);
    expect((r.json as Record<string, unknown>).result).toBe(true);
    const az = await call(t.pdp.url, "/access/v1/evaluation", {
      body: { subject: { type: "u", id: "a" }, action: { name: "r" }, resource: { type: "d", id: "1" } },
      headers: { authorization: `Bearer ${await token()}` },
    });
    expect(az.status).toBe(200);
  });

  it("refuses a missing token with 401, WWW-Authenticate: Bearer and an OPA error body", async () => {
    const r = await ask();
    expect(r.status).toBe(401);
    expect(r.headers["www-authenticate"]).toBe('Bearer realm="portcullis-pdp"');
    expect(r.json).toEqual({ code: "unauthorized", message: "missing bearer token" });
  });

  it("refuses wrong signer, issuer, audience, expired tokens and junk", async () => {
    const bad = [
      `Bearer ${await token({ issuer: stranger })}`,
      `Bearer ${await token({ iss: "https://other.example" })}`,
      `Bearer ${await token({ aud: "payments" })}`,
      `Bearer ${await token({ iat: Math.floor(Date.now() / 1000) - 7200, ttl_s: 60 })}`,
      "Bearer not.a.jwt",
      "Basic dXNlcjpwYXNz",
    ];
    for (const authorization of bad) {
      const r = await ask(authorization);
      expect(r.status, authorization).toBe(401);
      expect(r.headers["www-authenticate"]).toMatch(
        /^Bearer realm="portcullis-pdp", error="invalid_(token|request)"/,
      );
      expect((r.json as Record<string, string>).code).toBe("unauthorized");
    }
    expect(t.logs.filter((l) => l.msg === "client not authenticated").length).toBeGreaterThanOrEqual(
      bad.length,
    );
  });

  it("keeps /health and the AuthZEN metadata public, and the status API private", async () => {
    expect((await call(t.pdp.url, "/health")).status).toBe(200);
    expect((await call(t.pdp.url, "/.well-known/authzen-configuration")).status).toBe(200);
    expect((await call(t.pdp.url, "/v1/status")).status).toBe(401);
    expect((await call(t.pdp.url, "/access/v1/evaluations", { body: {} })).status).toBe(401);
  });
});

describe("bearer JWT client authentication (JWKS URL)", () => {
  let t: TestPdp;
  let jwksServer: Server;
  let jwksUp = false;
  beforeAll(async () => {
    jwksServer = createServer((_req, res) => {
      if (!jwksUp) {
        res.writeHead(500).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(pki.issuer.jwks));
    });
    await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    t = await startTestPdp({
      modules: POLICY,
      config: {
        auth: {
          type: "bearer",
          jwks_url: url,
          issuer: DEV_ISSUER,
          audience: [AUDIENCE],
          algorithms: ["ES256"],
          clock_skew_s: 0,
        },
      },
    });
  });
  afterAll(async () => {
    await t.close();
    await new Promise((r) => jwksServer.close(r));
  });

  it("answers 503 while the JWKS cannot be fetched (never an allow), then verifies once it can", async () => {
    const ask = async () =>
      call(t.pdp.url, "/v1/data/p/allow", {
        body: { input: {} },
        headers: { authorization: `Bearer ${await token()}` },
      });
    const down = await ask();
    expect(down.status).toBe(503);
    expect(down.headers["retry-after"]).toBe("5");
    expect(down.json).toEqual({ code: "internal_error", message: "cannot verify tokens: JWKS unavailable" });
    jwksUp = true;
    const up = await ask();
    expect(up.status).toBe(200);
    expect((up.json as Record<string, unknown>).result).toBe(true);
  });
});

describe("mTLS client authentication", () => {
  let t: TestPdp;
  beforeAll(async () => {
    t = await startTestPdp({
      modules: POLICY,
      config: {
        tls: {
          cert: join(dir, "gateway.pem"),
          key: join(dir, "gateway.key"),
          client_ca: [join(dir, "ca.pem")],
        },
        auth: { type: "mtls" },
      },
    });
  });
  afterAll(() => t.close());

  it("serves HTTPS and answers a client whose certificate chains to the CA", async () => {
    expect(t.pdp.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await call(t.pdp.url, "/v1/data/p/allow", {
      body: { input: {} },
      ca: pki.ca.certPem,
      cert: pki.svids.pep!.certPem,
      key: pki.svids.pep!.keyPem,
    });
    expect(r.status).toBe(200);
    expect((r.json as Record<string, unknown>).result).toBe(true);
  });

  it("refuses a client without a certificate, or with one from another CA, with 401", async () => {
    const none = await call(t.pdp.url, "/v1/data/p/allow", { body: { input: {} }, ca: pki.ca.certPem });
    expect(none.status).toBe(401);
    expect(none.json).toEqual({ code: "unauthorized", message: "a client certificate is required (mTLS)" });
    const foreign = await call(t.pdp.url, "/v1/data/p/allow", {
      body: { input: {} },
      ca: pki.ca.certPem,
      cert: foreignSvid.certPem,
      key: foreignSvid.keyPem,
    });
    expect(foreign.status).toBe(401);
    expect((foreign.json as Record<string, string>).message).toMatch(/^client certificate rejected: /);
    // Readiness probes need no certificate.
    expect((await call(t.pdp.url, "/health", { ca: pki.ca.certPem })).status).toBe(200);
  });
});

describe("a JWKS file that is not a key set", () => {
  it("fails at start-up, not at the first request", async () => {
    const f = join(dir, "not-jwks.json");
    writeFileSync(f, '{"kty": "EC"}');
    await expect(
      startTestPdp({
        modules: POLICY,
        config: {
          auth: {
            type: "bearer",
            jwks_file: f,
            issuer: DEV_ISSUER,
            audience: [AUDIENCE],
            algorithms: ["ES256"],
            clock_skew_s: 0,
          },
        },
      }),
    ).rejects.toThrow(/not a JWK set/);
  });
});
