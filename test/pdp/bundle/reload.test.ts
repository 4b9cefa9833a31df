// Hot reload under load: a real PDP answers a continuous stream of Data API requests while its
// bundle.tar.gz is replaced ten times — six valid revisions and four invalid bundles. Not one request
// may fail, and every answer must come from exactly one revision: the rule's revision, the data's
// revision and the provenance revision of each response agree, and each is one of the valid ones.
import { renameSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BundleSet, writeArchive, type BundleFile } from "../../../pdp/bundle/index.js";
import { PolicyStore, startPdpServer, type RunningPdp } from "../../../pdp/server/index.js";
import { testConfig } from "../server/helpers.js";
import { bundleConfig, nextEvent, removeTree, revisionPolicy, tempDir } from "./helpers.js";

let dir: string;
let file: string;
let bundles: BundleSet;
let pdp: RunningPdp;
const store = new PolicyStore();

const archive = (list: Record<string, string>): Buffer =>
  writeArchive(Object.entries(list).map(([path, s]): BundleFile => ({ path, bytes: Buffer.from(s) })));

/** Replaces the bundle file the way a deployment should: write aside, rename into place. */
function replace(bytes: Buffer): void {
  const tmp = join(dir, ".bundle.tmp");
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
}

beforeAll(async () => {
  dir = tempDir();
  file = join(dir, "bundle.tar.gz");
  writeFileSync(file, archive(revisionPolicy("v0")));
  bundles = new BundleSet(
    [
      bundleConfig({
        source: { type: "file", path: file },
        polling: { min_delay_s: 60, max_delay_s: 60, timeout_s: 5 },
      }),
    ],
    store,
    () => undefined,
    { debounceMs: 30 },
  );
  await bundles.start();
  pdp = await startPdpServer({ config: testConfig(), store, bundles, log: () => undefined });
});
afterAll(async () => {
  await bundles.stop();
  await pdp.close();
  removeTree(dir);
});

interface Observation {
  ok: boolean;
  detail: string;
  rule?: string;
  data?: string;
  provenance?: string;
}

function ask(agent: Agent): Promise<Observation> {
  const body = JSON.stringify({ input: { user: "alice" } });
  return new Promise((resolve) => {
    const req = request(
      `${pdp.url}/v1/data/authz/answer?provenance`,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => {
          try {
            const j = JSON.parse(text) as {
              result?: { rule: string; data: string; allow: boolean };
              provenance?: { bundles: Record<string, { revision: string }> };
            };
            resolve({
              ok: res.statusCode === 200 && j.result?.allow === true,
              detail: `${res.statusCode} ${text.slice(0, 200)}`,
              ...(j.result ? { rule: j.result.rule, data: j.result.data } : {}),
              ...(j.provenance ? { provenance: j.provenance.bundles.authz?.revision } : {}),
            });
          } catch {
            resolve({ ok: false, detail: `${res.statusCode} ${text.slice(0, 200)}` });
          }
        });
        res.on("error", (e) => resolve({ ok: false, detail: e.message }));
      },
    );
    req.on("error", (e) => resolve({ ok: false, detail: e.message }));
    req.end(body);
  });
}

it("serves every request during ten bundle replacements, each from exactly one revision", async () => {
  const observed: Observation[] = [];
  let running = true;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const workers = Array.from({ length: 8 }, async () => {
    while (running) observed.push(await ask(agent));
  });
  const seen = (rev: string) => observed.some((o) => o.rule === rev);
  const until = async (cond: () => boolean) => {
    const end = Date.now() + 15_000;
    while (!cond()) {
      if (Date.now() > end) throw new Error("the load did not observe the expected state in time");
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const m = bundles.get("authz")!;

  const steps: [string, Buffer, "activated" | "rejected"][] = [
    ["v1", archive(revisionPolicy("v1")), "activated"],
    ["corrupt gzip", Buffer.from("\x1f\x8b\x08garbage"), "rejected"],
    ["v2", archive(revisionPolicy("v2")), "activated"],
    [
      "compile error",
      archive({ ...revisionPolicy("bad"), "authz/policy.rego": "package authz\n\nanswer := {\n" }),
      "rejected",
    ],
    ["v3", archive(revisionPolicy("v3")), "activated"],
    [
      "roots violation",
      archive({ ...revisionPolicy("wide"), "elsewhere/data.json": '{"x": 1}' }),
      "rejected",
    ],
    ["v4", archive(revisionPolicy("v4")), "activated"],
    ["truncated", gzipSync(Buffer.alloc(700, 0x41)), "rejected"],
    ["v5", archive(revisionPolicy("v5")), "activated"],
    ["v6", archive(revisionPolicy("v6")), "activated"],
  ];
  try {
    await until(() => seen("v0"));
    for (const [name, bytes, outcome] of steps) {
      const event = nextEvent(m, (e) => e.type === "activated" || e.type === "rejected");
      replace(bytes);
      const e = await event;
      expect(e.type, name).toBe(outcome);
      if (outcome === "activated") {
        // Go on once the load has been answered by the new revision.
        await until(() => seen(name));
      } else {
        // Let requests flow while the rejected bundle is being processed and after.
        const mark = observed.length;
        await until(() => observed.length >= mark + 40);
      }
    }
  } finally {
    running = false;
    await Promise.all(workers);
    agent.destroy();
  }

  const failed = observed.filter((o) => !o.ok);
  expect(failed.slice(0, 3)).toEqual([]);
  const valid = new Set(["v0", "v1", "v2", "v3", "v4", "v5", "v6"]);
  const mixed = observed.filter((o) => o.rule !== o.data || o.rule !== o.provenance || !valid.has(o.rule!));
  expect(mixed.slice(0, 3)).toEqual([]);
  expect(new Set(observed.map((o) => o.rule))).toEqual(valid);
  expect(store.current()!.revision).toBe("v6");
  expect(m.status().last_error?.code).toBe("bundle_archive_error");
});
