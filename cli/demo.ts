// `portcullis demo` (what `npm start` runs): until the gateway lands, it says
// what Portcullis is and evaluates the shipped example policy, if there is one.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { compile, type Value } from "../pdp/rego/index.js";
import { formatErrors } from "./errors.js";
import { evaluate, formatJSON } from "./eval.js";
import { loadPaths } from "./load.js";
import type { ExitCode, IO } from "./io.js";
import { packageRoot } from "./paths.js";

export const demoUsage = `Usage: portcullis demo

What \`npm start\` runs. Prints what Portcullis is and evaluates the shipped
example policy (policies/) on a sample request, when policies are present.
`;

const ABOUT = `Portcullis — a zero-trust policy enforcement point (PEP) and policy decision
point (PDP) for traffic between AI agents, tools and services.

It terminates mTLS at the edge of a network segment, works out who is calling
and what they ask for, asks a Rego policy, and only then forwards the request
with downscoped, short-lived credentials.

Today this package ships its own Rego engine and the CLI:
  portcullis eval -d policies/ 'data.portcullis.authz.decision'
  portcullis test policies/
  portcullis check policies/
  portcullis conformance ../shared/conformance/opa
The gateway demo (mTLS listener, authenticators, decision cache) arrives with
the gateway issue.
`;

/** Sample requests in the policy input shape (design brief, "Policy input document"). */
const AGENT = {
  segment: "payments",
  request: { method: "POST", path: "/mcp", host: "payments.internal", headers: {}, query: {} },
  peer: { spiffe_id: "spiffe://demo.portcullis/agent/planner", trust_domain: "demo.portcullis" },
  token: { type: "jwt", scopes: ["payments:read"], client_id: "planner", sender_constraint: "mtls" },
  caller: { type: "ai-agent", reason: "spiffe path /agent/*" },
  delegation: { chain: [{ sub: "user:alice" }, { sub: "spiffe://demo.portcullis/agent/planner" }], depth: 1 },
  attestation: { status: "affirming", age_seconds: 12 },
  rpc: { protocol: "mcp", method: "tools/call", tool: "get_balance", params: {} },
};

const SAMPLES: { title: string; input: unknown }[] = [
  { title: "an attested AI agent calls an MCP tool with the scope it needs", input: AGENT },
  {
    title: "the same agent without an attestation result",
    input: { ...AGENT, attestation: { status: "none" } },
  },
];

function hasRego(dir: string): boolean {
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith(".")) continue;
      if (e.isFile() && e.name.endsWith(".rego")) return true;
      if (e.isDirectory() && hasRego(join(dir, e.name))) return true;
    }
  } catch {
    /* no such directory */
  }
  return false;
}

export async function runDemo(argv: string[], io: IO): Promise<ExitCode> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(demoUsage);
    return 0;
  }
  io.out(ABOUT);
  const policies = join(packageRoot(), "policies");
  if (!statSync(policies, { throwIfNoEntry: false })?.isDirectory() || !hasRego(policies)) {
    io.out("\n(No example policy is shipped in policies/ yet.)\n");
    return 0;
  }
  const shown = relative(process.cwd(), policies) || ".";
  const query = "data.portcullis.authz.decision";
  let policy;
  try {
    const loaded = loadPaths([policies]);
    policy = compile({ modules: loaded.modules, data: loaded.data as Value });
  } catch (e) {
    io.err(formatErrors(e));
    return 0;
  }
  for (const [i, sample] of SAMPLES.entries()) {
    io.out(`\nRequest ${i + 1}: ${sample.title}\n${JSON.stringify(sample.input)}\n`);
    io.out(`$ portcullis eval -d ${shown} -i request-${i + 1}.json '${query}'\n`);
    try {
      const rows = evaluate(policy, { query, input: sample.input, print: (msg) => io.err(msg + "\n") });
      io.out(formatJSON(rows));
    } catch (e) {
      io.err(formatErrors(e));
    }
  }
  return 0;
}
