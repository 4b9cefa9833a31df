// The browser-session authenticator against a real JWKS HTTP server and real keys: strict cookie
// parsing, JWT verification (shared with bearer), CSRF checks, and its config validation.
import { createPublicKey } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportSPKI, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig, type ConfigIssue } from "../../../gateway/config/index.js";
import {
  DEFAULT_SESSION_COOKIE,
  SessionAuthenticator,
  sessionCookie,
  type SessionConfig,
} from "../../../gateway/authn/session.js";
import type { AuthnResult, RequestFacts } from "../../../gateway/authn/types.js";
import { b64url, makeKey, nowS, startJwksServer, type SigningKey } from "./helpers.js";

const IDP = "https://idp.example";
const APP = "web-app";
const COOKIE = DEFAULT_SESSION_COOKIE;

let key: SigningKey;
let rsa: SigningKey;
let jwks: Awaited<ReturnType<typeof startJwksServer>>;

beforeAll(async () => {
  [key, rsa] = await Promise.all([makeKey("s1"), makeKey("r1", "RS256")]);
  jwks = await startJwksServer([key.publicJwk, rsa.publicJwk]);
});
afterAll(() => jwks.close());

function session(extra: Partial<SessionConfig> = {}): SessionAuthenticator {
  return new SessionAuthenticator({
    issuer: IDP,
    audience: APP,
    jwks_uri: `${jwks.url}/jwks`,
    algorithms: ["ES256", "RS256"],
    ...extra,
  });
}

async function sessionJwt(
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
  k: SigningKey = key,
): Promise<string> {
  const t = nowS();
  return new SignJWT({ iss: IDP, aud: APP, sub: "user:alice", iat: t, exp: t + 600, amr: ["pwd"], ...claims })
    .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: "JWT", ...header })
    .sign(k.privateKey);
}

function req(headers: Record<string, string | string[]>, method = "GET"): RequestFacts {
  return { method, path: "/", headers };
}

const withCookie = (value: string, extra: Record<string, string | string[]> = {}, method = "GET") =>
  req({ cookie: `${COOKIE}=${value}`, ...extra }, method);

function expectError(r: AuthnResult, code: string, description?: RegExp) {
  expect(r.kind).toBe("error");
  if (r.kind !== "error") return;
  expect(r.error.code).toBe(code);
  if (description) expect(r.error.description).toMatch(description);
}

describe("session: valid sessions", () => {
  it("accepts a session JWT in the cookie and yields a session identity", async () => {
    const a = session();
    const token = await sessionJwt();
    const r = await a.authenticate(req({ cookie: `theme=dark; ${COOKIE}=${token}; lang=en` }));
    expect(r.kind).toBe("ok");
    if (r.kind !== "ok") return;
    expect(r.identity).toMatchObject({ method: "session", subject: "user:alice" });
    expect(r.identity.claims).toMatchObject({ iss: IDP, amr: ["pwd"] });
    expect(r.identity.tokenType).toBeUndefined();
    expect(r.identity.expiresAt).toBeGreaterThan(nowS());
  });

  it("accepts a missing typ and a quoted cookie value; reuses a verification for the same cookie", async () => {
    const a = session();
    const token = await sessionJwt({}, { typ: undefined });
    expect((await a.authenticate(withCookie(`"${token}"`))).kind).toBe("ok");
    expect((await a.authenticate(withCookie(token))).kind).toBe("ok");
    expect(a.verifications).toBe(1);
  });

  it("joins several Cookie fields (HTTP/2 splits them)", async () => {
    const token = await sessionJwt();
    const r = await session().authenticate(req({ cookie: ["a=1", `${COOKIE}=${token}`] }));
    expect(r.kind).toBe("ok");
  });

  it("no cookie, an empty one, or a cookie of another name (case differs) is 'none'", async () => {
    const a = session();
    const token = await sessionJwt();
    expect((await a.authenticate(req({}))).kind).toBe("none");
    expect((await a.authenticate(req({ cookie: "a=1; b" }))).kind).toBe("none");
    expect((await a.authenticate(withCookie(""))).kind).toBe("none");
    expect((await a.authenticate(req({ cookie: `${COOKIE.toLowerCase()}=${token}` }))).kind).toBe("none");
    expect((await a.authenticate(req({ authorization: `Bearer ${token}` }))).kind).toBe("none");
  });

  it("a custom cookie name is honoured", async () => {
    const token = await sessionJwt();
    const a = session({ cookie: "sid" });
    expect((await a.authenticate(req({ cookie: `sid=${token}` }))).kind).toBe("ok");
    expect((await a.authenticate(withCookie(token))).kind).toBe("none");
  });
});

describe("session: adversarial tokens", () => {
  it("adversarial: expired session → invalid_token", async () => {
    const t = nowS() - 3600;
    const r = await session().authenticate(withCookie(await sessionJwt({ iat: t, exp: t + 60 })));
    expectError(r, "invalid_token", /expired/);
  });

  it("adversarial: wrong issuer or audience → invalid_token", async () => {
    expectError(
      await session().authenticate(withCookie(await sessionJwt({ iss: "https://evil.example" }))),
      "invalid_token",
      /iss/,
    );
    expectError(
      await session().authenticate(withCookie(await sessionJwt({ aud: "other-app" }))),
      "invalid_token",
      /aud/,
    );
  });

  it("adversarial: alg none → invalid_token", async () => {
    const t = nowS();
    const header = b64url({ alg: "none", typ: "JWT", kid: "s1" });
    const payload = b64url({ iss: IDP, aud: APP, sub: "user:admin", iat: t, exp: t + 60 });
    expectError(await session().authenticate(withCookie(`${header}.${payload}.`)), "invalid_token");
    expectError(await session().authenticate(withCookie(`${header}.${payload}.AAAA`)), "invalid_token");
  });

  it("adversarial: HS256 signed with the IdP's public key → invalid_token", async () => {
    const pem = await exportSPKI(createPublicKey({ key: rsa.publicJwk, format: "jwk" }));
    const forged = await new SignJWT({ iss: IDP, aud: APP, sub: "user:admin", exp: nowS() + 60 })
      .setProtectedHeader({ alg: "HS256", kid: "r1", typ: "JWT" })
      .sign(new TextEncoder().encode(pem));
    expectError(await session().authenticate(withCookie(forged)), "invalid_token", /algorithm/);
  });

  it("adversarial: tampered payload (sub swapped) → invalid_token", async () => {
    const [h, , s] = (await sessionJwt()).split(".");
    const t = nowS();
    const evil = b64url({ iss: IDP, aud: APP, sub: "user:admin", iat: t, exp: t + 600 });
    expectError(await session().authenticate(withCookie(`${h}.${evil}.${s}`)), "invalid_token", /signature/);
  });

  it("adversarial: an access token (typ at+jwt) in the session cookie → invalid_token", async () => {
    const r = await session().authenticate(withCookie(await sessionJwt({}, { typ: "at+jwt" })));
    expectError(r, "invalid_token", /typ/);
  });

  it("adversarial: no exp or no sub → invalid_token", async () => {
    const t = nowS();
    const noExp = await new SignJWT({ iss: IDP, aud: APP, sub: "user:alice", iat: t })
      .setProtectedHeader({ alg: "ES256", kid: "s1" })
      .sign(key.privateKey);
    expectError(await session().authenticate(withCookie(noExp)), "invalid_token");
    const noSub = await new SignJWT({ iss: IDP, aud: APP, iat: t, exp: t + 60 })
      .setProtectedHeader({ alg: "ES256", kid: "s1" })
      .sign(key.privateKey);
    expectError(await session().authenticate(withCookie(noSub)), "invalid_token");
  });

  it("adversarial: a key the IdP never published → invalid_token", async () => {
    const stranger = await makeKey("s1");
    const r = await session().authenticate(withCookie(await sessionJwt({}, {}, stranger)));
    expectError(r, "invalid_token");
  });

  it("adversarial: a DPoP-bound token as a cookie → invalid_token", async () => {
    const r = await session().authenticate(withCookie(await sessionJwt({ cnf: { jkt: "abc" } })));
    expectError(r, "invalid_token");
  });

  it("adversarial: a value that is not a JWT → invalid_token", async () => {
    expectError(await session().authenticate(withCookie("opaque-session-id")), "invalid_token", /malformed/);
    expectError(await session().authenticate(withCookie("a.b.c%00")), "invalid_token");
  });
});

describe("session: strict cookie parsing", () => {
  it("adversarial: duplicate session cookie → invalid_request (also across Cookie fields)", async () => {
    const token = await sessionJwt();
    const other = await sessionJwt({ sub: "user:mallory" });
    expectError(
      await session().authenticate(req({ cookie: `${COOKIE}=${token}; ${COOKIE}=${other}` })),
      "invalid_request",
      /duplicate/,
    );
    expectError(
      await session().authenticate(req({ cookie: [`${COOKIE}=${token}`, `${COOKIE}=${token}`] })),
      "invalid_request",
      /duplicate/,
    );
    // An empty second copy is just as ambiguous.
    expectError(
      await session().authenticate(req({ cookie: `${COOKIE}=${token}; ${COOKIE}=` })),
      "invalid_request",
      /duplicate/,
    );
  });

  it("adversarial: oversized session cookie → invalid_request", async () => {
    const r = await session().authenticate(withCookie("a".repeat(5000)));
    expectError(r, "invalid_request", /too large/);
    const small = await session({ max_cookie_bytes: 256 }).authenticate(withCookie(await sessionJwt()));
    expectError(small, "invalid_request", /too large/);
  });

  it("adversarial: whitespace around =, a bare name, or characters outside cookie-octet → invalid_request", async () => {
    const token = await sessionJwt();
    for (const cookie of [
      `${COOKIE} =${token}`,
      `${COOKIE}= ${token}x`,
      `${COOKIE}`,
      `${COOKIE}=${token}\\`,
      `${COOKIE}="${token}`,
      `${COOKIE}=a,b`,
    ]) {
      expectError(await session().authenticate(req({ cookie })), "invalid_request", /malformed/);
    }
  });

  it("other cookies may be sloppy: only ours is held to the grammar", () => {
    const f = req({ cookie: `junk; =x; a b=c d; ${COOKIE}=abc.def.ghi;;` });
    expect(sessionCookie(f, COOKIE, 4096)).toBe("abc.def.ghi");
  });
});

describe("session: cross-site requests (CSRF)", () => {
  it("safe methods pass whatever the site; same-origin and user-initiated unsafe requests pass", async () => {
    const token = await sessionJwt();
    const a = session();
    expect((await a.authenticate(withCookie(token, { "sec-fetch-site": "cross-site" }))).kind).toBe("ok");
    for (const site of ["same-origin", "none"]) {
      expect((await a.authenticate(withCookie(token, { "sec-fetch-site": site }, "POST"))).kind).toBe("ok");
    }
    const own = { origin: "https://gw.example:8443", host: "gw.example:8443" };
    expect((await a.authenticate(withCookie(token, own, "POST"))).kind).toBe("ok");
    // No browser, no confused deputy (curl, service clients).
    expect((await a.authenticate(withCookie(token, {}, "DELETE"))).kind).toBe("ok");
  });

  it("adversarial: a state-changing cross-site request carrying the cookie → invalid_request", async () => {
    const token = await sessionJwt();
    const a = session();
    const attempts: Record<string, string>[] = [
      { "sec-fetch-site": "cross-site", origin: "https://evil.example" },
      { "sec-fetch-site": "same-site", origin: "https://sub.gw.example" },
      { "sec-fetch-site": "cross-site" },
      { origin: "https://evil.example", host: "gw.example" },
      { origin: "null", host: "gw.example" },
      { origin: "http://gw.example", host: "gw.example" },
    ];
    for (const headers of attempts) {
      expectError(await a.authenticate(withCookie(token, headers, "POST")), "invalid_request", /cross-site/);
    }
  });

  it("allowed_origins admits a separate front-end origin", async () => {
    const token = await sessionJwt();
    const a = session({ allowed_origins: ["https://app.example"] });
    const h = { "sec-fetch-site": "same-site", origin: "https://app.example" };
    expect((await a.authenticate(withCookie(token, h, "PUT"))).kind).toBe("ok");
    const other = { "sec-fetch-site": "same-site", origin: "https://app.example.evil" };
    expectError(await a.authenticate(withCookie(token, other, "PUT")), "invalid_request");
  });
});

describe("session: construction", () => {
  it("refuses none/HMAC algorithms and bad cookie names at start-up", () => {
    expect(() => session({ algorithms: ["HS256"] })).toThrow(/not allowed/);
    expect(() => session({ cookie: "bad name" })).toThrow(/cookie name/);
    expect(() => session({ jwks_uri: undefined })).toThrow(/jwks/);
  });
});

describe("config: authenticators.session", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "portcullis-session-"));
    for (const f of ["gw.pem", "gw.key", "ca.pem", "idp.json"]) writeFileSync(join(dir, f), "");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const yaml = (authn: string, authenticators: string, clientAuth = "optional") => `
pdp: { policies: . }
segments:
  - name: web
    listen: 127.0.0.1:0
    upstream: http://127.0.0.1:9001
    tls: { cert: gw.pem, key: gw.key, client_ca: ca.pem, client_auth: ${clientAuth} }
    authentication: ${authn}
    authenticators:
${authenticators}
    caller_types: [ { type: human-browser, browser_session: true }, { type: ai-agent, delegated: false, spiffe_path: "/agent/*" } ]
`;
  const SESSION = `      session: { issuer: "https://idp.example", audience: web-app, jwks_file: idp.json }`;

  function issues(text: string): ConfigIssue[] {
    try {
      parseConfig(text, join(dir, "gw.yaml"));
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).errors;
    }
    throw new Error("config was accepted");
  }

  it("accepts session as a method when configured, with defaults filled", () => {
    const c = parseConfig(yaml("{ any: [session, mtls] }", SESSION), join(dir, "gw.yaml"));
    const s = c.segments[0]!;
    expect(s.authenticators.session).toEqual({
      cookie: "__Host-portcullis-session",
      issuer: "https://idp.example",
      audience: "web-app",
      jwks_file: join(dir, "idp.json"),
      algorithms: ["ES256", "ES384", "RS256", "PS256", "EdDSA"],
      clock_skew_s: 60,
      max_cookie_bytes: 4096,
      allowed_origins: [],
    });
    expect(s.caller_types[1]).toEqual({ type: "ai-agent", delegated: false, spiffe_path: "/agent/*" });
    const none = parseConfig(yaml("session", SESSION, "none"), join(dir, "gw.yaml"));
    expect(none.segments[0]!.tls.client_auth).toBe("none");
  });

  it("refuses session as a method when it is not configured", () => {
    const errs = issues(yaml("{ any: [session, mtls] }", "      {}"));
    expect(errs[0]).toMatchObject({
      path: "segments[0].authentication.any[0]",
      message: expect.stringMatching(/authenticator "session" is not configured/),
    });
  });

  it("names bad session keys by path", () => {
    const errs = issues(
      yaml(
        "session",
        `      session: { issuer: "http://idp.example", jwks_file: idp.json, jwks_uri: "https://idp.example/jwks", cookie: "a b", max_cookie_bytes: 99999, allowed_origins: ["https://app.example/", "javascript:x"], algorithms: [HS256], cokie: x }`,
      ),
    );
    const paths = errs.map((e) => e.path);
    const p = "segments[0].authenticators.session";
    expect(paths).toEqual(
      expect.arrayContaining([
        `${p}.issuer`,
        `${p}.audience`,
        p,
        `${p}.cookie`,
        `${p}.max_cookie_bytes`,
        `${p}.allowed_origins[0]`,
        `${p}.allowed_origins[1]`,
        `${p}.algorithms[0]`,
        `${p}.cokie`,
      ]),
    );
  });
});
