import { describe, expect, it } from "vitest";
import { HygieneError } from "../../../gateway/http/errors.js";
import {
  forwardedHeaders,
  isForgeableHeader,
  MASKED,
  parseHostHeader,
  policyHeaders,
  sanitizeRequestHeaders,
} from "../../../gateway/http/headers.js";

// Each a header a client could send to impersonate a verified peer, a proxy hop or another request.
const FORGED: [string, string][] = [
  ["x-forwarded-client-cert", "By=spiffe://corp/agent/admin;Hash=00"],
  ["x-portcullis-spiffe-id", "spiffe://corp/agent/admin"],
  ["X-Portcullis-Caller-Type", "service"],
  ["x_portcullis_subject", "admin"],
  ["txn-token", "eyJhbGciOi..."],
  ["x-forwarded-for", "10.0.0.1"],
  ["x-forwarded-host", "admin.internal"],
  ["x-forwarded-proto", "https"],
  ["x_forwarded_for", "10.0.0.1"],
  ["forwarded", "for=10.0.0.1"],
  ["x-real-ip", "10.0.0.1"],
  ["true-client-ip", "10.0.0.1"],
  ["x-client-cert", "MIIB..."],
  ["client-cert", ":MIIB...:"],
  ["client-cert-chain", ":MIIB...:"],
  ["ssl-client-cert", "MIIB..."],
  ["ssl-client-verify", "SUCCESS"],
  ["ssl_client_s_dn", "CN=admin"],
  ["x-ssl-client-dn", "CN=admin"],
  ["x-amzn-mtls-clientcert", "MIIB..."],
  ["x-envoy-original-path", "/admin"],
  ["x-original-url", "/admin"],
  ["x-rewrite-url", "/admin"],
  ["x-http-method-override", "DELETE"],
];

const HOP: [string, string][] = [
  ["connection", "keep-alive, x-drop-me"],
  ["x-drop-me", "1"],
  ["keep-alive", "timeout=5"],
  ["proxy-connection", "keep-alive"],
  ["te", "gzip"],
  ["trailer", "x-checksum"],
  ["transfer-encoding", "chunked"],
  ["upgrade", "h2c"],
  ["http2-settings", "AAMAAABkAAQAAP__"],
  ["proxy-authorization", "Basic Zm9vOmJhcg=="],
  ["proxy-authenticate", "Basic"],
];

describe("sanitizeRequestHeaders", () => {
  it(`strips forged identity headers (${FORGED.length} cases)`, () => {
    const out = sanitizeRequestHeaders({ ...Object.fromEntries(FORGED), host: "gw", accept: "*/*" });
    expect(out).toEqual({ host: "gw", accept: "*/*" });
    for (const [name] of FORGED) expect(isForgeableHeader(name), name).toBe(true);
  });

  it(`strips hop-by-hop headers and those Connection names (${HOP.length} cases)`, () => {
    const out = sanitizeRequestHeaders({ ...Object.fromEntries(HOP), host: "gw", "x-keep": "1" });
    expect(out).toEqual({ host: "gw", "x-keep": "1" });
  });

  it("keeps end-to-end headers, arrays and extra configured strips", () => {
    const out = sanitizeRequestHeaders(
      { Host: "gw", authorization: "Bearer t", accept: ["a", "b"], "x-segment-id": "1", skipped: undefined },
      { stripHeaders: ["X_Segment_Id"] },
    );
    expect(out).toEqual({ host: "gw", authorization: "Bearer t", accept: ["a", "b"] });
  });

  it("keeps TE: trailers only", () => {
    expect(sanitizeRequestHeaders({ te: "trailers, deflate" })).toEqual({ te: "trailers" });
    expect(sanitizeRequestHeaders({ te: "deflate" })).toEqual({});
  });

  it("keeps a WebSocket upgrade only when allowed, and never h2c", () => {
    const ws = { connection: "Upgrade", upgrade: "websocket", "sec-websocket-key": "k" };
    expect(sanitizeRequestHeaders(ws)).toEqual({ "sec-websocket-key": "k" });
    expect(sanitizeRequestHeaders(ws, { allowWebSocketUpgrade: true })).toEqual({
      connection: "upgrade",
      upgrade: "websocket",
      "sec-websocket-key": "k",
    });
    const h2c = { connection: "Upgrade, HTTP2-Settings", upgrade: "h2c", "http2-settings": "x" };
    expect(sanitizeRequestHeaders(h2c, { allowWebSocketUpgrade: true })).toEqual({});
    expect(
      sanitizeRequestHeaders(
        { connection: "upgrade", upgrade: "websocket, h2c" },
        { allowWebSocketUpgrade: true },
      ),
    ).toEqual({});
  });

  const NOMINATED = ["host", "content-length", "Content-Type", "content-encoding"];
  it(`rejects Connection nominating end-to-end framing headers (${NOMINATED.length} cases)`, () => {
    for (const name of NOMINATED) {
      expect(() => sanitizeRequestHeaders({ connection: `close, ${name}`, host: "gw" }), name).toThrow(
        HygieneError,
      );
    }
  });

  it("does not mutate its input", () => {
    const input = { "x-portcullis-a": "1", host: "gw" };
    sanitizeRequestHeaders(input);
    expect(input).toEqual({ "x-portcullis-a": "1", host: "gw" });
  });
});

describe("forwardedHeaders", () => {
  it("describes only this hop, for IPv4 over TLS", () => {
    expect(
      forwardedHeaders({ remoteAddress: "10.0.0.7", localPort: 8443, encrypted: true, host: "api.example" }),
    ).toEqual({
      "x-forwarded-for": "10.0.0.7",
      "x-forwarded-proto": "https",
      "x-forwarded-port": "8443",
      "x-forwarded-host": "api.example",
      forwarded: "for=10.0.0.7;proto=https;host=api.example",
    });
  });

  it("quotes and brackets IPv6 and quotes a host with a port (RFC 7239 §6)", () => {
    const h = forwardedHeaders({
      remoteAddress: "2001:db8::1",
      localPort: 80,
      encrypted: false,
      host: "[2001:db8::2]:8080",
      by: "_portcullis",
    });
    expect(h["x-forwarded-for"]).toBe("2001:db8::1");
    expect(h.forwarded).toBe('for="[2001:db8::1]";by=_portcullis;proto=http;host="[2001:db8::2]:8080"');
  });

  it("unmaps IPv4-mapped IPv6 and omits host fields without a Host", () => {
    const h = forwardedHeaders({
      remoteAddress: "::ffff:127.0.0.1",
      localPort: 1,
      encrypted: true,
      host: undefined,
    });
    expect(h).toEqual({
      "x-forwarded-for": "127.0.0.1",
      "x-forwarded-proto": "https",
      "x-forwarded-port": "1",
      forwarded: "for=127.0.0.1;proto=https",
    });
  });

  const BAD_HOSTS = [
    'evil"; for=1.2.3.4',
    "a b",
    "user@host",
    "h:99999",
    "h:0",
    "[::g]",
    "-h",
    "h/",
    "h:",
    "é.example",
  ];
  it(`rejects a Host that could inject into Forwarded (${BAD_HOSTS.length} cases)`, () => {
    for (const host of BAD_HOSTS) {
      expect(
        () => forwardedHeaders({ remoteAddress: "1.2.3.4", localPort: 1, encrypted: true, host }),
        host,
      ).toThrow(HygieneError);
    }
    expect(() =>
      forwardedHeaders({ remoteAddress: "nope", localPort: 1, encrypted: true, host: "h" }),
    ).toThrow(TypeError);
  });

  it("parses valid hosts", () => {
    expect(parseHostHeader("API.example:8443")).toEqual({ hostname: "api.example", port: 8443 });
    expect(parseHostHeader("[::1]")).toEqual({ hostname: "[::1]" });
    expect(parseHostHeader("10.0.0.1")).toEqual({ hostname: "10.0.0.1" });
  });
});

describe("policyHeaders", () => {
  it("lower-cases, joins repeats and masks credentials but keeps their names", () => {
    const p = policyHeaders(
      {
        Authorization: "Bearer eyJsecret",
        "proxy-authorization": "Basic Zm9v",
        cookie: "session=secret",
        "x-api-key": "k",
        x_api_key: "k2",
        dpop: "eyJ",
        "attestation-result": "eyJ",
        "x-psk": "shh",
        accept: ["a", "b"],
        "content-type": "application/json",
        gone: undefined,
      },
      { secretHeaders: ["X-PSK"] },
    );
    expect({ ...p }).toEqual({
      authorization: `Bearer ${MASKED}`,
      "proxy-authorization": `Basic ${MASKED}`,
      cookie: MASKED,
      "x-api-key": MASKED,
      x_api_key: MASKED,
      dpop: MASKED,
      "attestation-result": MASKED,
      "x-psk": MASKED,
      accept: "a, b",
      "content-type": "application/json",
    });
    expect(JSON.stringify(p)).not.toMatch(/secret|Zm9v|shh/);
  });

  it("masks an Authorization value without a scheme entirely", () => {
    expect(policyHeaders({ authorization: "justatoken" }).authorization).toBe(MASKED);
  });
});
