// Real loopback servers and real keys for the authn tests; no mocks.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from "jose";
import type { RequestFacts } from "../../../gateway/authn/types.js";

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(kid: string, alg = "ES256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicJwk };
}

export interface TestServer {
  url: string;
  hits: number;
  close(): Promise<void>;
}

export async function startServer(
  handler: (req: IncomingMessage, body: string, res: ServerResponse) => void,
): Promise<TestServer> {
  const state = { hits: 0 };
  const server: Server = createServer((req, res) => {
    state.hits++;
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => handler(req, body, res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get hits() {
      return state.hits;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A JWKS endpoint whose key list the test can rotate; `hits` counts fetches. */
export async function startJwksServer(keys: JWK[]): Promise<TestServer & { keys: JWK[] }> {
  const holder = { keys };
  const srv = await startServer((_req, _body, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: holder.keys }));
  });
  // defineProperty, not Object.assign: assign would copy the getter's value, not the accessor.
  return Object.defineProperty(srv, "keys", {
    get: () => holder.keys,
    set: (k: JWK[]) => (holder.keys = k),
  }) as TestServer & { keys: JWK[] };
}

export const ISSUER = "https://as.example";
export const AUDIENCE = "payments";

export function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

export async function sign(
  key: SigningKey,
  claims: JWTPayload = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const t = nowS();
  return new SignJWT({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "spiffe://corp.example/agent/planner",
    client_id: "planner",
    iat: t,
    exp: t + 300,
    jti: `jti-${Math.random()}`,
    scope: "payments:read payments:write",
    ...claims,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "at+jwt", ...header })
    .sign(key.privateKey);
}

export function facts(headers: Record<string, string | string[]>, peer?: RequestFacts["peer"]): RequestFacts {
  return { method: "GET", path: "/", headers, peer };
}

export function b64url(value: unknown): string {
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
}
