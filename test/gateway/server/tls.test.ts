// Several trust domains per segment, each with its own bundle (SPIFFE: a bundle is authoritative only for
// its own trust domain). Real TLS sockets, real certificates from the dev PKI, a real upstream that
// records what reaches it.
// @peculiar/x509 (for the hand-made twin CA below) needs the Reflect polyfill loaded first.
import "reflect-metadata";
import { webcrypto, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { Agent, request } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig, type Segment, type SegmentTls } from "../../../gateway/config/index.js";
import {
  createCA,
  createIntermediateCA,
  issueLeaf,
  issueServerCert,
  issueSvid,
  type Issued,
} from "../../../gateway/pki/index.js";
import { demoSegment } from "../../../gateway/server/demo.js";
import { regoPdp, type Pdp } from "../../../gateway/server/enforce.js";
import { startSegment, type RunningSegment } from "../../../gateway/server/serve.js";
import { chainsToAnchors } from "../../../gateway/server/tls.js";
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
const hits: string[] = [];
const running: RunningSegment[] = [];
const logs: Record<string, unknown>[] = [];

let corpCa: Issued;
let partnerCa: Issued;
let twin: { ca: Issued; svid: Issued };
let serverCert: Issued;
/** Client credentials: the leaf first, then any intermediates the client presents. */
const clients: Record<string, { cert: string; key: string }> = {};

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

function present(leaf: Issued, ...chain: Issued[]): { cert: string; key: string } {
  return { cert: leaf.certPem + chain.map((c) => c.certPem).join(""), key: leaf.keyPem };
}

const EC = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function issued(cert: x509.X509Certificate, keys: webcrypto.CryptoKeyPair): Promise<Issued> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPem = x509.PemConverter.encode(der, "PRIVATE KEY") + "\n";
  return { cert, keys, certPem: cert.toString("pem") + "\n", keyPem };
}

async function ecKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

/**
 * A partner CA that copies `of`'s subject name and subject key identifier, and a corp SVID it signs whose
 * authority key identifier points at `of`: names and key identifiers all say "corp CA"; only the signature
 * tells the two apart.
 */
async function twinForgery(of: Issued, spiffeId: string): Promise<{ ca: Issued; svid: Issued }> {
  const skid = of.cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
  const [caKeys, leafKeys] = await Promise.all([ecKeys(), ecKeys()]);
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 86_400_000);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "0badc0de",
    name: of.cert.subject,
    keys: caKeys,
    signingAlgorithm: EC,
    notBefore,
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      new x509.SubjectKeyIdentifierExtension(skid),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: `spiffe://${PARTNER}` }]),
    ],
  });
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: "0badf00d",
    subject: "CN=planner",
    issuer: of.cert.subject,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: EC,
    notBefore,
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      new x509.AuthorityKeyIdentifierExtension(skid),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: spiffeId }]),
    ],
  });
  return { ca: await issued(caCert, caKeys), svid: await issued(leaf, leafKeys) };
}

type Outcome = { status: number; subject: string | undefined } | "refused";

/** One request on a fresh connection; "refused" when the gateway ends the connection instead. */
function call(port: number, client: string | undefined, agent?: Agent): Promise<Outcome> {
  const creds = client ? clients[client] : undefined;
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: "/who",
        ca: corpCa.certPem,
        ...(creds ?? {}),
        agent: agent ?? false,
      },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => {
          const parsed = res.statusCode === 200 ? (JSON.parse(body) as { subject?: string }) : {};
          resolve({ status: res.statusCode ?? 0, subject: parsed.subject });
        });
        res.on("error", () => resolve("refused"));
      },
    );
    req.on("error", () => resolve("refused"));
    req.end();
  });
}

async function start(tls: Partial<SegmentTls>): Promise<number> {
  const segment: Segment = demoSegment(dir, upstreamUrl, 0, {
    name: `mesh${running.length}`,
    tls: {
      cert: join(dir, "gw.pem"),
      key: join(dir, "gw.key"),
      client_ca: [],
      client_auth: "require",
      trust_domains: [],
      ...tls,
    },
    authentication: "mtls",
    authenticators: {},
    caller_types: [],
  });
  const r = await startSegment(segment, pdp, (e) => (logs.push(e), process.env.GW_DEBUG && console.log(e)));
  running.push(r);
  return r.port;
}

/** Runs `fn` and returns how many requests reached the upstream meanwhile. */
async function upstreamHits(fn: () => Promise<void>): Promise<number> {
  const before = hits.length;
  await fn();
  return hits.length - before;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-tls-"));
  [corpCa, partnerCa] = await Promise.all([
    createCA({ trustDomain: CORP, pathLength: 1 }),
    createCA({ trustDomain: PARTNER, pathLength: 1 }),
  ]);
  const [otherCa, lookalikeCa, corpIntermediate, partnerFakeCorpIntermediate] = await Promise.all([
    createCA({ trustDomain: "other.example" }),
    // A partner CA that copies the corp CA's subject name: only its key differs.
    createCA({ trustDomain: PARTNER, commonName: `Portcullis dev CA ${CORP}` }),
    createIntermediateCA(corpCa, { trustDomain: CORP }),
    // An intermediate that claims corp.example but was signed by the partner's CA.
    createIntermediateCA(partnerCa, { trustDomain: CORP }),
  ]);
  serverCert = await issueServerCert(corpCa);
  file("gw.pem", serverCert.certPem);
  file("gw.key", serverCert.keyPem);
  file("corp.pem", corpCa.certPem);
  file("partner.pem", partnerCa.certPem);
  file("partners.pem", partnerCa.certPem + lookalikeCa.certPem);
  file("other.pem", otherCa.certPem);
  twin = await twinForgery(corpCa, `spiffe://${CORP}/agent/planner`);
  file("twin.pem", twin.ca.certPem);

  const svids = {
    corp: await issueSvid(corpCa, `spiffe://${CORP}/agent/planner`),
    partner: await issueSvid(partnerCa, `spiffe://${PARTNER}/agent/broker`),
    forgery: await issueSvid(partnerCa, `spiffe://${CORP}/agent/planner`),
    unconfigured: await issueSvid(partnerCa, "spiffe://other.example/agent/x"),
    otherCa: await issueSvid(otherCa, "spiffe://other.example/agent/x"),
    lookalike: await issueSvid(lookalikeCa, `spiffe://${CORP}/agent/planner`),
    deep: await issueSvid(corpIntermediate, `spiffe://${CORP}/agent/deep`),
    fakeDeep: await issueSvid(partnerFakeCorpIntermediate, `spiffe://${CORP}/agent/deep`),
    caAsLeaf: await issueLeaf(partnerCa, { uris: [`spiffe://${PARTNER}/agent/ca`], ca: true }),
  };
  for (const [name, svid] of Object.entries(svids)) clients[name] = present(svid);
  clients.deep = present(svids.deep, corpIntermediate);
  clients.deepWithoutIntermediate = present(svids.deep);
  clients.fakeDeep = present(svids.fakeDeep, partnerFakeCorpIntermediate);
  clients.twin = present(twin.svid);

  upstream = createServer((req, res) => {
    hits.push(req.url ?? "");
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ subject: req.headers["x-portcullis-subject"] }));
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  pdp = regoPdp(compile({ modules: [{ file: "tls.rego", source: POLICY }] }), "portcullis/authz/decision");
});

afterAll(async () => {
  for (const r of running) {
    await new Promise((done) => (r.server.close(done), r.server.closeAllConnections()));
  }
  if (upstream) await new Promise((r) => upstream.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("trust_bundles: one bundle per trust domain", () => {
  let port: number;
  beforeAll(async () => {
    port = await start({
      trust_bundles: {
        [CORP]: [join(dir, "corp.pem")],
        [PARTNER]: [join(dir, "partners.pem")],
      },
    });
  });

  it("accepts an SVID of each configured trust domain, each anchored in its own bundle", async () => {
    expect(await call(port, "corp")).toEqual({ status: 200, subject: `spiffe://${CORP}/agent/planner` });
    expect(await call(port, "partner")).toEqual({ status: 200, subject: `spiffe://${PARTNER}/agent/broker` });
  });

  it("accepts an SVID issued by an intermediate of the right bundle when the client presents it", async () => {
    expect(await call(port, "deep")).toEqual({ status: 200, subject: `spiffe://${CORP}/agent/deep` });
    // Without the intermediate node:tls cannot build the chain at all.
    expect(await call(port, "deepWithoutIntermediate")).toBe("refused");
  });

  const refused: { name: string; client: string | undefined; reason: RegExp }[] = [
    {
      name: "adversarial: cross-domain forgery (partner CA issues a corp.example SVID)",
      client: "forgery",
      reason: /does not chain to the trust bundle of corp\.example/,
    },
    {
      name: "adversarial: partner CA copying the corp CA's subject name issues a corp.example SVID",
      client: "lookalike",
      reason: /does not chain to the trust bundle of corp\.example/,
    },
    {
      name: "adversarial: intermediate claiming corp.example but signed by the partner CA",
      client: "fakeDeep",
      reason: /does not chain to the trust bundle of corp\.example/,
    },
    {
      name: "adversarial: trust domain with no bundle, chain valid against the union",
      client: "unconfigured",
      reason: /trust domain other\.example has no trust bundle/,
    },
    { name: "adversarial: SVID from a CA in no bundle at all", client: "otherCa", reason: /./ },
    {
      name: "adversarial: CA certificate of a configured domain used as the leaf",
      client: "caAsLeaf",
      reason: /CA certificate/,
    },
    { name: "adversarial: no client certificate", client: undefined, reason: /./ },
  ];
  for (const { name, client, reason } of refused) {
    it(`${name} → connection refused, upstream untouched`, async () => {
      logs.length = 0;
      let outcome: Outcome | undefined;
      const n = await upstreamHits(async () => void (outcome = await call(port, client)));
      expect(outcome).toBe("refused");
      expect(n).toBe(0);
      // The ones node:tls lets through to the SVID check are refused with a log line naming the reason.
      if (client && client !== "otherCa") {
        const rejected = logs.filter((l) => l.event === "peer_rejected").map((l) => String(l.reason));
        expect(rejected.some((r) => reason.test(r))).toBe(true);
      }
    });
  }
});

describe("adversarial: a twin of the corp CA (same subject and key identifier, another key)", () => {
  it("is refused whichever CA node:tls finds first by name", async () => {
    // The bundle order decides which of the two OpenSSL tries first; with the twin first it accepts the
    // chain, and only the per-bundle signature check stands between the partner and a corp identity.
    let ours = 0;
    for (const order of [
      [CORP, PARTNER],
      [PARTNER, CORP],
    ]) {
      const files: Record<string, string[]> = {
        [CORP]: [join(dir, "corp.pem")],
        [PARTNER]: [join(dir, "twin.pem")],
      };
      const port = await start({ trust_bundles: Object.fromEntries(order.map((td) => [td, files[td]!])) });
      logs.length = 0;
      const n = await upstreamHits(async () => expect(await call(port, "twin")).toBe("refused"));
      expect(n).toBe(0);
      for (const l of logs.filter((l) => l.event === "peer_rejected")) {
        expect(l.reason).toBe(`peer certificate does not chain to the trust bundle of ${CORP}`);
        ours += 1;
      }
    }
    expect(ours).toBeGreaterThan(0);
  });

  it("chainsToAnchors tells the twins apart by signature, not by name", () => {
    const chain = [new X509Certificate(twin.svid.certPem), new X509Certificate(twin.ca.certPem)];
    expect(chainsToAnchors(chain, [new X509Certificate(twin.ca.certPem)])).toBe(true);
    expect(chainsToAnchors(chain, [new X509Certificate(corpCa.certPem)])).toBe(false);
    expect(chainsToAnchors(chain.slice(0, 1), [new X509Certificate(corpCa.certPem)])).toBe(false);
  });
});

describe("trust_bundles with the legacy client_ca and trust_domains", () => {
  it("keeps the old behaviour: client_ca + trust_domains accept chains to any listed CA", async () => {
    const port = await start({
      client_ca: [join(dir, "corp.pem"), join(dir, "partner.pem")],
      trust_domains: [CORP, PARTNER],
    });
    expect(await call(port, "corp")).toMatchObject({ status: 200 });
    expect(await call(port, "partner")).toMatchObject({ status: 200 });
    // trust_domains still limits which domains are accepted.
    expect(await call(port, "unconfigured")).toBe("refused");
  });

  it("adversarial: a client_ca CA cannot issue for a trust domain that has its own bundle", async () => {
    const port = await start({
      client_ca: [join(dir, "partner.pem")],
      trust_bundles: { [CORP]: [join(dir, "corp.pem")] },
    });
    // partner.example has no bundle, so client_ca anchors it…
    expect(await call(port, "partner")).toMatchObject({ status: 200 });
    expect(await call(port, "corp")).toMatchObject({ status: 200 });
    // …but corp.example has one, and only it may vouch for corp IDs.
    const n = await upstreamHits(async () => expect(await call(port, "forgery")).toBe("refused"));
    expect(n).toBe(0);
  });

  it("adversarial: trust_domains applies to bundle-less domains anchored by client_ca", async () => {
    const port = await start({
      client_ca: [join(dir, "partner.pem")],
      trust_domains: [CORP, PARTNER],
      trust_bundles: { [CORP]: [join(dir, "corp.pem")] },
    });
    expect(await call(port, "partner")).toMatchObject({ status: 200 });
    expect(await call(port, "unconfigured")).toBe("refused");
  });
});

describe("client_auth optional", () => {
  it("adversarial: a forged SVID gives no identity (401), a valid one authenticates", async () => {
    const port = await start({
      client_auth: "optional",
      trust_bundles: { [CORP]: [join(dir, "corp.pem")], [PARTNER]: [join(dir, "partner.pem")] },
    });
    expect(await call(port, "corp")).toMatchObject({ status: 200 });
    const n = await upstreamHits(async () => {
      expect(await call(port, "forgery")).toMatchObject({ status: 401 });
      expect(await call(port, undefined)).toMatchObject({ status: 401 });
    });
    expect(n).toBe(0);
  });
});

describe("connection lifetime", () => {
  it("adversarial: a kept-alive connection whose SVID expires is closed at its next request", async () => {
    const notAfter = new Date(Math.ceil((Date.now() + 4000) / 1000) * 1000);
    clients.shortLived = present(await issueSvid(corpCa, `spiffe://${CORP}/agent/brief`, { notAfter }));
    const port = await start({ trust_bundles: { [CORP]: [join(dir, "corp.pem")] } });
    // The idle connection must outlive the wait, or the second request would just be a new handshake.
    running.at(-1)!.server.keepAliveTimeout = 30_000;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await call(port, "shortLived", agent)).toMatchObject({ status: 200 });
      // Certificate times have one-second resolution.
      await new Promise((r) => setTimeout(r, notAfter.getTime() + 1100 - Date.now()));
      logs.length = 0;
      const n = await upstreamHits(async () => expect(await call(port, "shortLived", agent)).toBe("refused"));
      expect(n).toBe(0);
      expect(logs.map((l) => l.reason)).toContain("peer certificate expired during the connection");
    } finally {
      agent.destroy();
    }
  }, 15_000);
});

describe("start-up refuses bad trust material", () => {
  it("adversarial: a CA naming another trust domain filed under corp.example", async () => {
    await expect(start({ trust_bundles: { [CORP]: [join(dir, "partner.pem")] } })).rejects.toThrow(
      /names trust domain partner\.example, but is in the bundle of corp\.example/,
    );
  });

  it("a leaf certificate in a trust bundle", async () => {
    const leaf = file("leaf-bundle.pem", (await issueSvid(corpCa, `spiffe://${CORP}/x`)).certPem);
    await expect(start({ trust_bundles: { [CORP]: [leaf] } })).rejects.toThrow(/is not a CA certificate/);
  });

  it("a bundle file without certificates", async () => {
    const empty = file("empty.pem", "# nothing here\n");
    await expect(start({ trust_bundles: { [CORP]: [empty] } })).rejects.toThrow(/no PEM certificate found/);
  });
});

describe("tls.trust_bundles in the config file", () => {
  const yaml = (tls: string) => `pdp: { policies: ./p }
segments:
  - name: mesh
    listen: 127.0.0.1:0
    upstream: http://127.0.0.1:9
    tls:
      cert: gw.pem
      key: gw.key
${tls}
    authentication: mtls
`;
  const issues = (text: string): string[] => {
    try {
      parseConfig(text, join(dir, "gw.yaml"), { checkFiles: false });
    } catch (e) {
      if (e instanceof ConfigError) return e.errors.map((i) => `${i.path}: ${i.message}`);
      throw e;
    }
    return [];
  };

  it("parses trust domain → file or list of files, resolved against the config's directory", () => {
    const c = parseConfig(
      yaml(`      trust_bundles:\n        corp.example: corp.pem\n        partner.example: [p1.pem, p2.pem]`),
      join(dir, "gw.yaml"),
      { checkFiles: false },
    );
    const tls = c.segments[0]!.tls;
    expect({ ...tls.trust_bundles }).toEqual({
      [CORP]: [join(dir, "corp.pem")],
      [PARTNER]: [join(dir, "p1.pem"), join(dir, "p2.pem")],
    });
    // trust_bundles alone satisfies client_auth require; client_ca stays optional next to it.
    expect(tls.client_ca).toEqual([]);
  });

  it("names the key path of each mistake", () => {
    expect(issues(yaml(`      trust_bundles:\n        Corp.Example: corp.pem`))).toEqual([
      "segments[0].tls.trust_bundles.Corp.Example: must be keyed by a trust domain name (a-z 0-9 . - _)",
    ]);
    expect(issues(yaml(`      trust_bundles: {}`))[0]).toMatch(
      /^segments\[0\]\.tls\.trust_bundles: must be a non-empty mapping/,
    );
    expect(issues(yaml(`      trust_bundles:\n        corp.example: []`))[0]).toMatch(
      /^segments\[0\]\.tls\.trust_bundles\.corp\.example: must be a string or a non-empty list/,
    );
    expect(
      issues(
        yaml(`      trust_domains: [corp.example]\n      trust_bundles:\n        partner.example: p.pem`),
      ),
    ).toEqual([
      "segments[0].tls.trust_bundles.partner.example: trust domain is not listed in tls.trust_domains, so its bundle is never used",
    ]);
    // Neither client_ca nor trust_bundles: mTLS could never verify anyone.
    expect(issues(yaml(""))).toEqual(["segments[0].tls.client_ca: is required"]);
  });

  it("reports a missing bundle file with its list index", () => {
    const text = yaml(`      trust_bundles:\n        corp.example: [corp.pem, missing.pem]`);
    writeFileSync(join(dir, "p"), "");
    let found: string[] = [];
    try {
      parseConfig(text, join(dir, "gw.yaml"));
    } catch (e) {
      found = (e as ConfigError).errors.map((i) => `${i.path}: ${i.message}`);
    }
    expect(found).toContain(
      `segments[0].tls.trust_bundles.corp.example[1]: file not found: ${join(dir, "missing.pem")}`,
    );
  });
});
