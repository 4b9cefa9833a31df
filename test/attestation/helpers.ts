// Shared pieces of the attestation tests: real keys, real signed EARs, real HTTP servers.
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT } from "jose";
import { loadPrivateKey, type LoadedPrivateKey } from "../../attestation/keys.js";
import { EAR_DRAFT_PROFILE, VERAISON_PROFILE } from "../../attestation/ear/profiles.js";

/** A fresh EC key (P-256 by default) as a loaded private key. */
export function newKey(curve: "P-256" | "P-384" = "P-256"): LoadedPrivateKey {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: curve });
  return loadPrivateKey(privateKey.export({ format: "pem", type: "pkcs8" }).toString());
}

export function jwksOf(...keys: LoadedPrivateKey[]): { keys: Record<string, unknown>[] } {
  return { keys: keys.map((k) => ({ ...k.publicJwk })) };
}

export const now = () => Math.floor(Date.now() / 1000);

export const VERIFIER_ID = { developer: "https://verifier.test", build: "test 1" };

/** A draft-profile EAR claims set with one affirming submodule named `sub`. */
export function draftClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eat_profile: EAR_DRAFT_PROFILE,
    iat: now(),
    exp: now() + 300,
    ear_verifier_id: VERIFIER_ID,
    sub: "spiffe://demo.portcullis/agent/planner",
    submods: {
      workload: {
        ear_status: "affirming",
        ear_trustworthiness_vector: { "instance-identity": 2, executables: 2, configuration: 2 },
        ear_appraisal_policy_ids: ["urn:test:policy:1"],
      },
    },
    ...extra,
  };
}

/** The same result in Veraison's spelling. */
export function veraisonClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    eat_profile: VERAISON_PROFILE,
    iat: now(),
    "ear.verifier-id": VERIFIER_ID,
    sub: "spiffe://demo.portcullis/agent/planner",
    submods: {
      PARSEC_TPM: {
        "ear.status": "affirming",
        "ear.trustworthiness-vector": { "instance-identity": 2, executables: 2, hardware: 2 },
        "ear.appraisal-policy-id": "policy:PARSEC_TPM",
      },
    },
    ...extra,
  };
}

export function signEarClaims(
  key: LoadedPrivateKey,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: "JWT", kid: key.kid, ...header })
    .sign(key.key);
}

export interface TestServer {
  url: string;
  port: number;
  requests: number;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1:0. */
export async function serve(handler: http.RequestListener): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    out.requests++;
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const out: TestServer = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: 0,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  return out;
}

/** Serves a JWKS at /jwks.json. */
export function serveJwks(jwks: unknown): Promise<TestServer> {
  return serve((req, res) => {
    if (req.url !== "/jwks.json") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/jwk-set+json" }).end(JSON.stringify(jwks));
  });
}

/** A port nothing listens on: bind, note it, close. */
export async function deadPort(): Promise<number> {
  const s = await serve((_req, res) => res.end());
  await s.close();
  return s.port;
}
