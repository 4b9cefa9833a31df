// Caller types, browser sessions and identifier translation through running segments: real TLS with
// dev-PKI certificates of two trust domains, a real IdP JWKS over HTTP, a real upstream, and a test
// policy that copies `input.caller`, `input.authn` and `input.session` into headers the upstream echoes.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, type CallerTypeRule, type Segment } from "../../../gateway/config/index.js";
import { DEFAULT_SESSION_COOKIE } from "../../../gateway/authn/session.js";
import type { Identity } from "../../../gateway/authn/types.js";
import {
  createCA,
  DEV_AUDIENCE,
  DEV_ISSUER,
  ensureDevPki,
  issueSvid,
  signAccessToken,
  type DevPki,
  type Issued,
} from "../../../gateway/pki/index.js";
import { compile } from "../../../pdp/rego/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { callerType } from "../../../gateway/server/input.js";
import { startSegment, type RunningSegment } from "../../../gateway/server/serve.js";
import { b64url, makeKey, startJwksServer, type SigningKey } from "../authn/helpers.js";

// Allows everything and shows the upstream what the gateway told the policy.
const ECHO_POLICY = `package portcullis.authz
import rego.v1
decision := {"allow": true, "headers": {
  "x-echo-caller": json.marshal(input.caller),
  "x-echo-local-id": object.get(input.authn, "local_id", "(absent)"),
  "x-echo-methods": concat(",", input.authn.methods),
  "x-echo-subject": input.authn.subject,
  "x-echo-session": json.marshal(object.get(input, "session", null)),
}}
`;

const IDP = "https://idp.demo.portcullis";
const WEB_APP = "web-app";
const COOKIE = DEFAULT_SESSION_COOKIE;

/** The recommended rule list of docs/gateway/callers.md, plus rules for every other condition kind. */
const RULES = `
    caller_types:
      - { type: human-browser, browser_session: true }
      - { type: delegated-agent, spiffe_path: "/agent/*", trust_domain: demo.portcullis, delegated: true }
      - { type: ai-agent, spiffe_path: "/agent/*", trust_domain: demo.portcullis }
      - { type: iot-device, spiffe_path: "/device/**" }
      - { type: partner, trust_domain: partner.example }
      - { type: service, client_id: billing-svc }
      - { type: human-api, claims: { amr: mfa }, browser_session: false }
`;

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Echo {
  caller: { type: string; reason: string };
  localId: string;
  methods: string;
  subject: string;
  session: { claims: Record<string, unknown> } | null;
}

let dir: string;
let pki: DevPki;
let partnerCa: Issued;
const partner: Record<string, Issued> = {};
let idpKey: SigningKey;
let jwks: Awaited<ReturnType<typeof startJwksServer>>;
let upstream: Server;
let upstreamUrl: string;
let upstreamHits = 0;
let pdp: Pdp;
const running: RunningSegment[] = [];
let web: number;
let portal: number;

type Cert = string | false | Issued;

function call(
  port: number,
  path: string,
  o: {
    method?: string;
    token?: string;
    cert?: Cert;
    cookie?: string | string[];
    headers?: Record<string, string>;
  } = {},
): Promise<Reply> {
  const svid =
    o.cert === false || o.cert === undefined
      ? undefined
      : typeof o.cert === "string"
        ? pki.svids[o.cert]
        : o.cert;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: o.method ?? "GET",
        ca: pki.ca.certPem,
        ...(svid ? { cert: svid.certPem, key: svid.keyPem } : {}),
        headers: {
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(o.cookie !== undefined ? { cookie: o.cookie } : {}),
          ...o.headers,
        },
        agent: false,
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** An allowed call and what the policy saw; fails the test when the gateway did not let it through. */
async function echo(port: number, o: Parameters<typeof call>[2] = {}): Promise<Echo> {
  const r = await call(port, "/whoami", o);
  expect(r.status, r.body).toBe(200);
  const h = JSON.parse(r.body) as Record<string, string>;
  return {
    caller: JSON.parse(h["x-echo-caller"]!) as Echo["caller"],
    localId: h["x-echo-local-id"]!,
    methods: h["x-echo-methods"]!,
    subject: h["x-echo-subject"]!,
    session: JSON.parse(h["x-echo-session"]!) as Echo["session"],
  };
}

/** A denied call: asserts that nothing reached the upstream. */
async function refused(port: number, o: Parameters<typeof call>[2] = {}): Promise<Reply> {
  const before = upstreamHits;
  const r = await call(port, "/whoami", o);
  expect(upstreamHits - before).toBe(0);
  return r;
}

async function sessionJwt(
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const t = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: IDP,
    aud: WEB_APP,
    sub: "user:alice",
    iat: t,
    exp: t + 600,
    amr: ["pwd"],
    ...claims,
  })
    .setProtectedHeader({ alg: "ES256", kid: idpKey.kid, typ: "JWT", ...header })
    .sign(idpKey.privateKey);
}

function accessToken(sub: string, claims: Record<string, unknown> = {}, client_id?: string): Promise<string> {
  return signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: DEV_AUDIENCE,
    sub,
    ...(client_id !== undefined ? { client_id } : {}),
    claims,
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-callers-"));
  pki = await ensureDevPki({
    dir,
    svids: [
      { name: "agent", spiffeId: "spiffe://demo.portcullis/agent/planner" },
      { name: "device", spiffeId: "spiffe://demo.portcullis/device/plant-7/sensor-2" },
      { name: "svc", spiffeId: "spiffe://demo.portcullis/svc/billing" },
    ],
    tokens: [],
  });
  // A second trust domain with its own CA: the partner's workloads.
  partnerCa = await createCA({ trustDomain: "partner.example" });
  for (const [name, id] of [
    ["scout", "spiffe://partner.example/agent/scout"],
    ["vip", "spiffe://partner.example/agent/vip"],
    ["robot", "spiffe://partner.example/robot/r2"],
  ] as const) {
    partner[name] = await issueSvid(partnerCa, id);
  }
  writeFileSync(join(dir, "partner-ca.pem"), partnerCa.certPem);
  writeFileSync(join(dir, "partner-ids.yaml"), '"spiffe://partner.example/agent/vip": partner-vip\n');

  idpKey = await makeKey("idp-1");
  jwks = await startJwksServer([idpKey.publicJwk]);

  upstream = createServer((req, res) => {
    upstreamHits++;
    const h = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith("x-echo-")));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(h));
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  pdp = regoPdp(
    compile({ modules: [{ file: "echo.rego", source: ECHO_POLICY }] }),
    "portcullis/authz/decision",
  );

  // The "web" segment comes from a YAML file, so config loading, the map file and the running gateway are
  // tested together: browsers (no client certificate) and workloads of two trust domains on one listener.
  writeFileSync(join(dir, "policies.rego"), ECHO_POLICY);
  writeFileSync(
    join(dir, "gateway.yaml"),
    `
pdp: { policies: policies.rego }
segments:
  - name: web
    listen: 127.0.0.1:0
    upstream: ${upstreamUrl}
    tls:
      cert: gateway.pem
      key: gateway.key
      client_ca: [ca.pem, partner-ca.pem]
      client_auth: optional
      trust_domains: [demo.portcullis, partner.example]
    authentication: { any: [session, bearer, mtls] }
    authenticators:
      session: { issuer: "${IDP}", audience: ${WEB_APP}, jwks_uri: "${jwks.url}/jwks", algorithms: [ES256] }
      bearer: { issuer: "${DEV_ISSUER}", audience: ${DEV_AUDIENCE}, jwks_file: jwks.json, algorithms: [ES256] }
    local_trust_domain: demo.portcullis
    identity_translation:
      - { trust_domain: partner.example, map_file: partner-ids.yaml }
      - { pattern: "spiffe://partner.example/agent/*", local_id: "partner-agent:{1}" }
${RULES}`,
  );
  const config = loadConfig(join(dir, "gateway.yaml"));
  web = await start(config.segments[0]!);

  // The "portal" segment: browsers only, no client certificates asked for at all.
  const portalRules: CallerTypeRule[] = [
    { type: "human-api", claims: { amr: "mfa" }, browser_session: false },
    { type: "human-browser", browser_session: true },
  ];
  portal = await start(
    demoSegment(dir, upstreamUrl, 0, {
      name: "portal",
      tls: { ...demoSegment(dir, upstreamUrl).tls, client_auth: "none", client_ca: [] },
      authentication: "session",
      authenticators: {
        session: {
          cookie: COOKIE,
          issuer: IDP,
          audience: WEB_APP,
          jwks_uri: `${jwks.url}/jwks`,
          algorithms: ["ES256"],
          clock_skew_s: 30,
          max_cookie_bytes: 4096,
          allowed_origins: ["https://app.demo.portcullis"],
        },
      },
      caller_types: portalRules,
    }),
  );
});

async function start(s: Segment): Promise<number> {
  const r = await startSegment(s, pdp, (e) => process.env.GW_DEBUG && console.log(e));
  running.push(r);
  return r.port;
}

afterAll(async () => {
  await Promise.all(
    running.map((r) => new Promise((res) => (r.server.close(res), r.server.closeAllConnections()))),
  );
  await new Promise((r) => upstream.close(r));
  await jwks?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("caller types through a running segment", () => {
  it("a browser session over plain TLS (no client certificate) is human-browser", async () => {
    const e = await echo(web, { cookie: `theme=dark; ${COOKIE}=${await sessionJwt()}` });
    expect(e.caller).toEqual({ type: "human-browser", reason: "browser session" });
    expect(e.methods).toBe("session");
    expect(e.subject).toBe("user:alice");
    expect(e.localId).toBe("user:alice");
    expect(e.session?.claims).toMatchObject({ iss: IDP, sub: "user:alice", amr: ["pwd"] });
  });

  it("SPIFFE path and trust domain: an agent SVID with a token is ai-agent", async () => {
    const e = await echo(web, {
      cert: "agent",
      token: await accessToken("spiffe://demo.portcullis/agent/planner"),
    });
    expect(e.caller).toEqual({
      type: "ai-agent",
      reason: "spiffe path /agent/* and trust domain demo.portcullis",
    });
    expect(e.methods).toBe("bearer,mtls");
    expect(e.session).toBeNull();
  });

  it("act present: the same agent acting for a user is delegated-agent (first match wins)", async () => {
    const token = await accessToken("user:alice", { act: { sub: "spiffe://demo.portcullis/agent/planner" } });
    const e = await echo(web, { cert: "agent", token });
    expect(e.caller.type).toBe("delegated-agent");
    expect(e.caller.reason).toBe(
      "spiffe path /agent/* and trust domain demo.portcullis and delegated (act claim)",
    );
  });

  it("SPIFFE path with ** : a device SVID alone (mTLS only) is iot-device", async () => {
    const e = await echo(web, { cert: "device" });
    expect(e.caller).toEqual({ type: "iot-device", reason: "spiffe path /device/**" });
    expect(e.methods).toBe("mtls");
    expect(e.localId).toBe("spiffe://demo.portcullis/device/plant-7/sensor-2");
  });

  it("client_id: a service's token is service", async () => {
    const token = await accessToken("spiffe://demo.portcullis/svc/billing", {}, "billing-svc");
    const e = await echo(web, { cert: "svc", token });
    expect(e.caller).toEqual({ type: "service", reason: "client_id billing-svc" });
  });

  it("custom claim (array contains) and browser_session false: a user's API token is human-api", async () => {
    const token = await accessToken("user:bob", { amr: ["pwd", "mfa"] }, "cli");
    const e = await echo(web, { cert: false, token });
    expect(e.caller).toEqual({ type: "human-api", reason: "claim amr=mfa and no browser session" });
    expect(e.localId).toBe("user:bob");
  });

  it("no rule matches → unknown, with the reason saying so", async () => {
    const token = await accessToken("user:carol", { amr: ["pwd"] }, "cli");
    const e = await echo(web, { token });
    expect(e.caller).toEqual({ type: "unknown", reason: "no caller type rule matched" });
  });

  it("adversarial: a partner SVID under /agent/* is not ai-agent (trust domain is part of the rule)", async () => {
    const e = await echo(web, { cert: partner.scout });
    expect(e.caller).toEqual({ type: "partner", reason: "trust domain partner.example" });
  });

  it("adversarial: claims in a token cannot fake a browser session", async () => {
    const token = await accessToken("user:mallory", { browser_session: true, amr: ["mfa"] }, "cli");
    const e = await echo(web, { token, headers: { cookie: "other=1" } });
    expect(e.caller.type).toBe("human-api");
    expect(e.methods).toBe("bearer");
  });

  it("browser_session false excludes browsers even when the claim matches (portal rules)", async () => {
    const e = await echo(portal, { cookie: `${COOKIE}=${await sessionJwt({ amr: ["mfa"] })}` });
    expect(e.caller).toEqual({ type: "human-browser", reason: "browser session" });
  });
});

describe("identifier translation into input.authn.local_id", () => {
  it("a foreign SVID matching a pattern gets the templated local ID", async () => {
    expect((await echo(web, { cert: partner.scout })).localId).toBe("partner-agent:scout");
  });

  it("the map file wins when it comes first", async () => {
    expect((await echo(web, { cert: partner.vip })).localId).toBe("partner-vip");
  });

  it("a foreign SVID no rule matches has no local_id", async () => {
    const e = await echo(web, { cert: partner.robot });
    expect(e.subject).toBe("spiffe://partner.example/robot/r2");
    expect(e.localId).toBe("(absent)");
  });

  it("the authenticated subject is translated: a token naming a partner workload", async () => {
    const e = await echo(web, { token: await accessToken("spiffe://partner.example/agent/relay") });
    expect(e.localId).toBe("partner-agent:relay");
  });

  it("local workload IDs are their own local_id", async () => {
    const e = await echo(web, {
      cert: "agent",
      token: await accessToken("spiffe://demo.portcullis/agent/planner"),
    });
    expect(e.localId).toBe("spiffe://demo.portcullis/agent/planner");
  });
});

describe("browser sessions: failures", () => {
  const challenge = (r: Reply) => String(r.headers["www-authenticate"]);

  it("no cookie on a session-only segment → 401 with a bare Bearer challenge", async () => {
    const r = await refused(portal);
    expect(r.status).toBe(401);
    expect(challenge(r)).toMatch(/^Bearer realm="portal", resource_metadata="https:\/\/[^"]+"$/);
  });

  it.each([
    ["expired", async () => sessionJwt({ iat: 1000, exp: 2000 }), /token expired/],
    ["wrong issuer", async () => sessionJwt({ iss: "https://evil.example" }), /invalid iss claim/],
    ["wrong audience", async () => sessionJwt({ aud: "other" }), /invalid aud claim/],
    [
      "alg none",
      async () => {
        const t = Math.floor(Date.now() / 1000);
        const h = b64url({ alg: "none", typ: "JWT", kid: "idp-1" });
        return `${h}.${b64url({ iss: IDP, aud: WEB_APP, sub: "user:admin", iat: t, exp: t + 60 })}.AAAA`;
      },
      /./,
    ],
    [
      "tampered",
      async () => {
        const [h, , s] = (await sessionJwt()).split(".");
        const t = Math.floor(Date.now() / 1000);
        return `${h}.${b64url({ iss: IDP, aud: WEB_APP, sub: "user:admin", iat: t, exp: t + 600 })}.${s}`;
      },
      /invalid signature/,
    ],
    ["an access token (typ)", async () => sessionJwt({}, { typ: "at+jwt" }), /typ/],
  ])("adversarial: %s session → 401 invalid_token", async (_name, make, description) => {
    for (const port of [web, portal]) {
      const r = await refused(port, { cookie: `${COOKIE}=${await make()}` });
      expect(r.status).toBe(401);
      expect(challenge(r)).toMatch(
        /^Bearer realm="(web|portal)", error="invalid_token", error_description="[^"]+"/,
      );
      const body = JSON.parse(r.body) as { error: string; error_description: string };
      expect(body.error).toBe("invalid_token");
      expect(body.error_description).toMatch(description);
      expect(r.headers["cache-control"]).toBe("no-store");
    }
  });

  it("adversarial: duplicate session cookie → 400 invalid_request", async () => {
    const a = await sessionJwt();
    const b = await sessionJwt({ sub: "user:admin" });
    const r = await refused(web, { cookie: `${COOKIE}=${a}; ${COOKIE}=${b}` });
    expect(r.status).toBe(400);
    expect(challenge(r)).toContain('error="invalid_request", error_description="duplicate session cookie"');
    expect(JSON.parse(r.body)).toEqual({
      error: "invalid_request",
      error_description: "duplicate session cookie",
    });
  });

  it("adversarial: oversized session cookie → 400 invalid_request", async () => {
    const r = await refused(portal, { cookie: `${COOKIE}=${"a".repeat(5000)}` });
    expect(r.status).toBe(400);
    expect(challenge(r)).toContain('error="invalid_request"');
  });

  it("adversarial: a cross-site POST carrying the session cookie → 400; the allowed front end passes", async () => {
    const cookie = `${COOKIE}=${await sessionJwt()}`;
    const r = await refused(portal, {
      method: "POST",
      cookie,
      headers: { "sec-fetch-site": "cross-site", origin: "https://evil.example" },
    });
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error_description).toBe("cross-site request with a session cookie");
    const ok = await echo(portal, {
      method: "POST",
      cookie,
      headers: { "sec-fetch-site": "same-site", origin: "https://app.demo.portcullis" },
    });
    expect(ok.caller.type).toBe("human-browser");
  });

  it("adversarial: a bad session next to a good client certificate is still refused", async () => {
    const r = await refused(web, {
      cert: "agent",
      cookie: `${COOKIE}=${await sessionJwt({ iss: "https://evil.example" })}`,
    });
    expect(r.status).toBe(401);
  });

  it("adversarial: the session cookie does not reach the policy input in clear", async () => {
    const token = await sessionJwt();
    const pdpSeen: Record<string, unknown>[] = [];
    const capture = await startSegment(
      demoSegment(dir, upstreamUrl, 0, {
        name: "capture",
        tls: { ...demoSegment(dir, upstreamUrl).tls, client_auth: "none", client_ca: [] },
        authentication: "session",
        authenticators: {
          session: {
            cookie: COOKIE,
            issuer: IDP,
            audience: WEB_APP,
            jwks_uri: `${jwks.url}/jwks`,
            algorithms: ["ES256"],
            clock_skew_s: 30,
            max_cookie_bytes: 4096,
            allowed_origins: [],
          },
        },
        caller_types: [{ type: "human-browser", browser_session: true }],
      }),
      { decide: (input) => (pdpSeen.push(input), true) },
    );
    running.push(capture);
    const r = await call(capture.port, "/x", { cookie: `${COOKIE}=${token}` });
    expect(r.status).toBe(200);
    expect(JSON.stringify(pdpSeen[0])).not.toContain(token);
    expect(pdpSeen[0]).toMatchObject({ caller: { type: "human-browser" }, authn: { methods: ["session"] } });
  });
});

describe("callerType (the rule engine itself)", () => {
  const id = (o: Partial<Identity>): Identity => ({ method: "bearer", subject: "s", ...o });
  const facts = (identity: Identity, methods = [identity.method]) => ({
    methods,
    identity,
    identities: Object.fromEntries(
      methods.map((m) => [m, m === identity.method ? identity : id({ method: m })]),
    ),
  });

  it("delegated false matches only tokens without act; act must be an object", () => {
    const rules: CallerTypeRule[] = [
      { type: "direct", client_id: "c", delegated: false },
      { type: "delegated", client_id: "c", delegated: true },
    ];
    expect(callerType(rules, undefined, facts(id({ clientId: "c" }))).type).toBe("direct");
    expect(callerType(rules, undefined, facts(id({ clientId: "c", act: { sub: "x" } }))).type).toBe(
      "delegated",
    );
    expect(callerType(rules, undefined, facts(id({ clientId: "c", act: "x" }))).type).toBe("direct");
  });

  it("claims rules: every listed claim must match; scalars compare exactly (no type coercion)", () => {
    const rules: CallerTypeRule[] = [{ type: "t", claims: { tier: 1, role: "ops" } }];
    const match = (claims: Record<string, unknown>) =>
      callerType(rules, undefined, facts(id({ claims }))).type;
    expect(match({ tier: 1, role: "ops" })).toBe("t");
    expect(match({ tier: "1", role: "ops" })).toBe("unknown");
    expect(match({ tier: 1 })).toBe("unknown");
    expect(match({ tier: 1, role: ["ops", "dev"] })).toBe("t");
    expect(callerType(rules, undefined, facts(id({ claims: { tier: 1, role: "ops" } }))).reason).toBe(
      "claim tier=1 and claim role=ops",
    );
  });

  it("adversarial: claims rules never read the mTLS pseudo-claims or Object.prototype", () => {
    const mtls = id({ method: "mtls", claims: { trust_domain: "demo.portcullis" } });
    const rules: CallerTypeRule[] = [{ type: "t", claims: { trust_domain: "demo.portcullis" } }];
    expect(callerType(rules, undefined, facts(mtls)).type).toBe("unknown");
    const proto: CallerTypeRule[] = [{ type: "t", claims: { constructor: "x" } }];
    expect(callerType(proto, undefined, facts(id({ claims: {} }))).type).toBe("unknown");
  });

  it("client_id and act are read from any authenticated identity, not only the primary one", () => {
    const session = id({ method: "session", subject: "user:a" });
    const bearer = id({ method: "bearer", clientId: "billing-svc", act: { sub: "x" } });
    const f = { methods: ["session", "bearer"], identity: session, identities: { session, bearer } };
    expect(callerType([{ type: "svc", client_id: "billing-svc" }], undefined, f).type).toBe("svc");
    expect(callerType([{ type: "d", delegated: true }], undefined, f).type).toBe("d");
  });
});
