// `portcullis demo` (what `npm start` runs): a dev PKI, a demo upstream and the `payments` segment with
// mTLS + bearer under the shipped policy, plus curl commands that show an allow, a deny and a 401.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULTS, type Config } from "../gateway/config/index.js";
import { demoSegment } from "../gateway/server/demo.js";
import { regoPdp } from "../gateway/server/enforce.js";
import { startGateway } from "../gateway/server/serve.js";
import { DEV_DIR, DEV_TRUST_DOMAIN, ensureDevPki } from "../gateway/pki/index.js";
import { compile } from "../pdp/rego/index.js";
import type { ExitCode, IO } from "./io.js";
import { loadPaths } from "./load.js";
import { packageRoot } from "./paths.js";
import { untilSignal } from "./serve.js";

export const demoUsage = `Usage: portcullis demo [--dir DIR] [--port N] [--upstream-port N] [--check]

What \`npm start\` runs: writes a dev PKI into DIR (default ${DEV_DIR}/), starts a
demo upstream (127.0.0.1:9001) and the segment "payments" on https://127.0.0.1:8443
(mTLS + bearer, shipped policy), prints curl commands and runs until Ctrl-C.
--check stops right after start-up (for tests and CI).
`;

export const ABOUT = `Portcullis — a zero-trust policy enforcement point (PEP) and policy decision
point (PDP) for traffic between AI agents, tools and services.
`;

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
      check: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.out(demoUsage);
    return 0;
  }
  const dir = resolve(values.dir ?? DEV_DIR);
  const pki = await ensureDevPki({ dir });
  const upstream = await startUpstream(Number(values["upstream-port"] ?? 9001));
  const upstreamPort = (upstream.address() as AddressInfo).port;

  const loaded = loadPaths([join(packageRoot(), "policies")]);
  // Attestation verification is not wired into the gateway yet, so every AI agent would be denied on the
  // sensitive payments segment; the demo (and only the demo) marks the segment non-sensitive.
  const segments = (loaded.data.portcullis as { segments: Record<string, Record<string, unknown>> }).segments;
  segments.payments = { ...segments.payments, sensitive: false };
  const pdp = regoPdp(compile({ modules: loaded.modules, data: loaded.data }), "portcullis/authz/decision");

  const port = Number(values.port ?? 8443);
  const segment = demoSegment(dir, `http://127.0.0.1:${upstreamPort}`, port);
  const config: Config = {
    file: "(demo)",
    pdp: { policies: join(packageRoot(), "policies"), entrypoint: DEFAULTS.entrypoint },
    cache: { ttl_s: DEFAULTS.cache_ttl_s, max_entries: DEFAULTS.cache_max_entries },
    segments: [segment],
  };
  let gateway;
  try {
    gateway = await startGateway(config, pdp, (e) => io.err(JSON.stringify(e) + "\n"));
  } catch (e) {
    upstream.close();
    throw e;
  }
  const gw = gateway.segments[0].port;
  const d = relative(process.cwd(), pki.dir) || ".";
  const base = `curl --cacert ${d}/ca.pem --cert ${d}/agent.pem --key ${d}/agent.key`;
  const auth = `-H "Authorization: Bearer $(cat ${d}/agent.jwt)"`;
  io.out(`${ABOUT}
Dev PKI in ${d}/ (CA, gateway certificate, agent SVID spiffe://${DEV_TRUST_DOMAIN}/agent/planner, agent.jwt).
Demo upstream on http://127.0.0.1:${upstreamPort}; segment "payments" on https://127.0.0.1:${gw} (mTLS + bearer).
Note: attestation is not wired in yet, so the demo marks "payments" non-sensitive.

# allowed: an AI agent with its SVID and access token (200, echoed by the upstream)
${base} ${auth} https://127.0.0.1:${gw}/

# denied by the policy: POST /payments/** needs payments:write and the payments-writer role (403)
${base} ${auth} -X POST https://127.0.0.1:${gw}/payments/x

# no token: 401 with WWW-Authenticate: Bearer realm="payments", resource_metadata=…
${base} -i https://127.0.0.1:${gw}/

# protected resource metadata (RFC 9728)
${base} https://127.0.0.1:${gw}/.well-known/oauth-protected-resource

Press Ctrl-C to stop.
`);
  if (!values.check) await untilSignal();
  await gateway.close();
  await new Promise((r) => upstream.close(r));
  return 0;
}
