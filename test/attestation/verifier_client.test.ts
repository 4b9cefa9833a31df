// The background-check client against the real reference verifier, and against scripted real HTTP
// servers for the failure modes: down, slow, refusing, broken, redirecting elsewhere, overloaded.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EarVerifier } from "../../attestation/ear/verify.js";
import { loadPrivateKey, type LoadedPrivateKey } from "../../attestation/keys.js";
import { sameNonce } from "../../attestation/nonce.js";
import {
  DEMO_CONFIG_HASH,
  DEMO_IMAGE_DIGEST,
  EVIDENCE_MEDIA_TYPE,
  parseVerifierConfig,
  signEvidence,
  startVerifier,
  type RunningVerifier,
} from "../../attestation/verifier/index.js";
import { VerifierClient, type VerifierClientOptions } from "../../attestation/verifier_client.js";
import { ensureDevPki } from "../../gateway/pki/index.js";
import { deadPort, newKey, serve, type TestServer } from "./helpers.js";

const measurements = { image_digest: DEMO_IMAGE_DIGEST, config_hash: DEMO_CONFIG_HASH };
let dir: string;
let agentKey: LoadedPrivateKey;
let verifier: RunningVerifier;
const servers: TestServer[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-client-"));
  const pki = await ensureDevPki({
    dir,
    svids: [{ name: "agent", spiffeId: "spiffe://demo.portcullis/agent/planner" }],
    tokens: [],
  });
  agentKey = loadPrivateKey(pki.svids.agent!.keyPem);
  writeFileSync(join(dir, "verifier.key"), newKey().key.export({ format: "pem", type: "pkcs8" }));
  const yaml = [
    "listen: 127.0.0.1:0",
    "signing_key: verifier.key",
    "reference_values:",
    `  image_digests: ["${DEMO_IMAGE_DIGEST}"]`,
    `  config_hashes: ["${DEMO_CONFIG_HASH}"]`,
    "attesters:",
    "  - name: agent",
    "    public_key: agent.pem",
  ].join("\n");
  verifier = await startVerifier(parseVerifierConfig(yaml, join(dir, "verifier.yaml")));
});
afterAll(async () => {
  await verifier.close();
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

function client(url: string, o: Partial<VerifierClientOptions> = {}): VerifierClient {
  return new VerifierClient({ url, media_type: EVIDENCE_MEDIA_TYPE, timeout_ms: 3000, ...o });
}

const build = (nonce: string) => signEvidence(agentKey, { nonce, measurements });

async function scripted(handler: http.RequestListener): Promise<TestServer> {
  const s = await serve(handler);
  servers.push(s);
  return s;
}

const SESSION = "application/rats-challenge-response-session+json";

describe("VerifierClient against the reference verifier", () => {
  it("runs the exchange with the verifier's nonce and returns an EAR that verifies", async () => {
    const c = client(verifier.url);
    const out = await c.appraise(build);
    c.close();
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.session).toMatch(/\/challenge-response\/v1\/session\/[0-9a-f]{32}$/);
    const ear = await new EarVerifier({ name: "ref", jwks: verifier.jwks }).verify(out.ear, {
      nonce: out.nonce,
    });
    expect(ear.status).toBe("affirming");
  });

  it("opens the session with our nonce when we bring one", async () => {
    const nonce = Buffer.alloc(32, 0xfe).toString("base64url");
    const c = client(`${verifier.url}/`);
    const out = await c.appraise(await build(nonce), { nonce });
    c.close();
    expect(out.ok && sameNonce(out.nonce, nonce)).toBe(true);
  });

  it("reports refused evidence as rejected, with the verifier's detail", async () => {
    const c = client(verifier.url);
    const out = await c.appraise((nonce) => signEvidence(newKey(), { nonce, measurements }));
    c.close();
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.failure.kind).toBe("rejected");
    expect(out.failure.status).toBe(400);
    expect(out.failure.message).toContain("unregistered attester");
  });

  it("refuses a nonce that is not 8..64 bytes of base64 before calling anyone", async () => {
    const c = client(verifier.url);
    const out = await c.appraise("x", { nonce: "short" });
    c.close();
    expect(!out.ok && out.failure.kind).toBe("rejected");
  });
});

describe("VerifierClient failures", () => {
  it("verifier down: connection refused is unreachable", async () => {
    const c = client(`http://127.0.0.1:${await deadPort()}`);
    const out = await c.appraise(build);
    expect(!out.ok && out.failure.kind).toBe("unreachable");
  });

  it("verifier slow: no answer within the deadline is timeout", async () => {
    const slow = await scripted(() => {
      // Never answers; the client must give up on its own.
    });
    const c = client(slow.url, { timeout_ms: 150 });
    const out = await c.appraise(build);
    c.close();
    expect(!out.ok && out.failure.kind).toBe("timeout");
  });

  it("verifier stalling mid-answer is timeout, not a connection error", async () => {
    const stall = await scripted((_q, res) => {
      res.writeHead(201, { location: "/s/1" });
      res.write('{"nonce": "AAAA');
    });
    const c = client(stall.url, { timeout_ms: 150 });
    const out = await c.appraise(build);
    c.close();
    expect(!out.ok && out.failure.kind).toBe("timeout");
  });

  it("a 5xx is verifier_error; bad JSON, a missing Location or a foreign Location is protocol", async () => {
    const cases: [http.RequestListener, string][] = [
      [(_q, r) => r.writeHead(500).end("{}"), "verifier_error"],
      [(_q, r) => r.writeHead(201, { location: "/s/1" }).end("not json"), "protocol"],
      [(_q, r) => r.writeHead(201).end(JSON.stringify({ nonce: "AAAAAAAAAAA=" })), "protocol"],
      [
        (_q, r) =>
          r
            .writeHead(201, { location: "http://evil.example/s/1" })
            .end(JSON.stringify({ nonce: "AAAAAAAAAAA=" })),
        "protocol",
      ],
      [
        (_q, r) => r.writeHead(201, { location: "/s/1" }).end(JSON.stringify({ nonce: "x".repeat(100_000) })),
        "protocol",
      ],
    ];
    for (const [handler, kind] of cases) {
      const s = await scripted(handler);
      const c = client(s.url);
      const out = await c.appraise(build);
      c.close();
      expect(!out.ok && out.failure.kind, kind).toBe(kind);
    }
  });

  it("refuses a session whose nonce is not ours, or that does not accept our media type", async () => {
    const ours = Buffer.alloc(16, 1).toString("base64");
    const swapped = await scripted((_q, r) =>
      r
        .writeHead(201, { location: "/s/1" })
        .end(JSON.stringify({ nonce: Buffer.alloc(16, 2).toString("base64") })),
    );
    let c = client(swapped.url);
    expect(await c.appraise("e", { nonce: ours })).toMatchObject({
      ok: false,
      failure: { kind: "protocol" },
    });
    c.close();
    const picky = await scripted((_q, r) =>
      r
        .writeHead(201, { location: "/s/1" })
        .end(JSON.stringify({ nonce: ours, accept: ["application/psa"] })),
    );
    c = client(picky.url);
    expect(await c.appraise("e", { nonce: ours })).toMatchObject({
      ok: false,
      failure: { kind: "rejected" },
    });
    c.close();
  });

  it("polls a 202 until the session completes", async () => {
    let polls = 0;
    const nonce = Buffer.alloc(16, 3).toString("base64");
    const s = await scripted((req, res) => {
      req.resume();
      req.on("end", () => {
        const body = (state: string, extra = {}) =>
          JSON.stringify({ nonce, state, accept: [EVIDENCE_MEDIA_TYPE], ...extra });
        if (req.url!.includes("newSession"))
          return res.writeHead(201, { location: "/s/1", "content-type": SESSION }).end(body("waiting"));
        if (req.method === "POST") return res.writeHead(202).end(body("processing"));
        polls++;
        if (polls < 3) return res.writeHead(200).end(body("processing"));
        res.writeHead(200).end(body("complete", { result: "eyJ.a.b" }));
      });
    });
    const c = client(s.url);
    const out = await c.appraise("evidence", { nonce });
    c.close();
    expect(out).toMatchObject({ ok: true, ear: "eyJ.a.b" });
    expect(polls).toBe(3);
  });

  it("bounds concurrency: beyond max_concurrent plus max_queue a call is overloaded at once", async () => {
    const hung = await scripted(() => {});
    const c = client(hung.url, { max_concurrent: 1, max_queue: 0, timeout_ms: 300 });
    const first = c.appraise(build);
    const second = await c.appraise(build);
    expect(!second.ok && second.failure.kind).toBe("overloaded");
    expect(await first).toMatchObject({ ok: false, failure: { kind: "timeout" } });
    c.close();
  });

  it("refuses plain http except on loopback", () => {
    expect(() => client("http://verifier.example")).toThrow(/https/);
    expect(() => client("https://verifier.example")).not.toThrow();
  });
});

// Keep-alive: several exchanges reuse one TCP connection.
describe("VerifierClient connections", () => {
  it("reuses a kept-alive connection across exchanges", async () => {
    const nonce = Buffer.alloc(16, 4).toString("base64");
    let sockets = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (req.url!.includes("newSession")) {
          return res.writeHead(201, { location: "/s/1" }).end(JSON.stringify({ nonce, state: "waiting" }));
        }
        res.writeHead(200).end(JSON.stringify({ nonce, state: "complete", result: "eyJ.a.b" }));
      });
    });
    server.on("connection", () => sockets++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const c = client(url);
    for (let i = 0; i < 3; i++) expect((await c.appraise("e", { nonce })).ok).toBe(true);
    c.close();
    await new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
    expect(sockets).toBe(1);
  });
});
