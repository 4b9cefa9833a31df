// Engine selection (`engine: auto|rego|wasm`) end to end: the PDP config, a real bundle directory
// with a policy.wasm (the hand-written ABI module, abi_module.ts) and a Rego module that answer the
// same entrypoint differently — so every answer says which engine produced it — loaded by the
// BundleManager and queried over HTTP through the Data API and AuthZEN.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BundleError, BundleSet, type BundleConfig } from "../../../pdp/bundle/index.js";
import { createEngine, EngineError, engineKind, type EngineChoice } from "../../../pdp/engine/index.js";
import {
  parsePdpConfig,
  PdpConfigError,
  PolicyStore,
  startPdpServer,
  type LogEvent,
} from "../../../pdp/server/index.js";
import { bundleConfig, nextEvent, removeTree, tempDir, writeTree } from "../bundle/helpers.js";
import { call, testConfig } from "../server/helpers.js";
import { abiModule } from "./abi_module.js";

const WASM_ALLOW = { allow: true, reason: "constant" };
const REGO_ALLOW = { allow: false, reason: "rego" };

let dir: string;
let wasm: Uint8Array;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = tempDir("portcullis-engine-");
  wasm = await abiModule();
});
afterAll(async () => {
  for (const s of stops.reverse()) await s();
  removeTree(dir);
});

/** A bundle directory: Rego for `test/allow`, and (optionally) the ABI module as policy.wasm. */
function writeBundle(name: string, withWasm: boolean): string {
  const root = join(dir, name);
  writeTree(root, {
    ".manifest": JSON.stringify({
      revision: `${name}-1`,
      roots: ["test"],
      ...(withWasm ? { wasm: [{ entrypoint: "test/allow", module: "/policy.wasm" }] } : {}),
    }),
    "test/policy.rego": `package test\n\nallow := ${JSON.stringify(REGO_ALLOW)}\n\nadmin if input.user.admin == true\n`,
    "test/data.json": JSON.stringify({ tenant: "acme" }),
    ...(withWasm ? { "policy.wasm": Buffer.from(wasm) } : {}),
  });
  return root;
}

async function startPdp(root: string, engine: EngineChoice | undefined) {
  const store = new PolicyStore();
  const logs: LogEvent[] = [];
  const config: BundleConfig = bundleConfig({
    source: { type: "directory", path: root },
    ...(engine ? { engine } : {}),
  });
  const bundles = new BundleSet([config], store, (e) => logs.push(e), { debounceMs: 30 });
  await bundles.start();
  stops.push(() => bundles.stop());
  const pdp = await startPdpServer({
    config: testConfig({ authzen: { entrypoint: "test/admin" } }),
    store,
    bundles,
    log: (e) => logs.push(e),
  });
  stops.push(() => pdp.close());
  return { store, bundles, pdp, logs, m: bundles.get("authz")! };
}

async function allow(base: string): Promise<unknown> {
  const r = await call(base, "/v1/data/test/allow", { method: "POST", body: { input: {} } });
  expect(r.status).toBe(200);
  return (r.json as { result?: unknown }).result;
}

describe("engineKind / createEngine", () => {
  const withWasm = { wasm: [{ path: "policy.wasm", bytes: new Uint8Array() }] };
  const without = { wasm: [] };
  it("auto picks wasm for a bundle with policy.wasm and rego otherwise; rego is rego", () => {
    expect(engineKind("auto", withWasm)).toBe("wasm");
    expect(engineKind("auto", without)).toBe("rego");
    expect(engineKind("rego", withWasm)).toBe("rego");
    expect(engineKind("wasm", withWasm)).toBe("wasm");
  });
  it("wasm without a policy.wasm, or with two, is an error", () => {
    expect(() => engineKind("wasm", without)).toThrow(EngineError);
    expect(() => engineKind("wasm", without)).toThrow("carries no policy.wasm");
    const two = { wasm: [withWasm.wasm[0]!, { path: "b/policy.wasm", bytes: new Uint8Array() }] };
    expect(() => engineKind("auto", two)).toThrow("2 Wasm modules");
  });
  it("builds the engine with the source's data", async () => {
    const src = {
      revision: "r",
      modules: [{ file: "t.rego", source: "package test\nallow := data.x" }],
      data: { x: 7 },
    };
    const rego = await createEngine("auto", { ...src, wasm: [] });
    expect([rego.kind, rego.evaluate("test/allow")]).toEqual(["rego", 7]);
    const w = await createEngine("auto", { ...src, wasm: [{ path: "policy.wasm", bytes: wasm }] });
    expect([w.kind, w.evaluate("test/data")]).toEqual(["wasm", { x: 7 }]);
  });
});

describe("the PDP config's engine", () => {
  const file = () => join(dir, "pdp.yaml");
  function parse(yaml: string) {
    writeTree(dir, { "cfgbundle/test/p.rego": "package test\np := 1\n" });
    return parsePdpConfig(`auth: {type: none}\n${yaml}`, file());
  }
  function issues(yaml: string): string[] {
    try {
      parse(yaml);
    } catch (e) {
      if (e instanceof PdpConfigError) return e.issues.map((i) => `${i.path}: ${i.message}`);
      throw e;
    }
    throw new Error("accepted");
  }
  it("is absent by default (rego) and copied into every bundle", () => {
    expect(parse("bundles: [{name: a, source: ./cfgbundle}]\n").engine).toBeUndefined();
    const c = parse("engine: auto\nbundles: [{name: a, source: ./cfgbundle}]\n");
    expect(c.engine).toBe("auto");
    expect(c.bundles![0]!.engine).toBe("auto");
  });
  it("rejects an unknown engine, and wasm without bundles", () => {
    expect(issues("engine: opa\nbundles: [{name: a, source: ./cfgbundle}]\n")).toEqual([
      'engine: must be one of auto|rego|wasm, got "opa"',
    ]);
    expect(issues("engine: wasm\npolicies: ./cfgbundle\n")[0]).toMatch(
      /^engine: wasm runs a bundle's policy.wasm/,
    );
  });
});

describe("bundle activation", () => {
  it("auto: a bundle with policy.wasm is answered by the Wasm engine, with the bundle's data", async () => {
    const { pdp, store } = await startPdp(writeBundle("auto-wasm", true), "auto");
    expect(store.current()!.engine?.kind).toBe("wasm");
    expect(await allow(pdp.url)).toEqual(WASM_ALLOW);
    const data = await call(pdp.url, "/v1/data/test/data", { method: "POST", body: { input: {} } });
    expect(data.json).toMatchObject({ result: { test: { tenant: "acme" } } });
    // AuthZEN goes through the same engine (entrypoint test/admin: the module's substring check).
    const az = await call(pdp.url, "/access/v1/evaluation", {
      method: "POST",
      body: {
        subject: { type: "user", id: "u", properties: { admin: true } },
        action: { name: "a" },
        resource: { type: "r", id: "1" },
      },
    });
    expect(az.status).toBe(200);
    expect(az.json).toEqual({ decision: true });
  });

  it("auto without policy.wasm, and rego (the default) with one, answer with our Rego engine", async () => {
    const a = await startPdp(writeBundle("auto-rego", false), "auto");
    expect(a.store.current()!.engine).toBeUndefined();
    expect(await allow(a.pdp.url)).toEqual(REGO_ALLOW);
    const b = await startPdp(writeBundle("default", true), undefined);
    expect(await allow(b.pdp.url)).toEqual(REGO_ALLOW);
  });

  it("wasm: a bundle without policy.wasm is refused at start", async () => {
    const store = new PolicyStore();
    const set = new BundleSet(
      [bundleConfig({ source: { type: "directory", path: writeBundle("no-wasm", false) }, engine: "wasm" })],
      store,
      () => undefined,
    );
    const err = await set.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BundleError);
    expect((err as BundleError).kind).toBe("compile");
    expect((err as BundleError).message).toContain("carries no policy.wasm");
    expect(store.current()).toBeUndefined();
  });

  it("an abort or unknown entrypoint is a 500 with OPA's error body, and the PDP keeps answering", async () => {
    const { pdp, logs } = await startPdp(writeBundle("errors", true), "wasm");
    for (const path of ["/v1/data/test/abort", "/v1/data/test/builtin", "/v1/data/test/nope"]) {
      const r = await call(pdp.url, path, { method: "POST", body: { input: {} } });
      expect(r.status).toBe(500);
      expect(r.json).toMatchObject({ code: "internal_error" });
      expect(r.json).not.toHaveProperty("result");
    }
    expect(logs.filter((l) => l.msg === "evaluation failed").map((l) => l.error)).toEqual([
      expect.stringContaining("policy called opa_abort"),
      expect.stringContaining("not implemented: built-in function"),
      expect.stringContaining('unknown entrypoint "test/nope"'),
    ]);
    expect(await allow(pdp.url)).toEqual(WASM_ALLOW);
  });

  it("a corrupt policy.wasm is rejected on reload and the previous revision keeps serving", async () => {
    const root = writeBundle("reload", true);
    const { pdp, m } = await startPdp(root, "auto");
    expect(await allow(pdp.url)).toEqual(WASM_ALLOW);
    const rejected = nextEvent(m, (e) => e.type === "rejected");
    writeFileSync(join(root, "policy.wasm"), "garbage");
    await m.reload();
    const e = await rejected;
    expect(e.type === "rejected" && e.error.kind).toBe("compile");
    expect(e.type === "rejected" && e.error.message).toMatch(/^wasm: cannot load module/);
    expect(m.status().code).toBe("bundle_compile_error");
    expect(await allow(pdp.url)).toEqual(WASM_ALLOW);
  });
});
