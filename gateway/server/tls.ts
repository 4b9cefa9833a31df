// Per-segment TLS: the material a listener serves with (read and validated from the config's files), and
// the X.509-SVID checks node:tls does not do. node:tls verifies the client chain against the union of all
// configured CAs; SPIFFE wants more: a bundle is authoritative only for its own trust domain, so here the
// chain is checked again, signature by signature, against the bundle of the trust domain in the SVID.
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ServerOptions } from "node:https";
import { createSecureContext, type SecureContextOptions, type TLSSocket } from "node:tls";
import type { PeerFacts } from "../authn/types.js";
import type { SegmentTls } from "../config/index.js";
import { parseSpiffeId } from "../pki/spiffe.js";

export interface PeerCert {
  subject: string;
  issuer: string;
  not_after: string;
  "x5t#S256": string;
}

export interface VerifiedPeer {
  facts: PeerFacts;
  cert: PeerCert;
}

// ---------------------------------------------------------------------------------------------------------
// TLS material: what one generation of a segment's cert, key and bundles is.
// ---------------------------------------------------------------------------------------------------------

/** Which CAs may vouch for which trust domain. */
export interface TrustAnchors {
  /** `tls.trust_bundles`: each bundle anchors its own trust domain and no other. */
  bundles: ReadonlyMap<string, readonly X509Certificate[]>;
  /** `tls.client_ca`: anchors the allowed trust domains that have no bundle of their own. */
  shared: readonly X509Certificate[];
  /** `tls.trust_domains`; empty = no allow-list beyond having an anchor. */
  allowed: readonly string[];
}

export interface TlsMaterial {
  /** What `createServer` / `setSecureContext` take. */
  context: SecureContextOptions;
  anchors: TrustAnchors;
  /** The gateway's own certificate (first block of `tls.cert`). */
  serverCert: X509Certificate;
  /** SHA-256 over every file's path and bytes, so a watcher can ignore events that changed nothing. */
  fingerprint: string;
}

/** Every file a segment's TLS material is read from (what a reload re-reads and a watcher watches). */
export function tlsFiles(tls: SegmentTls): string[] {
  const bundles = Object.values(tls.trust_bundles ?? {}).flat();
  return [...new Set([tls.cert, tls.key, ...tls.client_ca, ...bundles])];
}

/** Reads every file of the segment's TLS config; the error names the file. */
export function readTlsFiles(tls: SegmentTls): { files: Map<string, Buffer>; fingerprint: string } {
  const files = new Map<string, Buffer>();
  const hash = createHash("sha256");
  for (const f of tlsFiles(tls)) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(f);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(code === "ENOENT" ? `${f}: file not found` : `${f}: ${(e as Error).message}`);
    }
    files.set(f, bytes);
    hash.update(f).update("\0").update(bytes).update("\0");
  }
  return { files, fingerprint: hash.digest("hex") };
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function pemCertificates(file: string, bytes: Buffer): X509Certificate[] {
  const blocks = bytes.toString("latin1").match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error(`${file}: no PEM certificate found`);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new Error(`${file}: certificate ${i + 1} does not parse: ${(e as Error).message}`);
    }
  });
}

function validAt(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}

/** The trust domain a signing certificate names in a `spiffe://` URI SAN, if it names one. */
function caTrustDomain(cert: X509Certificate): string | undefined {
  for (const e of sanEntries(cert.subjectAltName)) {
    if (!e.startsWith("URI:spiffe://")) continue;
    const id = parseSpiffeId(e.slice(4));
    if (typeof id !== "string") return id.trustDomain;
  }
  return undefined;
}

/**
 * Builds one generation of TLS material from file contents, refusing anything that would serve badly:
 * an unparsable certificate or key, a key that does not belong to the certificate, a server certificate
 * outside its validity, an empty bundle, a non-CA in a trust bundle, or a CA whose SPIFFE ID names another
 * trust domain than the bundle it sits in (a partner's CA filed under our domain would let it mint our IDs).
 */
export function buildTlsMaterial(
  tls: SegmentTls,
  read: { files: Map<string, Buffer>; fingerprint: string },
  now = Date.now(),
): TlsMaterial {
  const bytes = (f: string): Buffer => read.files.get(f) ?? Buffer.alloc(0);
  const serverCert = pemCertificates(tls.cert, bytes(tls.cert))[0]!;
  let key: KeyObject;
  try {
    key = createPrivateKey(bytes(tls.key));
  } catch (e) {
    throw new Error(`${tls.key}: not a usable private key: ${(e as Error).message}`);
  }
  if (!serverCert.checkPrivateKey(key)) {
    throw new Error(`${tls.key}: private key does not match the certificate in ${tls.cert}`);
  }
  if (!validAt(serverCert, now)) {
    throw new Error(
      `${tls.cert}: certificate not valid now (${serverCert.validFrom} – ${serverCert.validTo})`,
    );
  }

  const shared = tls.client_ca.flatMap((f) => pemCertificates(f, bytes(f)));
  const bundles = new Map<string, X509Certificate[]>();
  for (const [td, files] of Object.entries(tls.trust_bundles ?? {})) {
    const certs: X509Certificate[] = [];
    for (const f of files) {
      for (const c of pemCertificates(f, bytes(f))) {
        if (!c.ca) throw new Error(`${f}: ${c.subject.replace(/\n/g, ", ")} is not a CA certificate`);
        const named = caTrustDomain(c);
        if (named !== undefined && named !== td) {
          throw new Error(`${f}: CA certificate names trust domain ${named}, but is in the bundle of ${td}`);
        }
        certs.push(c);
      }
    }
    bundles.set(td, certs);
  }

  // node:tls verifies against the union; which bundle may anchor which SVID is checked per connection.
  const pool = new Map<string, string>();
  for (const c of [...shared, ...[...bundles.values()].flat()]) pool.set(c.fingerprint256, c.toString());
  const wantCert = tls.client_auth !== "none";
  const context: SecureContextOptions = {
    cert: bytes(tls.cert),
    key: bytes(tls.key),
    ...(wantCert && pool.size > 0 ? { ca: [...pool.values()] } : {}),
    minVersion: "TLSv1.2",
  };
  try {
    // OpenSSL's own opinion (key type, curve, encoding) before a listener is handed the material.
    createSecureContext(context);
  } catch (e) {
    throw new Error(`${tls.cert}, ${tls.key}: TLS context refused: ${(e as Error).message}`);
  }
  return {
    context,
    anchors: { bundles, shared, allowed: tls.trust_domains },
    serverCert,
    fingerprint: read.fingerprint,
  };
}

/** Reads and validates the segment's TLS files now; the error names the file at fault. */
export function loadTlsMaterial(tls: SegmentTls): TlsMaterial {
  return buildTlsMaterial(tls, readTlsFiles(tls));
}

/** The listener-level options that go with the material (these do not change on reload). */
export function listenerTlsOptions(tls: SegmentTls): ServerOptions {
  return {
    requestCert: tls.client_auth !== "none",
    // `optional` lets an unverified peer finish the handshake; the peer check then reports no identity.
    rejectUnauthorized: tls.client_auth === "require",
  };
}

/** Reads the segment's files now, so a missing or unreadable file fails start-up, not the first request. */
export function tlsServerOptions(tls: SegmentTls): ServerOptions {
  return { ...loadTlsMaterial(tls).context, ...listenerTlsOptions(tls) };
}

// ---------------------------------------------------------------------------------------------------------
// SVID checks
// ---------------------------------------------------------------------------------------------------------

/** SAN entries as Node prints them (`URI:spiffe://…, DNS:…`); quoted values keep their commas. */
function sanEntries(san: string | undefined): string[] {
  if (!san) return [];
  const out: string[] = [];
  const re = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(san)) !== null && m[0] !== "") {
    const value = m[2].startsWith('"') ? (JSON.parse(m[2]) as string) : m[2];
    out.push(`${m[1]}:${value}`);
  }
  return out;
}

/**
 * The SVID rules of the X.509-SVID spec on a chain-verified leaf; returns the reason it is not one, or the
 * peer. A CA certificate or a second URI SAN would make "who is this" ambiguous, so both are refused.
 */
export function checkSvid(cert: X509Certificate, trustDomains: readonly string[]): VerifiedPeer | string {
  if (cert.ca) return "peer certificate is a CA certificate";
  if (!validAt(cert, Date.now())) return "peer certificate not valid now";
  const uris = sanEntries(cert.subjectAltName).filter((e) => e.startsWith("URI:"));
  if (uris.length !== 1) return `peer certificate has ${uris.length} URI SANs, expected exactly one`;
  const id = parseSpiffeId(uris[0].slice(4));
  if (typeof id === "string") return `peer URI SAN is not a SPIFFE ID: ${id}`;
  if (id.path === "") return "peer SPIFFE ID has no path";
  if (trustDomains.length > 0 && !trustDomains.includes(id.trustDomain)) {
    return `trust domain ${id.trustDomain} is not allowed`;
  }
  const thumbprint = createHash("sha256").update(cert.raw).digest("base64url");
  return {
    facts: { spiffeId: id.id, trustDomain: id.trustDomain, certThumbprint: thumbprint },
    cert: { subject: cert.subject, issuer: cert.issuer, not_after: cert.validTo, "x5t#S256": thumbprint },
  };
}

/** The CAs that may vouch for `trustDomain`, or why none may. */
export function anchorsFor(a: TrustAnchors, trustDomain: string): readonly X509Certificate[] | string {
  if (a.allowed.length > 0 && !a.allowed.includes(trustDomain)) {
    return `trust domain ${trustDomain} is not allowed`;
  }
  const own = a.bundles.get(trustDomain);
  if (own) return own;
  if (a.shared.length > 0) return a.shared;
  return `trust domain ${trustDomain} has no trust bundle`;
}

// A presented chain longer than this is not a workload's; it only costs signature checks.
const MAX_CHAIN = 8;

/** `issuer` signed `cert` (names, key identifiers and signature all agree) and is valid now. */
function signedBy(cert: X509Certificate, issuer: X509Certificate, now: number): boolean {
  return validAt(issuer, now) && cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/**
 * Whether `chain[0]` reaches one of `anchors` through CA certificates of `chain`, every link checked by
 * signature. Names alone are not enough: a foreign CA can copy our CA's subject and key identifier.
 */
export function chainsToAnchors(
  chain: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now = Date.now(),
): boolean {
  const pool = chain.slice(1, MAX_CHAIN).filter((c) => c.ca);
  const used = new Set<string>();
  const walk = (cert: X509Certificate, depth: number): boolean => {
    if (anchors.some((a) => signedBy(cert, a, now))) return true;
    if (depth >= MAX_CHAIN) return false;
    for (const c of pool) {
      if (used.has(c.fingerprint256) || !signedBy(cert, c, now)) continue;
      used.add(c.fingerprint256);
      if (walk(c, depth + 1)) return true;
    }
    return false;
  };
  return chain.length > 0 && walk(chain[0]!, 0);
}

/** Why the chain is not anchored in its own trust domain's bundle, or undefined when it is. */
function anchorProblem(
  chain: readonly X509Certificate[],
  trustDomain: string,
  anchors: TrustAnchors,
): string | undefined {
  const mine = anchorsFor(anchors, trustDomain);
  if (typeof mine === "string") return mine;
  if (!chainsToAnchors(chain, mine))
    return `peer certificate does not chain to the trust bundle of ${trustDomain}`;
  return undefined;
}

/** The peer's certificates as node:tls saw them, leaf first (issuer links followed until they loop). */
function peerChain(socket: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  let c = socket.getPeerCertificate(true);
  while (c && c.raw && !seen.has(c.fingerprint256) && out.length < MAX_CHAIN) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Per-connection verdicts
// ---------------------------------------------------------------------------------------------------------

/** The trust material a listener currently serves; `generation` changes with every successful reload. */
export interface TrustSource {
  readonly anchors: TrustAnchors;
  readonly generation: number;
}

interface Verdict {
  result: VerifiedPeer | string;
  /** Only for a verified peer: what it was verified with, to re-check after a reload. */
  source?: TrustSource;
  trustDomain?: string;
  generation?: number;
  chain?: X509Certificate[];
  notAfter?: number;
}

const verdicts = new WeakMap<TLSSocket, Verdict>();

/**
 * Checks the peer of a freshly handshaken socket against the listener's current trust material and
 * records the verdict for the connection's lifetime (keep-alive requests reuse it).
 */
export function verifyPeerAtHandshake(socket: TLSSocket, source: TrustSource): VerifiedPeer | string {
  const verdict = verifyPeer(socket, source);
  verdicts.set(socket, verdict);
  return verdict.result;
}

function verifyPeer(socket: TLSSocket, source: TrustSource): Verdict {
  if (!socket.authorized) {
    return {
      result: socket.authorizationError ? "client certificate not verified" : "no client certificate",
    };
  }
  const chain = peerChain(socket);
  if (chain.length === 0) return { result: "no client certificate" };
  const anchors = source.anchors;
  const svid = checkSvid(chain[0]!, anchors.allowed);
  if (typeof svid === "string") return { result: svid };
  const trustDomain = svid.facts.trustDomain ?? "";
  const problem = anchorProblem(chain, trustDomain, anchors);
  if (problem) return { result: problem };
  return {
    result: svid,
    source,
    trustDomain,
    generation: source.generation,
    chain,
    notAfter: Date.parse(chain[0]!.validTo),
  };
}

/**
 * The peer of a socket as verified at its handshake. A connection keeps its identity across requests,
 * with two exceptions that end it instead of trusting stale facts: the leaf expires, or the trust
 * material was reloaded and the chain no longer reaches its trust domain's bundle (a CA removed from a
 * bundle revokes the open connections it vouched for, at their next request).
 */
export function peerFromSocket(socket: TLSSocket): VerifiedPeer | string {
  const v = verdicts.get(socket);
  // Only a segment listener records verdicts; a socket it did not see has no identity.
  if (!v) return "connection was not verified by the segment listener";
  if (typeof v.result === "string" || !v.source || !v.chain) return v.result;
  if (Date.now() > (v.notAfter ?? 0)) {
    v.result = "peer certificate expired during the connection";
  } else if (v.generation !== v.source.generation) {
    const problem = anchorProblem(v.chain, v.trustDomain ?? "", v.source.anchors);
    v.generation = v.source.generation;
    if (problem) v.result = `${problem} (trust material reloaded)`;
  }
  return v.result;
}
