// Following a bundle over HTTP against a real server: ETag / If-None-Match with 304s, a new revision
// picked up, an invalid new bundle rejected while the old revision keeps serving (and not downloaded
// again), OPA's long polling (`Prefer: wait=N`), backoff and recovery on errors, size limits and
// request timeouts.
import { createServer, type Server, type Socket } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  BundleManager,
  writeArchive,
  type BundleConfig,
  type BundleFile,
} from "../../../pdp/bundle/index.js";
import { PolicyStore } from "../../../pdp/server/index.js";
import {
  bundleConfig,
  keyPair,
  nextEvent,
  removeTree,
  revisionPolicy,
  startBundleServer,
  tempDir,
  type BundleServer,
  type KeyFiles,
} from "./helpers.js";

const archive = (list: Record<string, string>): Buffer =>
  writeArchive(Object.entries(list).map(([path, s]): BundleFile => ({ path, bytes: Buffer.from(s) })));

let dir: string;
let key: KeyFiles;
beforeAll(() => {
  dir = tempDir();
  key = keyPair(dir, "ec-p256", "ec");
});
afterAll(() => removeTree(dir));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

function managed(server: { url: string }, over: Partial<BundleConfig> = {}) {
  const store = new PolicyStore();
  const logs: { level: string; msg: string }[] = [];
  const m = new BundleManager({
    config: bundleConfig({
      source: { type: "http", url: server.url },
      polling: { min_delay_s: 0.05, max_delay_s: 0.1, timeout_s: 5 },
      ...over,
    }),
    sink: store,
    log: (e) => logs.push(e),
  });
  cleanups.push(() => m.stop());
  return { m, store, logs };
}

async function bundleServer(o: { longPoll?: boolean } = {}): Promise<BundleServer> {
  const s = await startBundleServer(o);
  cleanups.push(() => s.close());
  return s;
}

describe("HTTP polling", () => {
  it("sends If-None-Match, keeps the revision on 304, picks up a new revision", async () => {
    const server = await bundleServer();
    server.set(archive(revisionPolicy("r1")), '"etag-1"');
    const { m, store } = managed(server);
    const first = nextEvent(m, (e) => e.type === "activated");
    await m.start();
    expect(await first).toMatchObject({ type: "activated", revision: "r1" });
    await nextEvent(m, (e) => e.type === "unchanged");
    await nextEvent(m, (e) => e.type === "unchanged");
    expect(server.requests[0]).toMatchObject({ status: 200 });
    expect(server.requests[0]!.ifNoneMatch).toBeUndefined();
    expect(server.requests.slice(1).every((r) => r.ifNoneMatch === '"etag-1"' && r.status === 304)).toBe(
      true,
    );
    expect(store.current()!.revision).toBe("r1");

    const next = nextEvent(m, (e) => e.type === "activated");
    server.set(archive(revisionPolicy("r2")), '"etag-2"');
    expect(await next).toMatchObject({ revision: "r2" });
    expect(store.current()!.revision).toBe("r2");
    expect(store.current()!.policy.evalPath(["authz", "answer"], { input: { user: "alice" } })).toEqual({
      rule: "r2",
      data: "r2",
      allow: true,
    });
    const st = m.status();
    expect(st).toMatchObject({ name: "authz", active_revision: "r2", source: server.url });
    expect(st.last_successful_download).toBeDefined();
    expect(st.code).toBeUndefined();
  });

  it("rejects an invalid new bundle, keeps the old revision, and does not download the same one again", async () => {
    const server = await bundleServer();
    server.set(archive(revisionPolicy("good")));
    const { m, store, logs } = managed(server);
    const first = nextEvent(m, (e) => e.type === "activated");
    await m.start();
    await first;

    const bad: [string, Buffer, RegExp][] = [
      ["corrupt", Buffer.from("\x1f\x8bnot really gzip"), /corrupt archive/],
      [
        "compile error",
        archive({ ...revisionPolicy("broken"), "authz/policy.rego": "package authz\n\nx := \n" }),
        /rego_parse_error/,
      ],
      [
        "roots",
        archive({ ...revisionPolicy("wide"), "other/data.json": '{"a": 1}' }),
        /do not permit data at path '\/other/,
      ],
    ];
    for (const [what, bytes, pattern] of bad) {
      const rejected = nextEvent(m, (e) => e.type === "rejected");
      server.set(bytes);
      const e = await rejected;
      expect(e.type === "rejected" && e.error.message, what).toMatch(pattern);
      expect(store.current()!.revision).toBe("good");
      expect(m.status()).toMatchObject({ active_revision: "good", message: expect.stringMatching(pattern) });
      // The rejected bundle's ETag is remembered: the next polls are 304s, not downloads.
      const before = server.requests.length;
      await nextEvent(m, (ev) => ev.type === "unchanged");
      expect(server.requests.slice(before).every((r) => r.status === 304)).toBe(true);
    }
    expect(logs.some((l) => l.level === "error" && l.msg.startsWith("bundle rejected"))).toBe(true);

    const back = nextEvent(m, (e) => e.type === "activated");
    server.set(archive(revisionPolicy("fixed")));
    expect(await back).toMatchObject({ revision: "fixed" });
    const st = m.status();
    expect(st.code).toBeUndefined();
    expect(st.last_error).toMatchObject({ code: "bundle_roots_error" });
  });

  it("rejects an unsigned or wrongly signed bundle when a key is configured", async () => {
    const server = await bundleServer();
    server.set(archive(revisionPolicy("unsigned")));
    const { m, store } = managed(server, { verification: { key_file: key.publicFile, alg: "ES256" } });
    const rejected = nextEvent(m, (e) => e.type === "rejected");
    await m.start();
    const e = await rejected;
    expect(e.type === "rejected" && e.error.kind).toBe("signature");
    expect(store.current()).toBeUndefined();
    expect(m.current()).toBeUndefined();
  });

  it("long-polls a server that supports it: the held request answers as soon as the bundle changes", async () => {
    const server = await bundleServer({ longPoll: true });
    server.set(archive(revisionPolicy("lp1")));
    // Without long polling the next poll would be a minute away.
    const { m, store } = managed(server, {
      polling: { min_delay_s: 60, max_delay_s: 60, long_polling_timeout_s: 30, timeout_s: 5 },
    });
    const first = nextEvent(m, (e) => e.type === "activated");
    await m.start();
    await first;
    // The second request is held by the server, waiting for a change.
    await waitUntil(() => server.holding() === 1);
    const next = nextEvent(m, (e) => e.type === "activated", 10_000);
    server.set(archive(revisionPolicy("lp2")));
    expect(await next).toMatchObject({ revision: "lp2" });
    expect(store.current()!.revision).toBe("lp2");
    expect(server.requests.every((r) => r.prefer === "modes=snapshot;wait=30")).toBe(true);
    expect(server.requests.at(-1)!.ifNoneMatch).toBe('"v1"');
  });

  it("falls back to plain polling when the server does not say it supports long polling", async () => {
    const server = await bundleServer({ longPoll: false });
    server.set(archive(revisionPolicy("p1")));
    const { m } = managed(server, {
      polling: { min_delay_s: 0.05, max_delay_s: 0.05, long_polling_timeout_s: 30, timeout_s: 5 },
    });
    await m.start();
    await nextEvent(m, (e) => e.type === "unchanged");
    expect(server.requests[0]!.prefer).toBe("modes=snapshot;wait=30");
    expect(server.requests[1]!.prefer).toBe("modes=snapshot");
  });

  it("backs off on errors and recovers", async () => {
    const server = await bundleServer();
    server.failWith(503);
    const { m, store } = managed(server, { polling: { min_delay_s: 0.05, max_delay_s: 0.3, timeout_s: 5 } });
    const failures: string[] = [];
    m.onEvent((e) => {
      if (e.type === "fetch_error") failures.push(e.error.message);
    });
    await m.start();
    await waitUntil(() => failures.length >= 3);
    expect(failures[0]).toBe("server replied with 503");
    expect(store.current()).toBeUndefined();
    expect(m.status()).toMatchObject({ code: "bundle_fetch_error", message: "server replied with 503" });

    const ok = nextEvent(m, (e) => e.type === "activated");
    server.set(archive(revisionPolicy("after")));
    server.failWith(undefined);
    expect(await ok).toMatchObject({ revision: "after" });
  });

  it("cuts off a bundle larger than the limit", async () => {
    const server = await bundleServer();
    server.set(Buffer.alloc(64 * 1024, 7));
    const { m } = managed(server, { max_bundle_bytes: 4096 });
    const failed = nextEvent(m, (e) => e.type === "fetch_error");
    await m.start();
    const e = await failed;
    expect(e.type === "fetch_error" && e.error.message).toMatch(/exceeds the limit of 4096 bytes/);
  });

  it("gives up on a server that never answers", async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          silent.close(() => r());
        }),
    );
    const port = (silent.address() as { port: number }).port;
    const { m } = managed(
      { url: `http://127.0.0.1:${port}/b.tar.gz` },
      { polling: { min_delay_s: 1, max_delay_s: 1, timeout_s: 0.3 } },
    );
    const failed = nextEvent(m, (e) => e.type === "fetch_error");
    await m.start();
    const e = await failed;
    expect(e.type === "fetch_error" && e.error.message).toMatch(/timed out after 300 ms/);
  });
});

async function waitUntil(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
