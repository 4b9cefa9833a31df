// Decision logs through a running gateway (startGateway, as `portcullis serve` runs it): real TLS with
// the dev PKI, a real JWKS file, a real upstream, the real Rego engine and decision cache, events in a
// real file. One event per policy decision, allowed or denied, cache hits marked, the token masked.
import { mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../../../gateway/config/index.js";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startGateway, startSegment, type RunningGateway } from "../../../gateway/server/serve.js";
import {
  ConsoleSink,
  DECISION_LOG_DEFAULTS,
  DecisionLogger,
  PepDecisionLog,
  type DecisionLogEvent,
} from "../../../pdp/decision_log/index.js";
import { compile } from "../../../pdp/rego/index.js";
import { HeldStream, RFC3339_NANO, UUID } from "./helpers.js";

const PLANNER = "spiffe://demo.portcullis/agent/planner";

const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied", "reasons": ["default deny"]}
decision := {"allow": true, "reasons": ["planner may read"]} if {
  input.request.path == "/ok"
  input.authn.subject == "${PLANNER}"
}
`;

let dir: string;
let pki: DevPki;
let upstream: Server;
let gw: RunningGateway;
let logFile: string;
let token: string;
let upstreamUrl: string;

function call(port: number, path: string, bearer?: string): Promise<number> {
  const svid = pki.svids.agent;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        ca: pki.ca.certPem,
        cert: svid.certPem,
        key: svid.keyPem,
        headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
        agent: false,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Events in the log file, after the logger wrote what it has. */
async function events(file = logFile): Promise<DecisionLogEvent[]> {
  await gw.decisionLog!.flush();
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as DecisionLogEvent);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-dl-gw-"));
  pki = await ensureDevPki({ dir, svids: [{ name: "agent", spiffeId: PLANNER }], tokens: [] });
  token = await signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: "payments",
    sub: PLANNER,
    scope: "payments:read",
  });
  upstream = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"upstream":true}');
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  logFile = join(dir, "decisions.log");
  const config: Config = {
    file: "(test)",
    pdp: { policies: dir, entrypoint: "portcullis/authz/decision" },
    cache: { ttl_s: 60, max_entries: 100 },
    segments: [demoSegment(dir, upstreamUrl, 0)],
    decision_logs: {
      console: false,
      file: { path: logFile, max_bytes: 0, max_files: 0 },
      mask: [{ op: "remove", path: "/input/token/claims/jti" }],
      labels: {},
      max_buffer_events: 100,
      max_buffer_bytes: DECISION_LOG_DEFAULTS.max_buffer_bytes,
      batch: { max_events: 100, max_delay_ms: 60_000, max_bytes: DECISION_LOG_DEFAULTS.max_bytes },
    },
  };
  const pdp = regoPdp(
    compile({ modules: [{ file: "p.rego", source: POLICY }] }),
    "portcullis/authz/decision",
    {
      revision: "rev-test-1",
    },
  );
  gw = await startGateway(config, pdp, () => undefined);
});

afterAll(async () => {
  await gw.close();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe("decision logs from the gateway", () => {
  it("logs one event per decision: allowed (miss, then cache hit) and denied; none without a decision", async () => {
    const port = gw.segments[0]!.port;
    expect(await call(port, "/ok", token)).toBe(200);
    expect(await call(port, "/ok", token)).toBe(200);
    expect(await call(port, "/admin", token)).toBe(403);
    // No credentials: authentication fails before any policy decision.
    expect(await call(port, "/ok")).toBe(401);

    const all = await events();
    expect(all).toHaveLength(3);
    const [miss, hit, deny] = all as [DecisionLogEvent, DecisionLogEvent, DecisionLogEvent];
    for (const e of all) {
      expect(e.decision_id).toMatch(UUID);
      expect(e.path).toBe("portcullis/authz/decision");
      expect(e.bundles).toEqual({ portcullis: { revision: "rev-test-1" } });
      expect(e.labels).toMatchObject({ app: "portcullis" });
      expect(e.labels.id).toMatch(UUID);
      expect(e.timestamp).toMatch(RFC3339_NANO);
      expect(e.requested_by).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(typeof e.metrics!.timer_pep_decision_ns).toBe("number");
      // The token is nowhere in the event: the header is masked, the claims are decoded facts.
      const input = e.input as {
        segment: string;
        request: { headers: Record<string, string> };
        token: { claims: Record<string, unknown> };
      };
      expect(input.segment).toBe("payments");
      expect(input.request.headers.authorization).toBe("Bearer [masked]");
      expect(input.token.claims.sub).toBe(PLANNER);
      expect(input.token.claims).not.toHaveProperty("jti");
      expect(e.erased).toEqual(["/input/token/claims/jti"]);
      expect(JSON.stringify(e)).not.toContain(token);
    }
    expect(new Set(all.map((e) => e.decision_id)).size).toBe(3);

    expect(miss.result).toEqual({ allow: true, reasons: ["planner may read"] });
    expect(miss.reasons).toEqual(["planner may read"]);
    expect(miss.pep).toEqual({ segment: "payments", allowed: true, cache: "miss" });
    expect(hit.result).toEqual(miss.result);
    expect(hit.pep).toEqual({ segment: "payments", allowed: true, cache: "hit" });
    expect(deny.result).toMatchObject({ allow: false, error: "access_denied" });
    expect(deny.reasons).toEqual(["default deny"]);
    expect(deny.pep).toEqual({
      segment: "payments",
      allowed: false,
      status: 403,
      cache: "miss",
      reason: "deny: default deny",
    });
  });

  it("reopens its file on SIGHUP's reload (after logrotate moved it)", async () => {
    const port = gw.segments[0]!.port;
    await gw.decisionLog!.flush();
    renameSync(logFile, `${logFile}.1`);
    gw.reload("signal");
    expect(await call(port, "/admin", token)).toBe(403);
    const fresh = await events();
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.pep).toMatchObject({ allowed: false, status: 403 });
    expect((await events(`${logFile}.1`)).length).toBeGreaterThanOrEqual(3);
  });

  it("logs a PDP failure (a 503 to the caller) with the error, through a segment of one's own", async () => {
    const out = new HeldStream();
    const logger = new DecisionLogger({
      labels: { id: "t", version: "v" },
      sinks: [new ConsoleSink(out)],
      maxBufferEvents: 10,
      batch: { max_events: 10, max_delay_ms: 60_000, max_bytes: 1 << 20 },
    });
    const failing: Pdp = {
      revision: "rev-x",
      entrypoint: "portcullis/authz/decision",
      decide: () => Promise.reject(new Error("remote PDP unreachable")),
    };
    const pep = new PepDecisionLog(logger);
    const seg = await startSegment(demoSegment(dir, upstreamUrl, 0), pep.wrap(failing), () => undefined, {
      onDecision: pep.hook,
    });
    try {
      expect(await call(seg.port, "/ok", token)).toBe(503);
      await logger.flush();
      const [e, ...rest] = out.events();
      expect(rest).toHaveLength(0);
      expect(e).not.toHaveProperty("result");
      expect(e!.error).toEqual({ code: "pdp_error", message: "remote PDP unreachable" });
      // No cache in front of this PDP: the event makes no claim about one.
      expect(e!.pep).toEqual({
        segment: "payments",
        allowed: false,
        status: 503,
        reason: "pdp error: remote PDP unreachable",
      });
    } finally {
      await new Promise((r) => seg.server.close(r));
      await logger.close(100);
    }
  });
});
