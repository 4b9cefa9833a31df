// Per-segment TLS: node:https options from the config, and the X.509-SVID checks node:tls does not do.
// Chain verification is node:tls's (against the segment's bundles); everything SPIFFE-specific is here.
import { createHash, type X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { ServerOptions } from "node:https";
import type { TLSSocket } from "node:tls";
import type { PeerFacts } from "../authn/types.js";
import type { SegmentTls } from "../config/index.js";
import { parseSpiffeId } from "../pki/index.js";

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

/** Reads the segment's files now, so a missing or unreadable file fails start-up, not the first request. */
export function tlsServerOptions(tls: SegmentTls): ServerOptions {
  const ca = tls.client_ca.map((f) => readFileSync(f, "utf8"));
  const wantCert = tls.client_auth !== "none";
  return {
    cert: readFileSync(tls.cert),
    key: readFileSync(tls.key),
    ...(wantCert && ca.length > 0 ? { ca } : {}),
    requestCert: wantCert,
    // `optional` lets an unverified peer finish the handshake; peerFromSocket then reports no identity.
    rejectUnauthorized: tls.client_auth === "require",
    minVersion: "TLSv1.2",
  };
}

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
  const now = Date.now();
  if (Date.parse(cert.validFrom) > now || Date.parse(cert.validTo) < now)
    return "peer certificate not valid now";
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

const verified = new WeakMap<TLSSocket, VerifiedPeer | string>();

/** The peer of a socket, checked once per connection (keep-alive requests reuse the result). */
export function peerFromSocket(socket: TLSSocket, trustDomains: readonly string[]): VerifiedPeer | string {
  const cached = verified.get(socket);
  if (cached !== undefined) return cached;
  let result: VerifiedPeer | string;
  if (!socket.authorized) {
    result = socket.authorizationError ? "client certificate not verified" : "no client certificate";
  } else {
    const cert = socket.getPeerX509Certificate();
    result = cert ? checkSvid(cert, trustDomains) : "no client certificate";
  }
  verified.set(socket, result);
  return result;
}
