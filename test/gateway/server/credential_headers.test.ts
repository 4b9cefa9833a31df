// Gateway-only credentials (API keys, pre-shared secrets, JWT assertions) under their default header names
// and under names a config chooses: end to end over real TLS (dev PKI) from a YAML config, through the
// real Rego engine to a real upstream that records what it received, with decision logs in a real file.
// A custom name must be treated exactly like the default one: masked in the policy input, masked in the
// decision log, never forwarded.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashSha256 } from "../../../gateway/authn/secrets.js";
import { loadConfig } from "../../../gateway/config/index.js";
import { MASKED } from "../../../gateway/http/headers.js";
import { DEV_TRUST_DOMAIN, ensureDevPki, type DevPki } from "../../../gateway/pki/index.js";
import { segmentCredentialHeaders } from "../../../gateway/server/credential_headers.js";
import { demoAttestation, demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp } from "../../../gateway/server/enforce.js";
import { startGateway, type RunningGateway } from "../../../gateway/server/serve.js";
import type { DecisionLogEvent } from "../../../pdp/decision_log/index.js";
import { compile } from "../../../pdp/rego/index.js";
import { makeKey, nowS, type SigningKey } from "../authn/helpers.js";

// The policy hands the upstream exactly what it was given as `input.request.headers`.
const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied"}
decision := {"allow": true, "headers": {
  "x-test-policy-headers": json.marshal(input.request.headers),
  "x-test-methods": concat(",", input.authn.methods),
}} if input.request.path == "/echo"
`;

const ASSERT_ISSUER = "https://workloads.example";
const AUDIENCE = "https://gateway.example";
const API_KEY = `ak_${randomBytes(24).toString("base64url")}`;
const PSK = randomBytes(32).toString("base64url");

let dir: string;
let pki: DevPki;
let assertKey: SigningKey;
let upstream: Server;
let gw: RunningGateway;
let logFile: string;
const seen: IncomingHttpHeaders[] = [];

interface Names {
  segment: string;
  /** How the YAML spells the header (the loader lower-cases it). */
  apiKeyYaml?: string;
  pskYaml?: string;
  apiKey: string;
  psk: string;
}

const DEFAULTS: Names = { segment: "defaults", apiKey: "x-api-key", psk: "x-psk" };
const CUSTOM: Names = {
  segment: "custom",
  apiKeyYaml: "X-Tenant-Key",
  pskYaml: "x-device-secret",
  apiKey: "x-tenant-key",
  psk: "x-device-secret",
};

function segmentYaml(n: Names): string {
  const header = (h: string | undefined) => (h === undefined ? "" : `header: ${h}, `);
  return `  - name: ${n.segment}
    listen: 127.0.0.1:0
    upstream: http://127.0.0.1:${(upstream.address() as AddressInfo).port}
    tls: { cert: gateway.pem, key: gateway.key, client_auth: none }
    authentication: { any: [api_key, psk, jwt_assertion] }
    authenticators:
      api_key: { ${header(n.apiKeyYaml)}keys_file: keys.yaml }
      psk: { ${header(n.pskYaml)}secrets_file: psk.yaml }
      jwt_assertion: { audience: "${AUDIENCE}", issuers: [ { issuer: "${ASSERT_ISSUER}", jwks_file: assert-jwks.json } ] }
`;
}

function assertion(): Promise<string> {
  const t = nowS();
  return new SignJWT({
    iss: ASSERT_ISSUER,
    sub: `spiffe://${DEV_TRUST_DOMAIN}/workload/batch`,
    aud: AUDIENCE,
    iat: t,
    exp: t + 60,
    jti: randomUUID(),
  })
    .setProtectedHeader({ alg: assertKey.alg, kid: assertKey.kid, typ: "JWT" })
    .sign(assertKey.privateKey);
}

function call(port: number, headers: OutgoingHttpHeaders): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/echo", ca: pki.ca.certPem, headers, agent: false },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function decisionEvents(): Promise<DecisionLogEvent[]> {
  await gw.decisionLog!.flush();
  return readFileSync(logFile, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as DecisionLogEvent);
}

/** `x-tenant-key` → `x_tenant_key`: what a CGI-style upstream reads as the same variable. */
const underscored = (name: string) => name.replace(/-/g, "_");

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-cred-headers-"));
  pki = await ensureDevPki({ dir, svids: [], tokens: [] });
  assertKey = await makeKey("workloads-1");
  writeFileSync(join(dir, "assert-jwks.json"), JSON.stringify({ keys: [assertKey.publicJwk] }));
  writeFileSync(join(dir, "keys.yaml"), `keys:\n  - hash: ${hashSha256(API_KEY)}\n    subject: svc:crm\n`);
  writeFileSync(join(dir, "psk.yaml"), `secrets:\n  - id: door-7\n    hash: ${hashSha256(PSK)}\n`);
  upstream = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"upstream":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  logFile = join(dir, "decisions.log");
  const yaml = `pdp: { policies: ., entrypoint: portcullis/authz/decision }
decision_logs:
  file: decisions.log
  batch: { max_delay_ms: 60000 }
segments:
${segmentYaml(DEFAULTS)}${segmentYaml(CUSTOM)}`;
  writeFileSync(join(dir, "gateway.yaml"), yaml);
  const config = loadConfig(join(dir, "gateway.yaml"));
  const pdp = regoPdp(compile({ modules: [{ file: "p.rego", source: POLICY }] }), config.pdp.entrypoint);
  gw = await startGateway(config, pdp, (e) => process.env.GW_DEBUG && console.log(e));
});

afterAll(async () => {
  await gw?.close();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("gateway-only credential headers, default and custom names alike", () => {
  it.each([DEFAULTS, CUSTOM])(
    "adversarial: $segment ($apiKey, $psk): masked for the policy and the decision log, never forwarded",
    async (n) => {
      const port = gw.segments.find((s) => s.segment.name === n.segment)!.port;
      const jwt = await assertion();
      // A second copy under the underscore spelling: not what the authenticator reads, but a CGI-style
      // upstream would, so it is a credential all the same.
      const shadow = `shadow_${randomBytes(16).toString("base64url")}`;
      const secrets = [API_KEY, PSK, jwt, shadow];
      const before = seen.length;
      const r = await call(port, {
        [n.apiKey]: API_KEY,
        [n.psk]: PSK,
        "x-jwt-assertion": jwt,
        [underscored(n.apiKey)]: shadow,
        "x-trace-note": "visible",
      });
      expect(r.status, r.body).toBe(200);
      expect(seen.length - before).toBe(1);
      const up = seen.at(-1)!;
      expect(up["x-test-methods"]).toBe("api_key,psk,jwt_assertion");

      // What the policy was given.
      const policySaw = JSON.parse(String(up["x-test-policy-headers"])) as Record<string, string>;
      expect(policySaw).toMatchObject({
        [n.apiKey]: MASKED,
        [n.psk]: MASKED,
        "x-jwt-assertion": MASKED,
        [underscored(n.apiKey)]: MASKED,
        "x-trace-note": "visible",
      });

      // What the upstream received: none of the credential headers, in any spelling, and no secret at all.
      const forwarded = Object.keys(up).map(underscored);
      for (const name of [n.apiKey, n.psk, "x-jwt-assertion"]) {
        expect(forwarded).not.toContain(underscored(name));
      }
      expect(up["x-trace-note"]).toBe("visible");
      const upstreamText = JSON.stringify(up);
      for (const s of secrets) expect(upstreamText).not.toContain(s);

      // What the decision log holds for this request.
      const event = (await decisionEvents()).at(-1)!;
      expect(event.pep).toMatchObject({ segment: n.segment, allowed: true });
      const logged = (event.input as { request: { headers: Record<string, string> } }).request.headers;
      expect(logged).toEqual(policySaw);
      const logText = readFileSync(logFile, "utf8");
      for (const s of secrets) expect(logText).not.toContain(s);
    },
  );
});

describe("segmentCredentialHeaders", () => {
  it("is one list from the segment config: authenticator headers as configured, attestation headers", () => {
    const base = demoSegment(dir, "http://127.0.0.1:1", 0);
    const segment = demoSegment(dir, "http://127.0.0.1:1", 0, {
      authenticators: {
        ...base.authenticators,
        api_key: { header: "X-Tenant-Key", keys_file: "keys.yaml" },
        psk: { header: "x-device-secret", secrets_file: "psk.yaml" },
        jwt_assertion: { issuers: [], audience: [AUDIENCE], algorithms: ["ES256"], clock_skew_s: 30 },
      },
      attestation: {
        ...demoAttestation(dir, "http://127.0.0.1:1"),
        result_header: "x-agent-ear",
        evidence_header: "attestation-evidence",
      },
    });
    const list = segmentCredentialHeaders(segment);
    expect([...list].sort()).toEqual(
      [
        "x-tenant-key",
        "x-device-secret",
        "x-jwt-assertion",
        "attestation-result",
        "attestation-evidence",
        "x-agent-ear",
      ].sort(),
    );
    expect(Object.isFrozen(list)).toBe(true);
  });

  it("a segment with only bearer still lists the default attestation headers, and nothing else", () => {
    const list = segmentCredentialHeaders(demoSegment(dir, "http://127.0.0.1:1", 0));
    expect([...list].sort()).toEqual(["attestation-evidence", "attestation-result"]);
  });
});
