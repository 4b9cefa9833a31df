// `portcullis demo` (what `npm start` runs): a dev PKI, the reference attestation verifier, a demo
// upstream and the `payments` segment with mTLS + bearer + attestation under the shipped policy, plus
// curl commands that show an allow, an allow with attestation, denies without attestation and for a
// missing scope, and a 401. `--check` runs the same requests once and fails when one answers otherwise.
import { writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { request } from "node:https";
import type { AddressInfo } from "node:net";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { EVIDENCE_MEDIA_TYPE, loadPrivateKey, VerifierClient } from "../attestation/index.js";
import {
  DEMO_CONFIG_HASH,
  DEMO_IMAGE_DIGEST,
  DEMO_RUNTIME,
  loadVerifierConfig,
  signEvidence,
  startVerifier,
  writeDevVerifier,
  type Measurements,
  type RunningVerifier,
} from "../attestation/verifier/index.js";
import { DEFAULTS, type Config } from "../gateway/config/index.js";
import { demoAttestation, demoSegment } from "../gateway/server/demo.js";
import { regoPdp } from "../gateway/server/enforce.js";
import { startGateway } from "../gateway/server/serve.js";
import {
  defaultDevIdentities,
  DEV_DIR,
  DEV_TRUST_DOMAIN,
  ensureDevPki,
  type DevPki,
} from "../gateway/pki/index.js";
import { compile } from "../pdp/rego/index.js";
import type { ExitCode, IO } from "./io.js";
import { loadPaths } from "./load.js";
import { packageRoot } from "./paths.js";
import { untilSignal } from "./signals.js";

export const demoUsage = `Usage: portcullis demo [--dir DIR] [--port N] [--upstream-port N] [--verifier-port N] [--check]

What \`npm start\` runs: writes a dev PKI and a reference verifier's keys into DIR
(default ${DEV_DIR}/), starts the verifier (127.0.0.1:8710), a demo upstream
(127.0.0.1:9001) and the segment "payments" on https://127.0.0.1:8443 (mTLS +
bearer + attestation, shipped policy), writes agent.ear (a passport the verifier
issued for the demo agent), prints curl commands and runs until Ctrl-C.
--check sends those requests once and exits, non-zero when one is not answered
as printed (for tests and CI); its verifier takes a free port unless
--verifier-port is given.
`;

export const ABOUT = `Portcullis — a zero-trust policy enforcement point (PEP) and policy decision
point (PDP) for traffic between AI agents, tools and services.
`;

/** The demo agent's measurements, which the demo verifier's reference values approve. */
const DEMO_MEASUREMENTS: Measurements = {
  image_digest: DEMO_IMAGE_DIGEST,
  config_hash: DEMO_CONFIG_HASH,
  runtime: { ...DEMO_RUNTIME },
};

/** A passport for the agent: evidence over the verifier's session nonce, appraised into a signed EAR. */
async function issuePassport(dir: string, verifierUrl: string): Promise<string> {
  const key = loadPrivateKey(join(dir, "agent.key"));
  const client = new VerifierClient({ url: verifierUrl, media_type: EVIDENCE_MEDIA_TYPE, timeout_ms: 5000 });
  try {
    const out = await client.appraise((nonce) =>
      signEvidence(key, { nonce, measurements: DEMO_MEASUREMENTS }),
    );
    if (!out.ok) throw new Error(`demo verifier ${out.failure.kind}: ${out.failure.message}`);
    return out.ear;
  } finally {
    client.close();
  }
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request as the printed curl commands send it: the agent's certificate, optionally a token. */
function demoCall(
  pki: DevPki,
  port: number,
  path: string,
  o: { method?: string; token?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const agent = pki.svids.agent!;
  return new Promise((ok, fail) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: o.method ?? "GET",
        ca: pki.ca.certPem,
        cert: agent.certPem,
        key: agent.keyPem,
        headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers },
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("error", fail);
    req.end();
  });
}

interface DemoCheck {
  name: string;
  status: number;
  /** The `error` of the JSON body, for a deny. */
  error?: string;
  /** Text the gateway's deny log line must contain (the reason the caller is not told). */
  reason?: string;
  send(): Promise<Reply>;
}

/** Sends every check; prints one line each to stdout; true when all answered as expected. */
async function runChecks(checks: DemoCheck[], events: Record<string, unknown>[], io: IO): Promise<boolean> {
  let ok = true;
  for (const c of checks) {
    const from = events.length;
    let r: Reply | undefined;
    let problem: string | undefined;
    try {
      r = await c.send();
    } catch (e) {
      problem = (e as Error).message;
    }
    const deny = events.slice(from).find((e) => e.event === "deny");
    const reason = typeof deny?.reason === "string" ? deny.reason : undefined;
    let error: unknown;
    try {
      error = r && r.status >= 400 ? (JSON.parse(r.body) as { error?: unknown }).error : undefined;
    } catch {
      error = undefined;
    }
    if (r && r.status !== c.status) problem = `got ${r.status}, expected ${c.status}`;
    else if (r && c.error !== undefined && error !== c.error)
      problem = `error ${String(error)}, expected ${c.error}`;
    else if (r && c.reason !== undefined && !reason?.includes(c.reason)) {
      problem = `deny reason ${JSON.stringify(reason)} lacks ${JSON.stringify(c.reason)}`;
    }
    if (problem !== undefined) ok = false;
    const why = reason !== undefined ? ` (${reason})` : "";
    io.out(
      `check: ${problem === undefined ? "ok  " : "FAIL"} ${r?.status ?? "---"} ${c.name}${why}${problem ? `: ${problem}` : ""}\n`,
    );
  }
  return ok;
}

function startUpstream(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        upstream: "demo",
        path: req.url,
        subject: req.headers["x-portcullis-subject"],
        caller_type: req.headers["x-portcullis-caller-type"],
      }) + "\n",
    );
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => ok(server));
  });
}

export async function runDemo(argv: string[], io: IO): Promise<ExitCode> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: "string" },
      port: { type: "string" },
      "upstream-port": { type: "string" },
      "verifier-port": { type: "string" },
      check: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.out(demoUsage);
    return 0;
  }
  const dir = resolve(values.dir ?? DEV_DIR);
  const ids = defaultDevIdentities();
  // agent-read.jwt: the same agent with payments:read only, for the missing-scope deny.
  const pki = await ensureDevPki({
    dir,
    svids: ids.svids,
    tokens: [...ids.tokens, { ...ids.tokens[0]!, name: "agent-read", scope: "payments:read" }],
  });
  // --check keeps the logs and shows them only when a check fails (its callers expect a quiet stderr).
  const events: Record<string, unknown>[] = [];
  const log = (e: Record<string, unknown>) => {
    if (values.check) events.push(e);
    else io.err(JSON.stringify(e) + "\n");
  };

  // The reference verifier, registering the agent's SVID (re-issued above, so written again each start).
  const dev = writeDevVerifier({ dir, attesters: [{ name: "agent", public_key: join(dir, "agent.pem") }] });
  const vconfig = loadVerifierConfig(dev.config);
  const verifierPort = Number(values["verifier-port"] ?? (values.check ? 0 : vconfig.listen.port));
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await c();
  };
  try {
    const verifier: RunningVerifier = await startVerifier(
      { ...vconfig, listen: { ...vconfig.listen, port: verifierPort } },
      (e) => log({ component: "verifier", ...e }),
    );
    closers.push(() => verifier.close());
    const ear = await issuePassport(dir, verifier.url);
    writeFileSync(join(dir, "agent.ear"), ear + "\n", { mode: 0o600 });
    const earExpires = (
      JSON.parse(Buffer.from(ear.split(".")[1]!, "base64url").toString()) as { exp?: number }
    ).exp;

    const upstream = await startUpstream(Number(values["upstream-port"] ?? 9001));
    closers.push(() => new Promise((r) => upstream.close(r)));
    const upstreamPort = (upstream.address() as AddressInfo).port;

    // The shipped policy and data as they are: payments is sensitive, so AI agents need an affirming
    // attestation there (except on the routes that opt out: GET / and /health).
    const loaded = loadPaths([join(packageRoot(), "policies")]);
    const pdp = regoPdp(compile({ modules: loaded.modules, data: loaded.data }), "portcullis/authz/decision");

    const port = Number(values.port ?? 8443);
    const segment = demoSegment(dir, `http://127.0.0.1:${upstreamPort}`, port, {
      attestation: demoAttestation(dir, verifier.url),
    });
    const config: Config = {
      file: "(demo)",
      pdp: { policies: join(packageRoot(), "policies"), entrypoint: DEFAULTS.entrypoint },
      cache: { ttl_s: DEFAULTS.cache_ttl_s, max_entries: DEFAULTS.cache_max_entries },
      segments: [segment],
    };
    const gateway = await startGateway(config, pdp, log);
    closers.push(() => gateway.close());
    const gw = gateway.segments[0]!.port;
    const url = `https://127.0.0.1:${gw}`;
    const d = relative(process.cwd(), pki.dir) || ".";
    const cli = `node ${relative(process.cwd(), join(packageRoot(), "bin", "portcullis.js"))}`;
    const base = `curl --cacert ${d}/ca.pem --cert ${d}/agent.pem --key ${d}/agent.key`;
    const auth = `-H "Authorization: Bearer $(cat ${d}/agent.jwt)"`;
    const passport = `-H "attestation-result: $(cat ${d}/agent.ear)"`;
    const noncePath = segment.attestation!.nonce_path;
    const until = earExpires !== undefined ? new Date(earExpires * 1000).toLocaleTimeString() : "?";
    io.out(`${ABOUT}
Dev PKI in ${d}/ (CA, gateway certificate, agent SVID spiffe://${DEV_TRUST_DOMAIN}/agent/planner, agent.jwt,
agent-read.jwt with payments:read only). Reference verifier on ${verifier.url} (keys: ${d}/verifier.*);
${d}/agent.ear is a passport (EAR) it issued for the agent, valid until ${until}.
Demo upstream on http://127.0.0.1:${upstreamPort}; segment "payments" on ${url} (mTLS + bearer; sensitive:
AI agents need an affirming attestation, except on GET / and /health). Deny reasons are in the log below.

# allowed: an AI agent with its SVID and access token on GET /, which needs no attestation (200)
${base} ${auth} ${url}/

# allowed with attestation: the agent's passport in the attestation-result header (200)
${base} ${auth} ${passport} ${url}/payments/balance

# denied without attestation: 403; the log says "AI agent on a sensitive segment needs an affirming attestation"
${base} ${auth} ${url}/payments/balance

# denied for a missing scope: agent-read.jwt lacks payments:write (403 insufficient_scope, scope="payments:write")
${base} -H "Authorization: Bearer $(cat ${d}/agent-read.jwt)" ${passport} -i -X POST ${url}/payments/x

# no token: 401 with WWW-Authenticate: Bearer realm="payments", resource_metadata=…
${base} -i ${url}/

# a fresh passport (agent.ear expires after 5 minutes)
${cli} attest --key ${d}/agent.key --demo --verifier ${verifier.url} > ${d}/agent.ear

# background check: a nonce from the gateway (mTLS only), evidence over it; the gateway asks the verifier
NONCE=$(${base} -s ${url}${noncePath} | node -pe 'JSON.parse(require("fs").readFileSync(0)).nonce')
${base} ${auth} -H "attestation-evidence: $(${cli} attest --key ${d}/agent.key --demo --nonce "$NONCE")" ${url}/payments/balance

# protected resource metadata (RFC 9728)
${base} ${url}/.well-known/oauth-protected-resource

${values.check ? "Checking those requests:" : "Press Ctrl-C to stop."}
`);
    if (!values.check) {
      await untilSignal();
      return 0;
    }
    const token = pki.tokens.agent!;
    const agentKey = loadPrivateKey(join(dir, "agent.key"));
    const checks: DemoCheck[] = [
      { name: "GET / (no attestation needed)", status: 200, send: () => demoCall(pki, gw, "/", { token }) },
      {
        name: "GET /payments/balance with the passport",
        status: 200,
        send: () => demoCall(pki, gw, "/payments/balance", { token, headers: { "attestation-result": ear } }),
      },
      {
        name: "GET /payments/balance without attestation",
        status: 403,
        error: "access_denied",
        reason: "needs an affirming attestation",
        send: () => demoCall(pki, gw, "/payments/balance", { token }),
      },
      {
        name: "POST /payments/x with agent-read.jwt and the passport",
        status: 403,
        error: "insufficient_scope",
        reason: 'missing scope "payments:write"',
        send: () =>
          demoCall(pki, gw, "/payments/x", {
            method: "POST",
            token: pki.tokens["agent-read"]!,
            headers: { "attestation-result": ear },
          }),
      },
      { name: "GET / without a token", status: 401, send: () => demoCall(pki, gw, "/") },
      {
        name: "GET /payments/balance with evidence over a gateway nonce (background check)",
        status: 200,
        send: async () => {
          const n = await demoCall(pki, gw, noncePath);
          const { nonce } = JSON.parse(n.body) as { nonce: string };
          const evidence = await signEvidence(agentKey, { nonce, measurements: DEMO_MEASUREMENTS });
          return demoCall(pki, gw, "/payments/balance", {
            token,
            headers: { "attestation-evidence": evidence },
          });
        },
      },
    ];
    if (await runChecks(checks, events, io)) return 0;
    io.err(events.map((e) => JSON.stringify(e) + "\n").join(""));
    return 1;
  } finally {
    await closeAll();
  }
}
