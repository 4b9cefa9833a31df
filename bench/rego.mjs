// Benchmark of the Rego engine on the shipped policy (npm run bench:rego).
// Reports, per typical input: median and p99 µs per decision, decisions/s on
// one core, and in the same run the cost of JSON.stringify + JSON.parse of the
// same input — the floor any engine that crosses a serialisation boundary
// (opa-wasm, a sidecar) pays per call.
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { compile } = await import(join(root, "dist/pdp/rego/index.js"));

const dir = join(root, "policies/portcullis");
const modules = readdirSync(dir)
  .filter((f) => f.endsWith(".rego") && !f.endsWith("_test.rego"))
  .map((f) => ({ file: join(dir, f), source: readFileSync(join(dir, f), "utf8") }));
const data = { portcullis: JSON.parse(readFileSync(join(dir, "data.json"), "utf8")) };

// `portcullis check` work (parse + compile of the shipped policies), cold process start excluded:
// the first compile in this process, then the mean of 20 more.
const t0 = performance.now();
const policy = compile({ modules, data });
const compileMs = performance.now() - t0;
const t1 = performance.now();
for (let i = 0; i < 20; i++) compile({ modules, data });
const compileWarmMs = (performance.now() - t1) / 20;

const base = {
  segment: "payments",
  request: {
    method: "POST",
    path: "/mcp",
    host: "payments.internal",
    headers: {
      "content-type": "application/json",
      "user-agent": "agent-sdk/1.4",
      accept: "application/json",
    },
    query: {},
    remote_addr: "127.0.0.1",
  },
  peer: {
    spiffe_id: "spiffe://demo.portcullis/agent/planner",
    trust_domain: "demo.portcullis",
    cert: {
      subject: "O=SPIRE",
      issuer: "CN=demo CA",
      not_after: "2026-12-31T00:00:00Z",
      "x5t#S256": "q1w2e3r4t5y6u7i8o9p0",
    },
  },
  token: {
    type: "jwt",
    claims: {
      iss: "https://as.demo",
      sub: "spiffe://demo.portcullis/agent/planner",
      aud: "payments",
      scope: "payments:read payments:write",
      client_id: "planner",
      roles: ["payments-writer"],
    },
    scopes: ["payments:read", "payments:write"],
    client_id: "planner",
    sender_constraint: "mtls",
  },
  authn: { methods: ["mtls", "bearer"], subject: "spiffe://demo.portcullis/agent/planner" },
  caller: { type: "ai-agent", reason: "spiffe path /agent/*" },
  delegation: { chain: [{ sub: "user:alice" }, { sub: "spiffe://demo.portcullis/agent/planner" }], depth: 1 },
  attestation: {
    status: "affirming",
    verifier: "https://verifier.demo",
    age_seconds: 12,
    trust_vector: { executables: 2, configuration: 2 },
  },
  rpc: {
    protocol: "mcp",
    method: "tools/call",
    tool: "send_payment",
    params: { amount: 10, currency: "EUR" },
  },
};

const inputs = {
  "allowed agent": base,
  "denied agent (no attestation, missing scope)": {
    ...base,
    token: { ...base.token, scopes: ["payments:read"] },
    attestation: { status: "none", age_seconds: 0 },
  },
  "human via browser": {
    segment: "public",
    request: {
      method: "GET",
      path: "/docs/index.html",
      host: "www.internal",
      headers: { accept: "text/html", cookie: "[masked]" },
      query: {},
      remote_addr: "127.0.0.1",
    },
    authn: { methods: ["session"], subject: "user:alice" },
    caller: { type: "human-browser", reason: "browser session" },
  },
};

const ITER = Number(process.env.BENCH_ITER ?? 20000);
const WARM = Math.min(5000, ITER);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function measure(fn) {
  for (let i = 0; i < WARM; i++) fn();
  const samples = new Float64Array(ITER);
  const start = process.hrtime.bigint();
  for (let i = 0; i < ITER; i++) {
    const a = process.hrtime.bigint();
    fn();
    samples[i] = Number(process.hrtime.bigint() - a) / 1000;
  }
  const total = Number(process.hrtime.bigint() - start) / 1e9;
  samples.sort();
  return {
    median: samples[Math.floor(ITER / 2)],
    p99: samples[Math.floor(ITER * 0.99)],
    perSec: ITER / total,
  };
}

const fmt = (n) => n.toFixed(2).padStart(8);
console.log(
  `check (parse + compile) of the shipped policy: first ${compileMs.toFixed(1)} ms, warm ${compileWarmMs.toFixed(1)} ms; ${ITER} iterations per round, best of ${ROUNDS} rounds per row`,
);
console.log(
  `${"input".padEnd(46)} ${"bytes".padStart(6)} ${"median µs".padStart(10)} ${"p99 µs".padStart(9)} ${"decisions/s".padStart(12)} ${"JSON floor µs".padStart(14)} ${"ratio".padStart(7)}`,
);
const rows = [];
for (const [name, input] of Object.entries(inputs)) {
  const d = policy.evalPath(["portcullis", "authz", "decision"], { input });
  if (!d || typeof d.allow !== "boolean") throw new Error(`no decision for ${name}`);
  // This machine is shared and noisy: interleave ROUNDS rounds of engine and floor and keep each
  // one's best round (the least disturbed), so the ratio compares like with like.
  let r = null;
  let json = null;
  for (let round = 0; round < ROUNDS; round++) {
    const a = measure(() => policy.evalPath(["portcullis", "authz", "decision"], { input }));
    const b = measure(() => JSON.parse(JSON.stringify(input)));
    if (!r || a.median < r.median) r = a;
    if (!json || b.median < json.median) json = b;
  }
  const bytes = JSON.stringify(input).length;
  rows.push({ name, allow: d.allow, ...r, floor: json.median, ratio: r.median / json.median });
  console.log(
    `${(name + (d.allow ? " [allow]" : " [deny]")).padEnd(46)} ${String(bytes).padStart(6)} ${fmt(r.median).padStart(10)} ${fmt(r.p99).padStart(9)} ${String(Math.round(r.perSec)).padStart(12)} ${fmt(json.median).padStart(14)} ${(r.median / json.median).toFixed(2).padStart(7)}`,
  );
}
if (process.argv.includes("--json")) console.log(JSON.stringify({ compileMs, compileWarmMs, rows }));
