// Certificate reload without restart: cert, key and trust bundles re-read on request, on file change and
// on SIGHUP to `portcullis serve`. Real TLS sockets, real certificates, a real upstream; the CLI tests run
// the built binary (bin/portcullis.js → dist/, built here when missing).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { Agent, request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Segment } from "../../../gateway/config/index.js";
import { createCA, issueServerCert, issueSvid, type Issued } from "../../../gateway/pki/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startSegment, type RunningSegment, type SegmentOptions } from "../../../gateway/server/serve.js";
import { compile } from "../../../pdp/rego/index.js";

const CORP = "corp.example";
const PARTNER = "partner.example";
const POLICY = `package portcullis.authz
import rego.v1
default decision := {"allow": false, "status": 403, "error": "access_denied", "reasons": ["default"]}
decision := {"allow": true} if "mtls" in input.authn.methods
`;

let dir: string;
let upstream: Server;
let upstreamUrl: string;
let pdp: Pdp;
let hits = 0;
const logs: Record<string, unknown>[] = [];
const running: RunningSegment[] = [];

let corpCa: Issued;
let partnerCa1: Issued;
let partnerCa2: Issued;
let serverA: Issued;
let serverB: Issued;
let expiredServer: Issued;
const svids: Record<"corp" | "p1" | "p2", Issued> = {} as never;

const path = (name: string) => join(dir, name);
const write = (name: string, content: string) => writeFileSync(path(name), content);
/** As node:crypto prints it, which is what a TLS client sees and what the reload log reports. */
const serialOf = (i: Issued) => new X509Certificate(i.certPem).serialNumber;

/** The files every test starts from: server cert A, partner bundle = CA1. */
function goodFiles(): void {
  write("gw.pem", serverA.certPem);
  write("gw.key", serverA.keyPem);
  write("corp.pem", corpCa.certPem);
  write("partner.pem", partnerCa1.certPem);
}

async function start(options: SegmentOptions = {}): Promise<RunningSegment> {
  const segment: Segment = demoSegment(dir, upstreamUrl, 0, {
    name: `reload${running.length}`,
    tls: {
      cert: path("gw.pem"),
      key: path("gw.key"),
      client_ca: [],
      client_auth: "require",
      trust_domains: [],
      trust_bundles: { [CORP]: [path("corp.pem")], [PARTNER]: [path("partner.pem")] },
    },
    authentication: "mtls",
    authenticators: {},
    caller_types: [],
  });
  const r = await startSegment(segment, pdp, (e) => logs.push(e), options);
  running.push(r);
  return r;
}

/** The serial number of the server certificate a new handshake gets. */
function serverSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(
      { host: "127.0.0.1", port, ca: corpCa.certPem, cert: svids.corp.certPem, key: svids.corp.keyPem },
      () => {
        resolve(s.getPeerX509Certificate()?.serialNumber ?? "");
        s.destroy();
      },
    );
    s.on("error", reject);
  });
}

type Outcome = { status: number; reused: boolean; serial: string } | "refused";

/** The server certificate each client socket got at its handshake (read then: node frees it later). */
const handshakeSerial = new WeakMap<TLSSocket, string>();

/** One request, on a fresh connection or on `agent`'s kept-alive one. */
function call(port: number, who: keyof typeof svids, agent?: Agent): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/ok",
        ca: corpCa.certPem,
        cert: svids[who].certPem,
        key: svids[who].keyPem,
        agent: agent ?? false,
      },
      (res) => {
        const serial = handshakeSerial.get(res.socket as TLSSocket) ?? "";
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, serial }));
        res.on("error", () => resolve("refused"));
      },
    );
    req.on("socket", (s) => {
      const t = s as TLSSocket;
      if (!handshakeSerial.has(t)) {
        t.once("secureConnect", () => handshakeSerial.set(t, t.getPeerX509Certificate()?.serialNumber ?? ""));
      }
    });
    req.on("error", () => resolve("refused"));
    req.end();
  });
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const events = (name: string) => logs.filter((l) => l.event === name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-reload-"));
  [corpCa, partnerCa1, partnerCa2] = await Promise.all([
    createCA({ trustDomain: CORP }),
    createCA({ trustDomain: PARTNER, commonName: "partner CA 1" }),
    createCA({ trustDomain: PARTNER, commonName: "partner CA 2" }),
  ]);
  const now = Date.now();
  [serverA, serverB, expiredServer, svids.corp, svids.p1, svids.p2] = await Promise.all([
    issueServerCert(corpCa),
    issueServerCert(corpCa),
    issueServerCert(corpCa, {
      notBefore: new Date(now - 2 * 86_400_000),
      notAfter: new Date(now - 86_400_000),
    }),
    issueSvid(corpCa, `spiffe://${CORP}/agent/planner`),
    issueSvid(partnerCa1, `spiffe://${PARTNER}/agent/one`),
    issueSvid(partnerCa2, `spiffe://${PARTNER}/agent/two`),
  ]);
  upstream = createServer((_req, res) => {
    hits += 1;
    res.end("ok");
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  pdp = regoPdp(compile({ modules: [{ file: "reload.rego", source: POLICY }] }), "portcullis/authz/decision");
});

afterEach(async () => {
  for (const r of running.splice(0)) {
    await new Promise((done) => (r.server.close(done), r.server.closeAllConnections()));
  }
  logs.length = 0;
});

afterAll(async () => {
  if (upstream) await new Promise((r) => upstream.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("reload()", () => {
  it("server certificate: new handshakes see the new serial, an open connection keeps its own", async () => {
    goodFiles();
    const gw = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await call(gw.port, "corp", agent)).toEqual({
        status: 200,
        reused: false,
        serial: serialOf(serverA),
      });

      write("gw.pem", serverB.certPem);
      write("gw.key", serverB.keyPem);
      expect(gw.reload()).toEqual({ ok: true, changed: true, serial: serialOf(serverB) });

      expect(await serverSerial(gw.port)).toBe(serialOf(serverB));
      // The kept-alive connection is the same TLS session: still certificate A, still allowed.
      expect(await call(gw.port, "corp", agent)).toEqual({
        status: 200,
        reused: true,
        serial: serialOf(serverA),
      });
      expect(events("tls_reloaded")).toMatchObject([
        { trigger: "api", changed: true, serial: serialOf(serverB) },
      ]);
    } finally {
      agent.destroy();
    }
  });

  it("bundle: a CA added to a trust domain's bundle is accepted, a removed one refused for new connections", async () => {
    goodFiles();
    const gw = await start();
    expect(await call(gw.port, "p1")).toMatchObject({ status: 200 });
    expect(await call(gw.port, "p2")).toBe("refused");

    write("partner.pem", partnerCa1.certPem + partnerCa2.certPem);
    expect(gw.reload()).toMatchObject({ ok: true, changed: true });
    expect(await call(gw.port, "p1")).toMatchObject({ status: 200 });
    expect(await call(gw.port, "p2")).toMatchObject({ status: 200 });

    write("partner.pem", partnerCa2.certPem);
    expect(gw.reload()).toMatchObject({ ok: true, changed: true });
    const before = hits;
    expect(await call(gw.port, "p1")).toBe("refused");
    expect(hits).toBe(before);
    expect(await call(gw.port, "p2")).toMatchObject({ status: 200 });
    // The other trust domain's bundle is untouched by the partner's rotation.
    expect(await call(gw.port, "corp")).toMatchObject({ status: 200 });
  });

  it("adversarial: a connection verified before its CA was removed is refused at its next request", async () => {
    goodFiles();
    const gw = await start();
    const partner = new Agent({ keepAlive: true, maxSockets: 1 });
    const corp = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await call(gw.port, "p1", partner)).toMatchObject({ status: 200, reused: false });
      expect(await call(gw.port, "corp", corp)).toMatchObject({ status: 200, reused: false });

      write("partner.pem", partnerCa2.certPem);
      expect(gw.reload()).toMatchObject({ ok: true });

      const before = hits;
      expect(await call(gw.port, "p1", partner)).toBe("refused");
      expect(hits).toBe(before);
      const rejected = events("peer_rejected").map((l) => String(l.reason));
      expect(rejected).toContain(
        `peer certificate does not chain to the trust bundle of ${PARTNER} (trust material reloaded)`,
      );
      // A connection whose anchor is still in its bundle is re-checked and keeps working.
      expect(await call(gw.port, "corp", corp)).toMatchObject({ status: 200, reused: true });
    } finally {
      partner.destroy();
      corp.destroy();
    }
  });

  it("adversarial: a TLS session resumed after its CA was removed is refused", async () => {
    goodFiles();
    const gw = await start();
    const opts = {
      host: "127.0.0.1",
      port: gw.port,
      ca: corpCa.certPem,
      cert: svids.p1.certPem,
      key: svids.p1.keyPem,
      // TLS 1.2 hands out the session right after the handshake; 1.3 tickets follow the same rules.
      maxVersion: "TLSv1.2" as const,
    };
    const handshake = (session?: Buffer) =>
      new Promise<{ reused: boolean; session: Buffer | undefined; ok: boolean }>((resolve) => {
        let reused = false;
        let got: Buffer | undefined;
        let data = "";
        const s = connect({ ...opts, ...(session ? { session } : {}) }, () => {
          reused = s.isSessionReused();
          got = s.getSession();
          // A request on the connection tells whether the gateway kept it.
          s.write("GET /ok HTTP/1.1\r\nhost: x\r\n\r\n");
        });
        s.on("data", (c: Buffer) => {
          data += c.toString();
          if (data.includes("\r\n\r\n")) s.destroy();
        });
        s.on("error", () => undefined);
        s.on("close", () => resolve({ reused, session: got, ok: data.startsWith("HTTP/1.1 200") }));
      });
    const first = await handshake();
    expect(first).toMatchObject({ reused: false, ok: true });
    // Resumption without a reload works, and the peer is still checked on the resumed session.
    const resumed = await handshake(first.session);
    expect(resumed).toMatchObject({ reused: true, ok: true });

    write("partner.pem", partnerCa2.certPem);
    expect(gw.reload()).toMatchObject({ ok: true });
    const before = hits;
    // The new material comes with new ticket keys: no resumption, a full handshake against the new bundle.
    expect(await handshake(first.session)).toMatchObject({ reused: false, ok: false });
    expect(hits).toBe(before);
  });

  const broken: { name: string; breakIt: () => void; error: RegExp }[] = [
    {
      name: "unparsable certificate",
      breakIt: () => write("gw.pem", "not a certificate\n"),
      error: /gw\.pem: no PEM certificate found/,
    },
    {
      name: "corrupt certificate block",
      breakIt: () => write("gw.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
      error: /gw\.pem: certificate 1 does not parse/,
    },
    {
      name: "unparsable key",
      breakIt: () => write("gw.key", "garbage\n"),
      error: /gw\.key: not a usable private key/,
    },
    {
      name: "key not matching the certificate",
      breakIt: () => write("gw.pem", serverB.certPem),
      error: /gw\.key: private key does not match the certificate in .*gw\.pem/,
    },
    {
      name: "expired server certificate",
      breakIt: () => (write("gw.pem", expiredServer.certPem), write("gw.key", expiredServer.keyPem)),
      error: /gw\.pem: certificate not valid now/,
    },
    {
      name: "missing bundle file",
      breakIt: () => rmSync(path("partner.pem")),
      error: /partner\.pem: file not found/,
    },
    {
      name: "bundle without certificates",
      breakIt: () => write("partner.pem", ""),
      error: /partner\.pem: no PEM certificate found/,
    },
    {
      name: "leaf certificate in a bundle",
      breakIt: () => write("partner.pem", svids.p2.certPem),
      error: /partner\.pem: .* is not a CA certificate/,
    },
    {
      name: "adversarial: another trust domain's CA put into the partner bundle",
      breakIt: () => write("partner.pem", corpCa.certPem),
      error:
        /partner\.pem: CA certificate names trust domain corp\.example, but is in the bundle of partner\.example/,
    },
  ];
  for (const { name, breakIt, error } of broken) {
    it(`refuses new material with ${name}: logged, the previous material keeps serving`, async () => {
      goodFiles();
      const gw = await start();
      breakIt();
      const r = gw.reload();
      expect(r).toMatchObject({ ok: false, serial: serialOf(serverA) });
      expect(r.ok === false && r.error).toMatch(error);
      expect(events("tls_reload_rejected")).toMatchObject([
        { trigger: "api", serving_serial: serialOf(serverA) },
      ]);
      expect(String(events("tls_reload_rejected")[0]!.error)).toMatch(error);
      expect(await serverSerial(gw.port)).toBe(serialOf(serverA));
      expect(await call(gw.port, "p1")).toMatchObject({ status: 200 });
      // Fixed files are taken on the next reload.
      goodFiles();
      expect(gw.reload()).toMatchObject({ ok: true });
    });
  }
});

describe("file watch", () => {
  it("reloads when the files change in place or are replaced by rename", async () => {
    goodFiles();
    const gw = await start({ watch: true, watchDebounceMs: 50 });
    expect(await serverSerial(gw.port)).toBe(serialOf(serverA));

    write("gw.pem", serverB.certPem);
    write("gw.key", serverB.keyPem);
    await waitFor("certificate B", async () => (await serverSerial(gw.port)) === serialOf(serverB));
    expect(events("tls_reloaded").at(-1)).toMatchObject({ trigger: "file", serial: serialOf(serverB) });

    // How most tools (and Kubernetes' ..data swap) replace files: write elsewhere, then rename over.
    write("partner.pem.tmp", partnerCa1.certPem + partnerCa2.certPem);
    renameSync(path("partner.pem.tmp"), path("partner.pem"));
    await waitFor("partner CA 2 accepted", async () => (await call(gw.port, "p2")) !== "refused");
  });

  it("logs an invalid change once and keeps serving; the fix is picked up", async () => {
    goodFiles();
    const gw = await start({ watch: true, watchDebounceMs: 50 });
    write("partner.pem", "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n");
    await waitFor("the rejection", () => events("tls_reload_rejected").length > 0);
    expect(events("tls_reload_rejected")[0]).toMatchObject({
      trigger: "file",
      serving_serial: serialOf(serverA),
    });
    expect(await call(gw.port, "p1")).toMatchObject({ status: 200 });

    write("partner.pem", partnerCa2.certPem);
    await waitFor("partner CA 2 accepted", async () => (await call(gw.port, "p2")) !== "refused");
    expect(await call(gw.port, "p1")).toBe("refused");
  });
});

// ---------------------------------------------------------------------------------------------------------
// `portcullis serve`: SIGHUP and the file watch in the real process
// ---------------------------------------------------------------------------------------------------------

const repo = resolve(import.meta.dirname, "../../..");
const bin = join(repo, "bin", "portcullis.js");

interface Proc {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  exit: Promise<number | null>;
}

async function serve(...flags: string[]): Promise<Proc> {
  const child = spawn(process.execPath, [bin, "serve", "--config", path("gw.yaml"), ...flags], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  await waitFor(
    "the listening line",
    () => /https:\/\/127\.0\.0\.1:\d+/.test(out) || child.exitCode !== null,
    30_000,
  );
  const m = /https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
  if (!m) throw new Error(`portcullis serve did not start:\n${err}`);
  return { child, port: Number(m[1]), stderr: () => err, exit };
}

const logLines = (p: Proc, event: string) =>
  p
    .stderr()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.event === event);

describe("portcullis serve", () => {
  const procs: Proc[] = [];
  beforeAll(() => {
    // `npm ci` builds through `prepare`; build here when run from a bare checkout.
    if (!existsSync(join(repo, "dist", "cli", "main.js"))) {
      execFileSync(
        process.execPath,
        [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
        {
          cwd: repo,
          stdio: "inherit",
        },
      );
    }
    mkdirSync(path("policies"), { recursive: true });
    write("policies/authz.rego", POLICY);
    write(
      "gw.yaml",
      `pdp: { policies: ./policies }
segments:
  - name: mesh
    listen: 127.0.0.1:0
    upstream: ${upstreamUrl}
    tls:
      cert: gw.pem
      key: gw.key
      client_auth: require
      trust_bundles:
        ${CORP}: corp.pem
        ${PARTNER}: [partner.pem]
    authentication: mtls
`,
    );
  }, 120_000);
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      if (p.child.exitCode === null) p.child.kill("SIGTERM");
      await p.exit;
    }
  });

  it("SIGHUP re-reads cert, key and bundles; invalid files are logged and the old ones keep serving", async () => {
    goodFiles();
    const p = await serve("--no-watch");
    procs.push(p);
    expect(await serverSerial(p.port)).toBe(serialOf(serverA));

    write("gw.pem", serverB.certPem);
    write("gw.key", serverB.keyPem);
    write("partner.pem", partnerCa2.certPem);
    p.child.kill("SIGHUP");
    await waitFor("tls_reloaded", () => logLines(p, "tls_reloaded").length === 1);
    expect(logLines(p, "tls_reloaded")[0]).toMatchObject({
      segment: "mesh",
      trigger: "signal",
      serial: serialOf(serverB),
    });
    expect(await serverSerial(p.port)).toBe(serialOf(serverB));
    expect(await call(p.port, "p2")).toMatchObject({ status: 200 });
    expect(await call(p.port, "p1")).toBe("refused");

    write("gw.key", "garbage\n");
    p.child.kill("SIGHUP");
    await waitFor("tls_reload_rejected", () => logLines(p, "tls_reload_rejected").length === 1);
    expect(logLines(p, "tls_reload_rejected")[0]).toMatchObject({
      trigger: "signal",
      serving_serial: serialOf(serverB),
    });
    expect(await serverSerial(p.port)).toBe(serialOf(serverB));
    expect(p.child.exitCode).toBe(null);

    p.child.kill("SIGTERM");
    expect(await p.exit).toBe(0);
  });

  it("watches the TLS files by default", async () => {
    goodFiles();
    const p = await serve();
    procs.push(p);
    expect(await serverSerial(p.port)).toBe(serialOf(serverA));
    write("gw.pem", serverB.certPem);
    write("gw.key", serverB.keyPem);
    await waitFor("certificate B", async () => (await serverSerial(p.port)) === serialOf(serverB));
    expect(logLines(p, "tls_reloaded").at(-1)).toMatchObject({ trigger: "file" });
  });
});
