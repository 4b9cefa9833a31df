// The dev PKI on disk: what `portcullis certs` and the `npm start` demo write.
// The file names are a contract with the demo and its printed curl commands.
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { JWK } from "jose";
import { createCA, issueServerCert, issueSvid, loadCA, type Issued } from "./certs.js";
import { parseSpiffeId } from "./spiffe.js";
import { createIssuer, loadIssuer, signAccessToken, type DevIssuer } from "./tokens.js";

import { DEV_AUDIENCE, DEV_ISSUER, DEV_SCOPE, DEV_TRUST_DOMAIN } from "./names.js";

export { DEV_AUDIENCE, DEV_DIR, DEV_ISSUER, DEV_SCOPE, DEV_TRUST_DOMAIN } from "./names.js";

export interface DevSvid {
  /** File stem: `<name>.pem` / `<name>.key`. */
  name: string;
  spiffeId: string;
}

export interface DevToken {
  /** File stem: `<name>.jwt`. */
  name: string;
  sub: string;
  aud: string;
  scope: string;
  iss?: string;
  client_id?: string;
  ttl_s?: number;
}

export interface DevPkiOptions {
  dir: string;
  trustDomain?: string;
  /** Defaults to the demo agent (`agent` = spiffe://<td>/agent/planner) when neither svids nor tokens are given. */
  svids?: DevSvid[];
  /** Defaults to `agent.jwt` for the demo agent when neither svids nor tokens are given. */
  tokens?: DevToken[];
  /** Replace an existing CA and issuer key instead of reusing them. */
  force?: boolean;
}

export interface DevPki {
  dir: string;
  ca: Issued;
  gateway: Issued;
  svids: Record<string, Issued>;
  issuer: DevIssuer;
  tokens: Record<string, string>;
  /** Paths of every file written. */
  files: string[];
  caReused: boolean;
  issuerReused: boolean;
}

/** The demo agent's SVID and token, named as the demo and its docs expect. */
export function defaultDevIdentities(trustDomain = DEV_TRUST_DOMAIN): {
  svids: DevSvid[];
  tokens: DevToken[];
} {
  const spiffeId = `spiffe://${trustDomain}/agent/planner`;
  return {
    svids: [{ name: "agent", spiffeId }],
    tokens: [{ name: "agent", sub: spiffeId, aud: DEV_AUDIENCE, scope: DEV_SCOPE }],
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const RESERVED = new Set(["ca", "gateway", "issuer", "jwks"]);

/** Creates (or refreshes) the dev PKI in `o.dir`. The CA and issuer key are reused unless `force`. */
export async function ensureDevPki(o: DevPkiOptions): Promise<DevPki> {
  const dir = resolve(o.dir);
  const trustDomain = o.trustDomain ?? DEV_TRUST_DOMAIN;
  const defaults = o.svids === undefined && o.tokens === undefined ? defaultDevIdentities(trustDomain) : null;
  const svids = o.svids ?? defaults?.svids ?? [];
  const tokens = o.tokens ?? defaults?.tokens ?? [];
  checkNames(svids, tokens, trustDomain);

  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const write = (name: string, content: string, secret = false) => {
    const p = join(dir, name);
    writeFileSync(p, content, { mode: secret ? 0o600 : 0o644 });
    files.push(p);
  };

  const caPem = join(dir, "ca.pem");
  const caKey = join(dir, "ca.key");
  const caReused = !o.force && existsSync(caPem) && existsSync(caKey);
  let ca: Issued;
  if (caReused) {
    ca = await loadCA(readFileSync(caPem, "utf8"), readFileSync(caKey, "utf8"));
    // Issuing under a CA of another trust domain would give SVIDs no verifier of this domain accepts.
    const expected = `spiffe://${trustDomain}`;
    const sans = (new X509Certificate(ca.certPem).subjectAltName ?? "").split(", ");
    if (!sans.includes(`URI:${expected}`)) {
      throw new Error(`${caPem} is not the CA of trust domain ${trustDomain}; use --force to replace it`);
    }
  } else {
    ca = await createCA({ trustDomain });
    write("ca.pem", ca.certPem);
    write("ca.key", ca.keyPem, true);
  }

  const gateway = await issueServerCert(ca);
  write("gateway.pem", gateway.certPem);
  write("gateway.key", gateway.keyPem, true);

  const issued: Record<string, Issued> = {};
  for (const s of svids) {
    const svid = await issueSvid(ca, s.spiffeId);
    issued[s.name] = svid;
    write(`${s.name}.pem`, svid.certPem);
    write(`${s.name}.key`, svid.keyPem, true);
  }

  const issuerKey = join(dir, "issuer.key");
  const issuerReused = !o.force && existsSync(issuerKey);
  const issuer = issuerReused
    ? loadIssuer(JSON.parse(readFileSync(issuerKey, "utf8")) as JWK)
    : await createIssuer();
  if (!issuerReused) write("issuer.key", JSON.stringify(issuer.privateJwk, null, 2) + "\n", true);
  write("jwks.json", JSON.stringify(issuer.jwks, null, 2) + "\n");

  const minted: Record<string, string> = {};
  for (const t of tokens) {
    const jwt = await signAccessToken(issuer, {
      iss: t.iss ?? DEV_ISSUER,
      aud: t.aud,
      sub: t.sub,
      client_id: t.client_id,
      scope: t.scope,
      ttl_s: t.ttl_s ?? 3600,
    });
    minted[t.name] = jwt;
    write(`${t.name}.jwt`, jwt + "\n", true);
  }
  return { dir, ca, gateway, svids: issued, issuer, tokens: minted, files, caReused, issuerReused };
}

function checkNames(svids: DevSvid[], tokens: DevToken[], trustDomain: string): void {
  const seen = new Set<string>();
  for (const s of svids) {
    if (!NAME.test(s.name) || RESERVED.has(s.name)) throw new Error(`invalid file name "${s.name}"`);
    if (seen.has(s.name)) throw new Error(`two SPIFFE IDs would both be written as ${s.name}.pem`);
    seen.add(s.name);
    const id = parseSpiffeId(s.spiffeId);
    if (typeof id === "string") throw new Error(`${s.spiffeId}: ${id}`);
    if (id.trustDomain !== trustDomain) {
      throw new Error(`${s.spiffeId} is not in trust domain ${trustDomain} (set --trust-domain)`);
    }
    if (id.segments.length === 0) throw new Error(`${s.spiffeId}: a workload SPIFFE ID needs a path`);
  }
  const tokenNames = new Set<string>();
  for (const t of tokens) {
    if (!NAME.test(t.name) || RESERVED.has(t.name)) throw new Error(`invalid token file name "${t.name}"`);
    if (tokenNames.has(t.name)) throw new Error(`two tokens would both be written as ${t.name}.jwt`);
    tokenNames.add(t.name);
  }
}
