// The dev PKI against real parsers: node's X509Certificate, a TLS handshake
// over loopback, and jose verifying a minted token against the written JWKS.
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tls from "node:tls";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createCA,
  ensureDevPki,
  issueBadSvids,
  issueServerCert,
  issueSvid,
  parseSpiffeId,
  type BadSvids,
  type DevPki,
  type Issued,
} from "../../../gateway/pki/index.js";

const TD = "test.portcullis";
const AGENT = `spiffe://${TD}/agent/planner`;
let ca: Issued;
let gateway: Issued;
let agent: Issued;
let bad: BadSvids;

beforeAll(async () => {
  ca = await createCA({ trustDomain: TD });
  [gateway, agent, bad] = await Promise.all([
    issueServerCert(ca),
    issueSvid(ca, AGENT),
    issueBadSvids(ca, AGENT),
  ]);
});

const node = (i: Issued) => new X509Certificate(i.certPem);
const uris = (c: X509Certificate) =>
  (c.subjectAltName ?? "")
    .split(", ")
    .filter((s) => s.startsWith("URI:"))
    .map((s) => s.slice(4));

describe("certificates", () => {
  it("CA is a self-signed CA for the trust domain", () => {
    const c = node(ca);
    expect(c.ca).toBe(true);
    expect(c.verify(c.publicKey)).toBe(true);
    expect(uris(c)).toEqual([`spiffe://${TD}`]);
    // node reports the EKU as keyUsage; a CA carries none, so it cannot pass as a TLS client or server.
    expect(c.keyUsage).toBeUndefined();
  });

  it("agent SVID: one spiffe URI SAN, not a CA, clientAuth, chains to the CA", () => {
    const c = node(agent);
    expect(c.verify(node(ca).publicKey)).toBe(true);
    expect(c.checkIssued(node(ca))).toBe(true);
    expect(uris(c)).toEqual([AGENT]);
    expect(c.ca).toBe(false);
    expect(c.keyUsage).toContain("1.3.6.1.5.5.7.3.2");
    expect(new Date(c.validTo).getTime()).toBeGreaterThan(Date.now());
    expect(new Date(c.validFrom).getTime()).toBeLessThanOrEqual(Date.now());
  });

  it("gateway certificate names localhost and 127.0.0.1", () => {
    const c = node(gateway);
    expect(c.verify(node(ca).publicKey)).toBe(true);
    expect(c.checkHost("localhost")).toBe("localhost");
    expect(c.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(c.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
  });

  it("each bad SVID has exactly its intended defect", () => {
    const caKey = node(ca).publicKey;
    const now = Date.now();
    const expired = node(bad.expired);
    expect(expired.verify(caKey) && new Date(expired.validTo).getTime() < now).toBe(true);
    const future = node(bad.notYetValid);
    expect(future.verify(caKey) && new Date(future.validFrom).getTime() > now).toBe(true);
    const asLeaf = node(bad.caAsLeaf);
    expect(asLeaf.verify(caKey) && asLeaf.ca).toBe(true);
    expect(uris(asLeaf)).toEqual([AGENT]);
    const two = node(bad.twoUriSans);
    expect(two.verify(caKey) && two.ca).toBe(false);
    expect(uris(two)).toHaveLength(2);
    const wrong = node(bad.wrongTrustDomain);
    expect(wrong.verify(caKey)).toBe(true);
    const id = parseSpiffeId(uris(wrong)[0]!);
    expect(typeof id !== "string" && id.trustDomain).toBe(`wrong.${TD}`);
    const foreign = node(bad.otherCa);
    expect(uris(foreign)).toEqual([AGENT]);
    expect(foreign.verify(caKey)).toBe(false);
    expect(foreign.verify(node(bad.foreignCa).publicKey)).toBe(true);
  });

  it("refuses to issue SVIDs for malformed SPIFFE IDs", async () => {
    await expect(issueSvid(ca, `spiffe://${TD}`)).rejects.toThrow(/needs a path/);
    await expect(issueSvid(ca, `spiffe://${TD}/a/../b`)).rejects.toThrow(/\.\./);
    await expect(issueSvid(ca, `SPIFFE://${TD}/a`)).rejects.toThrow(/spiffe:\/\//);
    await expect(issueSvid(ca, `spiffe://Bad.TD/a`)).rejects.toThrow(/trust domain/);
  });
});

interface Handshake {
  ok: boolean;
  san?: string;
  error?: string;
}

/** One mTLS handshake over loopback: gateway cert, client certs verified against ca.pem. */
async function handshake(client: Issued): Promise<Handshake> {
  const server = tls.createServer({
    cert: gateway.certPem,
    key: gateway.keyPem,
    ca: ca.certPem,
    requestCert: true,
    rejectUnauthorized: true,
  });
  let san: string | undefined;
  server.on("secureConnection", (s) => {
    san = s.getPeerCertificate().subjectaltname;
    s.end("ok");
  });
  // Swallow the server side of failed handshakes; the client reports them.
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<Handshake>((resolve) => {
      const sock = tls.connect({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ca: ca.certPem,
        cert: client.certPem,
        key: client.keyPem,
      });
      let data = "";
      sock.on("data", (d: Buffer) => (data += d.toString()));
      sock.on("end", () => resolve(data === "ok" ? { ok: true, san } : { ok: false, error: "no data" }));
      sock.on("error", (e) => resolve({ ok: false, error: e.message }));
    });
  } finally {
    server.close();
  }
}

describe("TLS over 127.0.0.1", () => {
  it("mTLS handshake with the agent SVID succeeds and the server sees the SPIFFE ID", async () => {
    const r = await handshake(agent);
    expect(r).toEqual({ ok: true, san: `URI:${AGENT}` });
  });

  it("a certificate from another CA and an expired one are refused by the handshake", async () => {
    expect((await handshake(bad.otherCa)).ok).toBe(false);
    expect((await handshake(bad.expired)).ok).toBe(false);
  });
});

describe("dev PKI on disk and token issuer", () => {
  let dir: string;
  let pki: DevPki;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "portcullis-pki-"));
    pki = await ensureDevPki({ dir });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the contract files, private keys readable by the owner only", () => {
    for (const f of ["ca.pem", "ca.key", "gateway.pem", "gateway.key", "agent.pem", "agent.key"]) {
      expect(statSync(join(dir, f)).isFile()).toBe(true);
    }
    for (const f of ["ca.key", "agent.key", "issuer.key"]) {
      expect(statSync(join(dir, f)).mode & 0o077).toBe(0);
    }
    const c = new X509Certificate(readFileSync(join(dir, "agent.pem")));
    expect(c.subjectAltName).toBe("URI:spiffe://demo.portcullis/agent/planner");
    expect(c.verify(new X509Certificate(readFileSync(join(dir, "ca.pem"))).publicKey)).toBe(true);
  });

  it("agent.jwt is an RFC 9068 token that verifies against jwks.json", async () => {
    const jwks = JSON.parse(readFileSync(join(dir, "jwks.json"), "utf8")) as JSONWebKeySet;
    expect(jwks.keys.every((k) => !("d" in k))).toBe(true);
    const token = readFileSync(join(dir, "agent.jwt"), "utf8").trim();
    expect(decodeProtectedHeader(token)).toMatchObject({
      alg: "ES256",
      typ: "at+jwt",
      kid: jwks.keys[0]!.kid,
    });
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: "https://issuer.demo.portcullis",
      audience: "payments",
      typ: "at+jwt",
      algorithms: ["ES256"],
    });
    expect(payload).toMatchObject({
      sub: "spiffe://demo.portcullis/agent/planner",
      client_id: "spiffe://demo.portcullis/agent/planner",
      scope: "payments:read payments:write",
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(typeof payload.jti).toBe("string");
  });

  it("a second run reuses the CA and the issuer key; --force replaces them", async () => {
    const caPem = readFileSync(join(dir, "ca.pem"), "utf8");
    const again = await ensureDevPki({ dir });
    expect(again.caReused && again.issuerReused).toBe(true);
    expect(readFileSync(join(dir, "ca.pem"), "utf8")).toBe(caPem);
    expect(again.issuer.publicJwk.kid).toBe(pki.issuer.publicJwk.kid);
    const agentCert = new X509Certificate(readFileSync(join(dir, "agent.pem")));
    expect(agentCert.verify(new X509Certificate(caPem).publicKey)).toBe(true);
    const forced = await ensureDevPki({ dir, force: true });
    expect(forced.caReused || forced.issuerReused).toBe(false);
    expect(readFileSync(join(dir, "ca.pem"), "utf8")).not.toBe(caPem);
  });

  it("refuses to reuse a CA of another trust domain", async () => {
    await expect(ensureDevPki({ dir, trustDomain: "other.example" })).rejects.toThrow(/--force/);
  });
});
