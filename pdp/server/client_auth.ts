// Authenticating PDP clients (PEPs), so the PDP is not an open oracle: a bearer JWT checked against a
// JWKS (file or URL), issuer and audience; or a client certificate chained to the configured CA
// bundle (node:tls verifies the chain, we read its verdict); or `none`, which must be configured.
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
} from "jose";
import type { ClientAuthConfig } from "./config.js";

export type AuthResult =
  | { ok: true; client: string }
  | {
      ok: false;
      /** 401 when the client did not authenticate; 503 when we could not check (JWKS unreachable). */
      status: 401 | 503;
      message: string;
      headers: Record<string, string>;
    };

export type ClientAuthenticator = (req: IncomingMessage) => Promise<AuthResult>;

const REALM = "portcullis-pdp";
const MAX_TOKEN_BYTES = 16 * 1024;

/** Builds the authenticator for a config; reads a JWKS file now so a bad file fails start-up. */
export function clientAuthenticator(auth: ClientAuthConfig): ClientAuthenticator {
  switch (auth.type) {
    case "none":
      return () => Promise.resolve({ ok: true, client: "anonymous" });
    case "mtls":
      return (req) => Promise.resolve(checkClientCert(req));
    case "bearer":
      return bearerAuthenticator(auth);
  }
}

function checkClientCert(req: IncomingMessage): AuthResult {
  const socket = req.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== "function") {
    return { ok: false, status: 401, message: "a client certificate is required (mTLS)", headers: {} };
  }
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) {
    return { ok: false, status: 401, message: "a client certificate is required (mTLS)", headers: {} };
  }
  if (!socket.authorized) {
    return {
      ok: false,
      status: 401,
      message: `client certificate rejected: ${String(socket.authorizationError ?? "not trusted")}`,
      headers: {},
    };
  }
  const uri = /URI:([^,\s]+)/.exec(cert.subjectaltname ?? "")?.[1];
  const cn = cert.subject?.CN;
  return { ok: true, client: uri ?? (Array.isArray(cn) ? cn[0] : cn) ?? cert.fingerprint256 };
}

function bearerAuthenticator(auth: Extract<ClientAuthConfig, { type: "bearer" }>): ClientAuthenticator {
  let getKey: JWTVerifyGetKey;
  if (auth.jwks_file) {
    const jwks = JSON.parse(readFileSync(auth.jwks_file, "utf8")) as JSONWebKeySet;
    if (!jwks || !Array.isArray(jwks.keys))
      throw new Error(`${auth.jwks_file}: not a JWK set (no "keys" list)`);
    getKey = createLocalJWKSet(jwks);
  } else {
    getKey = createRemoteJWKSet(new URL(auth.jwks_url!), {
      timeoutDuration: 2000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  }
  const challenge = (error?: string, description?: string): Record<string, string> => {
    let v = `Bearer realm="${REALM}"`;
    if (error) v += `, error="${error}"`;
    if (description) v += `, error_description="${description.replace(/["\\]/g, "'")}"`;
    return { "www-authenticate": v };
  };
  return async (req) => {
    const header = req.headers.authorization;
    if (header === undefined) {
      return { ok: false, status: 401, message: "missing bearer token", headers: challenge() };
    }
    const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!m || header.length > MAX_TOKEN_BYTES) {
      return {
        ok: false,
        status: 401,
        message: "malformed Authorization header",
        headers: challenge("invalid_request", "malformed Authorization header"),
      };
    }
    try {
      const { payload } = await jwtVerify(m[1]!, getKey, {
        issuer: auth.issuer,
        audience: auth.audience,
        algorithms: auth.algorithms,
        clockTolerance: auth.clock_skew_s,
        requiredClaims: ["exp"],
      });
      return { ok: true, client: typeof payload.sub === "string" ? payload.sub : "bearer" };
    } catch (e) {
      // Not being able to fetch the keys is our outage, not the client's fault: 503, never an allow.
      if (e instanceof joseErrors.JWKSTimeout || !(e instanceof joseErrors.JOSEError) || isFetchFailure(e)) {
        return {
          ok: false,
          status: 503,
          message: "cannot verify tokens: JWKS unavailable",
          headers: { "retry-after": "5" },
        };
      }
      const description = e instanceof joseErrors.JWTExpired ? "token expired" : "token rejected";
      return {
        ok: false,
        status: 401,
        message: `invalid bearer token: ${e.message}`,
        headers: challenge("invalid_token", description),
      };
    }
  };
}

/** jose reports an unreachable or broken JWKS endpoint as a plain JOSEError with this code. */
function isFetchFailure(e: InstanceType<typeof joseErrors.JOSEError>): boolean {
  return e.code === "ERR_JOSE_GENERIC" || e.code === "ERR_JWKS_INVALID";
}
