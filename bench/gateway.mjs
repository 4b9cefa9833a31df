// Throughput and latency of the gateway against a plain Express + http-proxy-middleware TLS proxy
// (npm run bench:gateway). One run, one load client (autocannon in-process, keep-alive connections,
// loopback only), every server in its own child process:
//   1. the upstream alone (node:http, small JSON);
//   2. Express 5 + http-proxy-middleware 3.0 over TLS (dev PKI server cert, keep-alive agent) — baseline;
//   3. the gateway: mTLS SVID + ES256 bearer JWT + the shipped policy, one token reused on every request;
//   4. the same with a fresh token on every request (pre-minted, rotated through, never repeated unless
//      the run needs more than were minted — the output says so);
//   5. p99 at about half of each one's max rate (autocannon overallRate), gateway vs baseline.
// Latencies are recorded per response as floats (autocannon's own histogram rounds to whole ms).
// Env: BENCH_DURATION_S (default 5), BENCH_WARMUP_S (1), BENCH_CONNECTIONS (32).
import { fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { Agent, createServer as createHttpServer } from "node:http";
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const self = fileURLToPath(import.meta.url);
const root = join(dirname(self), "..");
const dist = (p) => join(root, "dist", p);

const PATH = "/payments/balance";
const SPIFFE_ID = "spiffe://demo.portcullis/agent/planner";
const BODY = JSON.stringify({ ok: true, service: "payments", balance: 1234, currency: "EUR" });

// ---------------------------------------------------------------- servers (child processes)

async function child(which, dir, upstream) {
  const listen = (server) =>
    new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
  let port;
  if (which === "upstream") {
    const server = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(BODY) });
      res.end(BODY);
    });
    server.keepAliveTimeout = 60_000;
    port = await listen(server);
  } else if (which === "baseline") {
    const { default: express } = await import("express");
    const { createProxyMiddleware } = await import("http-proxy-middleware");
    const app = express();
    app.use(
      createProxyMiddleware({ target: upstream, agent: new Agent({ keepAlive: true, maxSockets: 256 }) }),
    );
    const server = createHttpsServer(
      {
        cert: readFileSync(join(dir, "gateway.pem")),
        key: readFileSync(join(dir, "gateway.key")),
        minVersion: "TLSv1.3",
      },
      app,
    );
    server.keepAliveTimeout = 60_000;
    port = await listen(server);
  } else if (which === "gateway") {
    const { loadPaths } = await import(dist("cli/load.js"));
    const { compile } = await import(dist("pdp/rego/index.js"));
    const { regoPdp } = await import(dist("gateway/server/enforce.js"));
    const { startSegment } = await import(dist("gateway/server/serve.js"));
    const { demoSegment } = await import(dist("gateway/server/demo.js"));
    const loaded = loadPaths([join(root, "policies")]);
    // As `portcullis demo` does: attestation is not wired into the gateway yet, so an AI agent would be
    // denied on the sensitive payments segment; the rest of the shipped policy is unchanged.
    const segments = loaded.data.portcullis.segments;
    segments.payments = { ...segments.payments, sensitive: false };
    const pdp = regoPdp(compile({ modules: loaded.modules, data: loaded.data }), "portcullis/authz/decision");
    const running = await startSegment(
      demoSegment(dir, upstream),
      pdp,
      (e) => process.env.GW_DEBUG && console.error(JSON.stringify(e)),
    );
    running.server.keepAliveTimeout = 60_000;
    port = running.port;
  } else {
    throw new Error(`unknown BENCH_ROLE ${which}`);
  }
  process.send({ port });
  process.on("disconnect", () => process.exit(0));
}

function spawn(which, env) {
  const proc = fork(self, [], { env: { ...process.env, BENCH_ROLE: which, ...env }, stdio: "inherit" });
  return new Promise((resolve, reject) => {
    proc.once("error", reject);
    proc.once("exit", (code) => reject(new Error(`${which} exited with ${code}`)));
    proc.once("message", (m) => resolve({ proc, port: m.port }));
  });
}

// ---------------------------------------------------------------- load client

const DURATION = Number(process.env.BENCH_DURATION_S ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP_S ?? 1);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);

async function load(autocannon, o, duration) {
  const lat = [];
  let ok = 0;
  let bad = 0;
  const t0 = performance.now();
  const inst = autocannon({
    url: o.url,
    connections: CONNECTIONS,
    pipelining: 1,
    duration,
    ...(o.tlsOptions ? { tlsOptions: o.tlsOptions } : {}),
    ...(o.overallRate ? { overallRate: o.overallRate } : {}),
    requests: [
      {
        method: "GET",
        path: PATH,
        headers: o.headers ?? {},
        ...(o.setupRequest ? { setupRequest: o.setupRequest } : {}),
      },
    ],
  });
  inst.on("response", (_client, status, _bytes, ms) => {
    if (status >= 200 && status < 300) {
      ok++;
      lat.push(ms);
    } else bad++;
  });
  const result = await inst;
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
  return {
    rps: ok / seconds,
    p50: q(0.5),
    p99: q(0.99),
    ok,
    bad,
    errors: result.errors + result.timeouts,
  };
}

async function measure(autocannon, o) {
  if (WARMUP > 0) await load(autocannon, o, WARMUP);
  const r = await load(autocannon, o, DURATION);
  if (r.bad || r.errors || r.ok === 0) {
    throw new Error(`${o.name}: ${r.bad} non-2xx responses, ${r.errors} errors, ${r.ok} 2xx`);
  }
  return r;
}

// autocannon's overallRate/connectionRate is a per-connection budget per wall-clock second, reset by a
// timer: every connection fires its budget back to back at the top of each second, so a "50 %" run is a
// saturated burst followed by idle time. This open-loop pacer spreads the same rate evenly (one request
// every 1/rate s over CONNECTIONS keep-alive TLS sockets) and times each request from when it was due,
// so queueing behind a busy socket counts (no coordinated omission). Used for both sides of config 5.
function paced(o, rate, duration) {
  const url = new URL(o.url);
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: CONNECTIONS, ...o.tlsOptions });
  const lat = [];
  let ok = 0;
  let bad = 0;
  let errors = 0;
  let sent = 0;
  let done = 0;
  const gap = 1000 / rate;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const finish = () => {
      agent.destroy();
      lat.sort((a, b) => a - b);
      const q = (p) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : NaN);
      resolve({ rps: ok / duration, p50: q(0.5), p99: q(0.99), ok, bad, errors });
    };
    const settle = () => {
      if (++done === sent && performance.now() - t0 >= duration * 1000) finish();
    };
    const fire = (due) => {
      const req = httpsRequest(
        { host: url.hostname, port: url.port, path: PATH, agent, headers: o.headers ?? {} },
        (res) => {
          res.resume();
          res.on("end", () => {
            if (res.statusCode >= 200 && res.statusCode < 300) {
              ok++;
              lat.push(performance.now() - due);
            } else bad++;
            settle();
          });
        },
      );
      req.on("error", () => (errors++, settle()));
      req.end();
    };
    const timer = setInterval(() => {
      const now = performance.now() - t0;
      if (now >= duration * 1000) {
        clearInterval(timer);
        if (done === sent) finish();
        return;
      }
      while (sent * gap <= now) fire(t0 + sent++ * gap);
    }, 1);
  });
}

async function measurePaced(o, rate) {
  if (WARMUP > 0) await paced(o, rate, WARMUP);
  const r = await paced(o, rate, DURATION);
  if (r.bad || r.errors || r.ok === 0) {
    throw new Error(`${o.name}: ${r.bad} non-2xx responses, ${r.errors} errors, ${r.ok} 2xx`);
  }
  return r;
}

// ---------------------------------------------------------------- main

async function main() {
  const started = performance.now();
  const { default: autocannon } = await import("autocannon");
  const { ensureDevPki, signAccessToken, DEV_AUDIENCE, DEV_ISSUER } = await import(
    dist("gateway/pki/index.js")
  );

  const dir = mkdtempSync(join(tmpdir(), "portcullis-bench-gw-"));
  const children = [];
  try {
    const pki = await ensureDevPki({ dir, svids: [{ name: "agent", spiffeId: SPIFFE_ID }], tokens: [] });
    const mint = () =>
      signAccessToken(pki.issuer, {
        iss: DEV_ISSUER,
        aud: DEV_AUDIENCE,
        sub: SPIFFE_ID,
        scope: "payments:read",
      });

    const up = await spawn("upstream", { BENCH_DIR: dir });
    children.push(up.proc);
    const upstream = `http://127.0.0.1:${up.port}`;
    const base = await spawn("baseline", { BENCH_DIR: dir, BENCH_UPSTREAM: upstream });
    children.push(base.proc);
    const gw = await spawn("gateway", { BENCH_DIR: dir, BENCH_UPSTREAM: upstream });
    children.push(gw.proc);

    const tls = { ca: pki.ca.certPem };
    const mtls = { ca: pki.ca.certPem, cert: pki.svids.agent.certPem, key: pki.svids.agent.keyPem };
    const reused = await mint();
    const gwUrl = `https://127.0.0.1:${gw.port}`;
    const baseUrl = `https://127.0.0.1:${base.port}`;

    const rows = [];
    const row = (name, r) => (rows.push({ name, ...r }), r);

    const r1 = row(
      "1 upstream alone (node:http, HTTP)",
      await measure(autocannon, { name: "upstream", url: upstream }),
    );
    const r2 = row(
      "2 Express 5 + hpm 3.0, TLS (baseline)",
      await measure(autocannon, { name: "baseline", url: baseUrl, tlsOptions: tls }),
    );
    const gwReused = {
      name: "gateway",
      url: gwUrl,
      tlsOptions: mtls,
      headers: { authorization: `Bearer ${reused}` },
    };
    const r3 = row("3 gateway, mTLS + JWT, same token", await measure(autocannon, gwReused));

    // Enough fresh tokens for warm-up + run at config 3's rate (an upper bound), +25 %.
    const need = Math.ceil(r3.rps * (WARMUP + DURATION) * 1.25) + CONNECTIONS;
    const tm0 = performance.now();
    const tokens = [];
    for (let i = 0; i < need; i += 256) {
      tokens.push(...(await Promise.all(Array.from({ length: Math.min(256, need - i) }, mint))));
    }
    const mintMs = performance.now() - tm0;
    let next = 0;
    const r4 = row(
      "4 gateway, mTLS + JWT, fresh token",
      await measure(autocannon, {
        name: "gateway-fresh",
        url: gwUrl,
        tlsOptions: mtls,
        setupRequest: (req) => {
          req.headers = { ...req.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` };
          return req;
        },
      }),
    );
    const freshUsed = next;

    // Half load: each at ~50 % of its own max rate measured above.
    const halfBase = Math.max(1, Math.round(r2.rps / 2));
    const halfGw = Math.max(1, Math.round(r3.rps / 2));
    const h2 = row(
      `5a baseline, autocannon overallRate ${halfBase} req/s (~50 %)`,
      await load(autocannon, { url: baseUrl, tlsOptions: tls, overallRate: halfBase }, DURATION),
    );
    const h3 = row(
      `5b gateway, same token, autocannon overallRate ${halfGw} req/s (~50 %)`,
      await load(autocannon, { ...gwReused, overallRate: halfGw }, DURATION),
    );
    const p2 = row(
      `5c baseline, evenly paced ${halfBase} req/s (~50 %)`,
      await measurePaced({ name: "baseline-paced", url: baseUrl, tlsOptions: tls }, halfBase),
    );
    const p3 = row(
      `5d gateway, same token, evenly paced ${halfGw} req/s (~50 %)`,
      await measurePaced({ ...gwReused, name: "gateway-paced" }, halfGw),
    );

    // ---- report
    const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : "—");
    console.log(
      `\nportcullis bench:gateway — node ${process.version}, ${CONNECTIONS} keep-alive connections, ` +
        `${WARMUP} s warm-up + ${DURATION} s per config, GET ${PATH}, loopback, client and servers share the CPUs\n`,
    );
    console.log("| config | req/s | p50 ms | p99 ms | ÷ upstream | ÷ baseline (2) |");
    console.log("|---|--:|--:|--:|--:|--:|");
    for (const r of rows) {
      console.log(
        `| ${r.name} | ${Math.round(r.rps)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.rps / r1.rps)} | ${f(r.rps / r2.rps)} |`,
      );
    }
    const ratioReused = r3.rps / r2.rps;
    const ratioFresh = r4.rps / r2.rps;
    const added = h3.p99 - h2.p99;
    const addedPaced = p3.p99 - p2.p99;
    const verdict = (ok) => (ok ? "MET" : "NOT MET");
    console.log(
      `\nfresh tokens: ${tokens.length} minted in ${f(mintMs / 1000, 1)} s, ${freshUsed} used` +
        (freshUsed > tokens.length
          ? " (WRAPPED: some were reused, so some hit the cache)"
          : " (none reused)"),
    );
    console.log("\nGoals (issue #4), against config 2:");
    console.log(
      `  reused token  ≥ 80 %:           ${f(ratioReused * 100, 0)} %  ${verdict(ratioReused >= 0.8)}`,
    );
    console.log(
      `  fresh tokens  ≥ 60 %:           ${f(ratioFresh * 100, 0)} %  ${verdict(ratioFresh >= 0.6)}`,
    );
    console.log(
      `  p99 added at half load ≤ 2 ms: ${f(added)} ms (${f(h3.p99)} − ${f(h2.p99)}, autocannon bursts)  ` +
        verdict(added <= 2),
    );
    console.log(
      `                                 ${f(addedPaced)} ms (${f(p3.p99)} − ${f(p2.p99)}, evenly paced)  ` +
        // A paced median above 5 ms means the open-loop client (or the box) fell behind the schedule:
        // then the p99 measures the queue in the client, not the proxy.
        (Math.max(p2.p50, p3.p50) > 5
          ? `INVALID (paced p50 ${f(p2.p50)} / ${f(p3.p50)} ms: the pacer fell behind)`
          : verdict(addedPaced <= 2)),
    );
    console.log(`\ntotal ${f((performance.now() - started) / 1000, 1)} s`);
  } finally {
    for (const c of children) c.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Last, so that every module-level constant above is initialised.
const role = process.env.BENCH_ROLE;
if (role) await child(role, process.env.BENCH_DIR, process.env.BENCH_UPSTREAM);
else await main();
