// The PDP as a bundle server and a bundle follower, over real sockets: `GET /bundles/{name}` with
// ETag, 304 and long polling, behind client authentication; bundle status in `GET /v1/status`; a
// watched directory reloaded on change; and a second PDP following the first one's bundle (signed,
// long-polled, with a bearer token) and picking up its changes.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_ISSUER, ensureDevPki, signAccessToken, type DevPki } from "../../../gateway/pki/index.js";
import {
  BundleSet,
  LONG_POLL_CONTENT_TYPE,
  loadBundle,
  readArchive,
  readKeyFile,
  signatureFile,
  type BundleConfig,
  type BundleFile,
} from "../../../pdp/bundle/index.js";
import { PolicyStore, startPdpServer, type PdpConfig, type RunningPdp } from "../../../pdp/server/index.js";
import { call, testConfig } from "../server/helpers.js";
import {
  bundleConfig,
  keyPair,
  nextEvent,
  removeTree,
  revisionPolicy,
  tempDir,
  writeTree,
  type KeyFiles,
} from "./helpers.js";

const AUDIENCE = "portcullis-pdp";

let dir: string;
let pki: DevPki;
let key: KeyFiles;
let token: string;
const running: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  dir = tempDir();
  pki = await ensureDevPki({ dir: join(dir, "pki"), svids: [], tokens: [] });
  key = keyPair(dir, "ec-p256", "signer");
  token = await signAccessToken(pki.issuer, {
    iss: DEV_ISSUER,
    aud: AUDIENCE,
    sub: "spiffe://demo.portcullis/pdp/b",
  });
});
afterAll(async () => {
  for (const r of running.reverse()) await r.stop();
  removeTree(dir);
});

function bearer(): PdpConfig["auth"] {
  return {
    type: "bearer",
    jwks_file: join(dir, "pki", "jwks.json"),
    issuer: DEV_ISSUER,
    audience: [AUDIENCE],
    algorithms: ["ES256"],
    clock_skew_s: 60,
  };
}

async function startPdp(config: BundleConfig, auth: PdpConfig["auth"] = { type: "none" }) {
  const store = new PolicyStore();
  const bundles = new BundleSet([config], store, () => undefined, { debounceMs: 30 });
  await bundles.start();
  const pdp: RunningPdp = await startPdpServer({
    config: testConfig({ auth }),
    store,
    bundles,
    log: () => undefined,
  });
  running.push({ stop: () => bundles.stop() }, { stop: () => pdp.close() });
  return { store, bundles, pdp, m: bundles.get(config.name)! };
}

/** Writes a signed revision of the policy into `root` (a directory bundle). */
async function writeSigned(root: string, rev: string): Promise<void> {
  writeTree(root, revisionPolicy(rev));
  const files: BundleFile[] = Object.entries(revisionPolicy(rev)).map(([path, s]) => ({
    path,
    bytes: Buffer.from(s),
  }));
  const sig = await signatureFile(files, {
    alg: "ES256",
    key: readKeyFile(key.privateFile, "signing", "ES256"),
    keyId: "k1",
  });
  writeFileSync(join(root, ".signatures.json"), sig);
}

const verification = () => ({ key_file: key.publicFile, alg: "ES256" as const, key_id: "k1" });

describe("GET /bundles/{name}", () => {
  it("serves the active bundle with an ETag, answers 304 to If-None-Match, needs client authentication", async () => {
    const root = writeTree(join(dir, "served"), revisionPolicy("s1"));
    const { pdp } = await startPdp(bundleConfig({ source: { type: "directory", path: root } }), bearer());
    const auth = { authorization: `Bearer ${token}` };

    expect((await call(pdp.url, "/bundles/authz")).status).toBe(401);
    expect((await call(pdp.url, "/health")).status).toBe(200);

    const r = await rawGet(`${pdp.url}/bundles/authz`, auth);
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("application/gzip");
    const etag = r.headers.etag as string;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    const served = await loadBundle(await readArchive(r.body), { name: "authz" });
    expect(served.revision).toBe("s1");

    const again = await rawGet(`${pdp.url}/bundles/authz`, { ...auth, "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(again.headers.etag).toBe(etag);
    expect(again.body.length).toBe(0);
    expect(
      (await rawGet(`${pdp.url}/bundles/authz`, { ...auth, "if-none-match": 'W/"other", ' + etag })).status,
    ).toBe(304);

    const missing = await call(pdp.url, "/bundles/nope", { headers: auth });
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ code: "resource_not_found" });
    expect((await call(pdp.url, "/bundles/authz", { method: "PUT", headers: auth, body: "x" })).status).toBe(
      405,
    );
  });

  it("serves a bundle file byte for byte", async () => {
    const { writeArchive } = await import("../../../pdp/bundle/index.js");
    const bytes = writeArchive(
      Object.entries(revisionPolicy("f1")).map(([path, s]) => ({ path, bytes: Buffer.from(s) })),
    );
    const file = join(dir, "f1.tar.gz");
    writeFileSync(file, bytes);
    const { pdp } = await startPdp(bundleConfig({ source: { type: "file", path: file } }));
    const r = await rawGet(`${pdp.url}/bundles/authz`);
    expect(r.body.equals(readFileSync(file))).toBe(true);
  });

  it("holds a long poll until the bundle changes, then answers with the new one", async () => {
    const root = writeTree(join(dir, "lp"), revisionPolicy("a"));
    const { pdp, m } = await startPdp(bundleConfig({ source: { type: "directory", path: root } }));
    const first = await rawGet(`${pdp.url}/bundles/authz`);
    const etag = first.headers.etag as string;

    const held = rawGet(`${pdp.url}/bundles/authz`, {
      "if-none-match": etag,
      prefer: "modes=snapshot;wait=20",
    });
    const activated = nextEvent(m, (e) => e.type === "activated");
    await new Promise((r) => setTimeout(r, 100)); // the request is in, and waiting
    writeTree(root, revisionPolicy("b"));
    await activated;
    const r = await held;
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe(LONG_POLL_CONTENT_TYPE);
    expect(r.headers.etag).not.toBe(etag);
    expect((await loadBundle(await readArchive(r.body), { name: "x" })).revision).toBe("b");

    // No change within the wait: 304 once it runs out.
    const quiet = await rawGet(`${pdp.url}/bundles/authz`, {
      "if-none-match": r.headers.etag as string,
      prefer: "wait=1",
    });
    expect(quiet.status).toBe(304);
  });
});

describe("watched directory and status", () => {
  it("reloads on change, rejects a broken edit, keeps serving, and reports it all in /v1/status", async () => {
    const root = writeTree(join(dir, "watched"), revisionPolicy("w1"));
    const { pdp, m, store } = await startPdp(bundleConfig({ source: { type: "directory", path: root } }));
    const answer = async () =>
      (await call(pdp.url, "/v1/data/authz/answer", { body: { input: { user: "alice" } } })).json as {
        result: { rule: string };
      };
    expect((await answer()).result.rule).toBe("w1");

    let next = nextEvent(m, (e) => e.type === "activated");
    writeTree(root, revisionPolicy("w2"));
    expect(await next).toMatchObject({ revision: "w2" });
    expect((await answer()).result.rule).toBe("w2");

    const rejected = nextEvent(m, (e) => e.type === "rejected");
    writeFileSync(join(root, "authz", "policy.rego"), "package authz\n\nanswer := {{\n");
    await rejected;
    expect((await answer()).result.rule).toBe("w2");
    expect(store.current()!.revision).toBe("w2");

    const status = (await call(pdp.url, "/v1/status")).json as {
      result: { bundles: Record<string, Record<string, unknown>> };
    };
    const st = status.result.bundles.authz!;
    expect(st).toMatchObject({
      name: "authz",
      active_revision: "w2",
      source: root,
      code: "bundle_compile_error",
    });
    expect(st.message).toMatch(/authz\/policy\.rego:\d+:\d+: rego_parse_error/);
    expect(st.last_error).toMatchObject({ code: "bundle_compile_error" });
    expect(typeof st.last_successful_activation).toBe("string");

    next = nextEvent(m, (e) => e.type === "activated");
    writeTree(root, revisionPolicy("w3"));
    await next;
    const after = (
      (await call(pdp.url, "/v1/status")).json as {
        result: { bundles: Record<string, Record<string, unknown>> };
      }
    ).result.bundles.authz!;
    expect(after.code).toBeUndefined();
    expect(after.active_revision).toBe("w3");
  });

  it("is not ready while an HTTP bundle has not been activated", async () => {
    const { pdp } = await startPdp(
      bundleConfig({
        source: { type: "http", url: "http://127.0.0.1:9/never.tar.gz" },
        polling: { min_delay_s: 60, max_delay_s: 60, timeout_s: 1 },
      }),
    );
    expect((await call(pdp.url, "/health?bundles")).status).toBe(503);
    expect((await call(pdp.url, "/v1/data/authz/answer", { body: { input: {} } })).status).toBe(503);
    const r = await call(pdp.url, "/bundles/authz");
    expect(r.status).toBe(503);
    expect(r.headers["retry-after"]).toBe("5");
  });
});

describe("a PDP following another PDP's bundle", () => {
  it("verifies the signed bundle, long-polls with a bearer token, and picks up the change at once", async () => {
    const root = join(dir, "origin");
    await writeSigned(root, "o1");
    const a = await startPdp(
      bundleConfig({ source: { type: "directory", path: root }, verification: verification() }),
      bearer(),
    );
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, `${token}\n`);
    const b = await startPdp(
      bundleConfig({
        source: { type: "http", url: `${a.pdp.url}/bundles/authz` },
        verification: verification(),
        bearer_token_file: tokenFile,
        // A minute between plain polls: only long polling can make the change arrive quickly.
        polling: { min_delay_s: 60, max_delay_s: 60, long_polling_timeout_s: 30, timeout_s: 5 },
      }),
    );
    await nextEvent(b.m, (e) => e.type === "activated");
    expect(b.store.current()!.revision).toBe("o1");
    expect(b.m.status().signed).toEqual({ algorithm: "ES256", key_id: "k1" });

    const followed = nextEvent(b.m, (e) => e.type === "activated", 15_000);
    await writeSigned(root, "o2");
    expect(await followed).toMatchObject({ revision: "o2" });
    const r = await call(b.pdp.url, "/v1/data/authz/answer", { body: { input: { user: "alice" } } });
    expect(r.json).toMatchObject({ result: { rule: "o2", data: "o2" } });
  });
});

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function rawGet(url: string, headers: Record<string, string> = {}): Promise<RawReply> {
  const { request } = await import("node:http");
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}
