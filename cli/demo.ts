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

/** A sample request in the policy input shape (docs: design brief, "Policy input document"). */
const SAMPLE_INPUT = {
  segment: "payments",
  request: { method: "POST", path: "/mcp", host: "payments.internal", headers: {}, query: {} },
  peer: { spiffe_id: "spiffe://corp.example/agent/planner", trust_domain: "corp.example" },
  caller: { type: "ai-agent", reason: "spiffe path /agent/*" },
  attestation: { status: "affirming" },
  rpc: { protocol: "mcp", method: "tools/call", tool: "send_payment", params: {} },
};

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
  io.out(`\nSample request (policy input):\n${JSON.stringify(SAMPLE_INPUT, null, 2)}\n`);
  io.out(`\n$ portcullis eval -d ${shown} -i <sample request> '${query}'\n`);
  try {
    const loaded = loadPaths([policies]);
    const policy = compile({ modules: loaded.modules, data: loaded.data as Value });
    const rows = evaluate(policy, { query, input: SAMPLE_INPUT, print: (msg) => io.err(msg + "\n") });
    io.out(formatJSON(rows));
  } catch (e) {
    io.err(formatErrors(e));
  }
  return 0;
}
