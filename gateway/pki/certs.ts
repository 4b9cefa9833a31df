// A small X.509 issuer for development and tests: a CA, a gateway server
// certificate and X.509-SVIDs, plus deliberately defective certificates for
// the adversarial tests. Node's crypto can parse and verify certificates but
// not create them, so @peculiar/x509 (WebCrypto-based) builds them.
// @peculiar/x509 uses tsyringe, which needs a Reflect metadata polyfill loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { randomBytes, webcrypto } from "node:crypto";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { parseSpiffeId } from "./spiffe.js";

x509.cryptoProvider.set(webcrypto);

const EC: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
};
const HOUR = 3600_000;
const DAY = 24 * HOUR;
// Certificates start a little in the past so a peer whose clock lags slightly still accepts them.
const BACKDATE = 5 * 60_000;

/** A certificate with its key pair, and both in PEM. */
export interface Issued {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  certPem: string;
  /** PKCS#8 `PRIVATE KEY` PEM, which node:tls accepts directly. */
  keyPem: string;
}

export interface ValidityOptions {
  notBefore?: Date;
  notAfter?: Date;
}

function serial(): string {
  const b = randomBytes(16);
  // Serial numbers are positive INTEGERs: a set top bit would make the DER value negative.
  b[0] = b[0]! & 0x7f || 0x01;
  return b.toString("hex");
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function keyToPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  return x509.PemConverter.encode(der, "PRIVATE KEY") + "\n";
}

async function finish(cert: x509.X509Certificate, keys: CryptoKeyPair): Promise<Issued> {
  return { cert, keys, certPem: cert.toString("pem") + "\n", keyPem: await keyToPem(keys.privateKey) };
}

function validity(o: ValidityOptions, lifetimeMs: number): { notBefore: Date; notAfter: Date } {
  const notBefore = o.notBefore ?? new Date(Date.now() - BACKDATE);
  return { notBefore, notAfter: o.notAfter ?? new Date(notBefore.getTime() + lifetimeMs) };
}

export interface CAOptions extends ValidityOptions {
  trustDomain: string;
  commonName?: string;
  /** basicConstraints pathLenConstraint: how many intermediate CAs may sit below this one (default 0). */
  pathLength?: number;
}

/** Creates a self-signed EC P-256 CA for a trust domain (valid 1 year by default). */
export async function createCA(o: CAOptions): Promise<Issued> {
  const id = parseSpiffeId(`spiffe://${o.trustDomain}`);
  if (typeof id === "string") throw new Error(id);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: [{ CN: [o.commonName ?? `Portcullis dev CA ${o.trustDomain}`] }],
    keys,
    signingAlgorithm: EC,
    ...validity(o, 365 * DAY),
    extensions: [
      new x509.BasicConstraintsExtension(true, o.pathLength ?? 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      // A SPIFFE signing certificate may carry the trust domain's ID (no path).
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: id.id }]),
    ],
  });
  return finish(cert, keys);
}

/**
 * Issues an intermediate signing CA below `parent` (which needs `pathLength` ≥ 1) for a trust domain.
 * SVIDs it issues chain to `parent` only when the client also presents this certificate.
 */
export async function createIntermediateCA(parent: Issued, o: CAOptions): Promise<Issued> {
  const id = parseSpiffeId(`spiffe://${o.trustDomain}`);
  if (typeof id === "string") throw new Error(id);
  const keys = await generateKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [{ CN: [o.commonName ?? `Portcullis dev intermediate CA ${o.trustDomain}`] }],
    issuer: parent.cert.subjectName,
    publicKey: keys.publicKey,
    signingKey: parent.keys.privateKey,
    signingAlgorithm: EC,
    ...validity(o, 180 * DAY),
    extensions: [
      new x509.BasicConstraintsExtension(true, o.pathLength ?? 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(parent.keys.publicKey),
      new x509.SubjectAlternativeNameExtension([{ type: "url", value: id.id }]),
    ],
  });
  return finish(cert, keys);
}

/** Loads a CA written by createCA (or any EC P-256 CA with a PKCS#8 key). */
export async function loadCA(certPem: string, keyPem: string): Promise<Issued> {
  const cert = new x509.X509Certificate(certPem);
  const der = x509.PemConverter.decode(keyPem)[0];
  if (!der) throw new Error("CA key: no PEM block found");
  const privateKey = await webcrypto.subtle.importKey("pkcs8", der, EC, true, ["sign"]);
  const publicKey = await cert.publicKey.export(EC, ["verify"], webcrypto);
  // A key that does not belong to the certificate would issue certificates that never verify.
  const probe = Buffer.from("portcullis");
  const sig = await webcrypto.subtle.sign(EC, privateKey, probe);
  if (!(await webcrypto.subtle.verify(EC, publicKey, sig, probe))) {
    throw new Error("CA key does not match the CA certificate");
  }
  return { cert, keys: { privateKey, publicKey }, certPem, keyPem };
}

/** Everything a leaf can differ in; the defaults make a valid X.509-SVID. */
export interface LeafOptions extends ValidityOptions {
  commonName?: string;
  uris?: string[];
  dns?: string[];
  ips?: string[];
  /** Marks the leaf as a CA (basicConstraints cA=true, keyCertSign): a defect for a client identity. */
  ca?: boolean;
  eku?: ("clientAuth" | "serverAuth")[];
}

/** Issues a leaf certificate signed by `ca`. Valid for 24 h by default. */
export async function issueLeaf(ca: Issued, o: LeafOptions): Promise<Issued> {
  const keys = await generateKeys();
  const names: x509.JsonGeneralName[] = [
    ...(o.uris ?? []).map((value) => ({ type: "url" as const, value })),
    ...(o.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(o.ips ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const usage = o.ca
    ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign
    : x509.KeyUsageFlags.digitalSignature;
  const eku = (o.eku ?? ["clientAuth", "serverAuth"]).map((u) => x509.ExtendedKeyUsage[u]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: [{ CN: [o.commonName ?? "portcullis-dev"] }],
    issuer: ca.cert.subjectName,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: EC,
    ...validity(o, DAY),
    extensions: [
      new x509.BasicConstraintsExtension(o.ca === true, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension(eku),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
    ],
  });
  return finish(cert, keys);
}

/** Issues a valid X.509-SVID: exactly one `spiffe://` URI SAN, not a CA, digitalSignature, client+server EKU. */
export async function issueSvid(ca: Issued, spiffeId: string, o: ValidityOptions = {}): Promise<Issued> {
  const id = parseSpiffeId(spiffeId);
  if (typeof id === "string") throw new Error(`${spiffeId}: ${id}`);
  // SPIFFE: a leaf SVID's ID has a non-root path.
  if (id.segments.length === 0) throw new Error(`${spiffeId}: a workload SPIFFE ID needs a path`);
  return issueLeaf(ca, { ...o, uris: [spiffeId], commonName: id.segments[id.segments.length - 1] });
}

/** Issues the gateway's TLS server certificate (SAN DNS localhost, IP 127.0.0.1 by default). */
export async function issueServerCert(
  ca: Issued,
  o: ValidityOptions & { dns?: string[]; ips?: string[] } = {},
): Promise<Issued> {
  return issueLeaf(ca, {
    ...o,
    commonName: "portcullis-gateway",
    dns: o.dns ?? ["localhost"],
    ips: o.ips ?? ["127.0.0.1"],
    eku: ["serverAuth"],
  });
}

/** Client certificates that a correct gateway must refuse, each with exactly one defect. */
export interface BadSvids {
  expired: Issued;
  notYetValid: Issued;
  caAsLeaf: Issued;
  twoUriSans: Issued;
  wrongTrustDomain: Issued;
  /** A valid-looking SVID of the right trust domain, signed by `otherCa` (not in the trust bundle). */
  otherCa: Issued;
  /** The CA that signed `otherCa`. */
  foreignCa: Issued;
}

/** Issues one certificate per defect, all for `spiffeId`'s workload, signed by `ca` unless stated. */
export async function issueBadSvids(ca: Issued, spiffeId: string): Promise<BadSvids> {
  const id = parseSpiffeId(spiffeId);
  if (typeof id === "string") throw new Error(`${spiffeId}: ${id}`);
  const now = Date.now();
  const foreignCa = await createCA({ trustDomain: id.trustDomain, commonName: "Portcullis foreign CA" });
  const [expired, notYetValid, caAsLeaf, twoUriSans, wrongTrustDomain, otherCa] = await Promise.all([
    issueSvid(ca, spiffeId, { notBefore: new Date(now - 2 * DAY), notAfter: new Date(now - DAY) }),
    issueSvid(ca, spiffeId, { notBefore: new Date(now + DAY), notAfter: new Date(now + 2 * DAY) }),
    issueLeaf(ca, { uris: [spiffeId], ca: true, commonName: "ca-as-leaf" }),
    issueLeaf(ca, { uris: [spiffeId, `${spiffeId}-twin`], commonName: "two-uri-sans" }),
    issueSvid(ca, `spiffe://wrong.${id.trustDomain}${id.path || "/workload"}`),
    issueSvid(foreignCa, spiffeId),
  ]);
  return { expired, notYetValid, caAsLeaf, twoUriSans, wrongTrustDomain, otherCa, foreignCa };
}
