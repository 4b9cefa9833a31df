// The Wasm engine over @open-policy-agent/opa-wasm with real Wasm modules that speak OPA's ABI
// (hand-written, abi_module.ts — not `opa build` output, see docs/engines.md): loading, entrypoint
// listing and selection, input, data updates, and every error path as a typed EngineError.
import { beforeAll, describe, expect, it } from "vitest";
import { EngineError, loadWasmEngine, type WasmEngine } from "../../../pdp/engine/index.js";
import { ABORT_MESSAGE, abiModule, ENTRYPOINTS } from "./abi_module.js";

// The project's TypeScript lib has no WebAssembly declarations; Node has the global.
const Wasm = (
  globalThis as unknown as {
    WebAssembly: { Module: { new (b: Uint8Array): object; exports(m: object): { name: string }[] } };
  }
).WebAssembly;

async function engineError(p: Promise<unknown> | (() => unknown)): Promise<EngineError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error("expected an EngineError");
}

// Minor version 1 takes the SDK's eval-context path (opa_eval_ctx_*, eval), 2 its opa_eval fast path.
describe.each([1, 2])("ABI 1.%i module", (minor) => {
  let bytes: Uint8Array;
  let engine: WasmEngine;
  beforeAll(async () => {
    bytes = await abiModule({ minor });
    engine = await loadWasmEngine({ bytes, data: { tenant: "a" }, revision: "r1" });
  });

  it("exports what selects the SDK path of its minor version", () => {
    const names = Wasm.Module.exports(new Wasm.Module(bytes)).map((e) => e.name);
    expect(names.includes("opa_eval")).toBe(minor >= 2);
    expect(names).toContain("opa_eval_ctx_new");
  });

  it("lists the module's entrypoints in id order", () => {
    expect(engine.kind).toBe("wasm");
    expect(engine.revision).toBe("r1");
    expect(engine.entrypoints()).toEqual(ENTRYPOINTS);
  });

  it("selects an entrypoint by name or by number", () => {
    const want = { allow: true, reason: "constant" };
    expect(engine.evaluate("test/allow")).toEqual(want);
    expect(engine.evaluate(0)).toEqual(want);
    expect(engine.evaluate("/test/allow/")).toEqual(want);
    expect(engine.evaluate(1, { user: { admin: true } })).toBe(true);
  });

  it("evaluates with the input; an empty result set is undefined", () => {
    expect(engine.evaluate("test/admin", { user: { admin: true } })).toBe(true);
    expect(engine.evaluate("test/admin", { user: { admin: false } })).toBeUndefined();
    expect(engine.evaluate("test/admin", {})).toBeUndefined();
    expect(engine.evaluate("test/admin")).toBeUndefined();
  });

  it("takes an input larger than the initial memory (the module grows it)", () => {
    const input = { pad: "x".repeat(600_000), user: { admin: true } };
    expect(engine.evaluate("test/admin", input)).toBe(true);
    expect(engine.evaluate("test/admin", { pad: "x".repeat(600_000) })).toBeUndefined();
  });

  it("sees data from loading, and a data update in the next evaluation", async () => {
    const e = await loadWasmEngine({ bytes, data: { tenant: "a" }, revision: "r1" });
    expect(e.evaluate("test/data")).toEqual({ tenant: "a" });
    e.setData({ tenant: "b", roles: ["admin"] });
    expect(e.evaluate("test/data")).toEqual({ tenant: "b", roles: ["admin"] });
    // Evaluations allocate on the heap above the data; many of them leave it intact.
    for (let i = 0; i < 200; i++) e.evaluate("test/admin", { i, pad: "y".repeat(2000) });
    expect(e.evaluate("test/data")).toEqual({ tenant: "b", roles: ["admin"] });
  });

  it("turns opa_abort into a typed error and keeps working", async () => {
    const err = await engineError(() => engine.evaluate("test/abort", {}));
    expect(err.code).toBe("abort");
    expect(err.engine).toBe("wasm");
    expect(err.message).toContain(ABORT_MESSAGE);
    expect(engine.evaluate("test/allow")).toEqual({ allow: true, reason: "constant" });
  });

  it("turns a builtin the host does not provide into a typed error and keeps working", async () => {
    const err = await engineError(() => engine.evaluate("test/builtin", {}));
    expect(err.code).toBe("builtin_error");
    expect(err.message).toContain("portcullis.not_provided");
    expect(engine.evaluate("test/admin", { user: { admin: true } })).toBe(true);
  });

  it("refuses an unknown entrypoint by name or number, naming the ones there are", async () => {
    const byName = await engineError(() => engine.evaluate("test/nope"));
    expect(byName.code).toBe("unknown_entrypoint");
    expect(byName.message).toContain('"test/nope"');
    expect(byName.message).toContain("test/allow, test/admin");
    for (const n of [5, -1, 1.5]) {
      expect((await engineError(() => engine.evaluate(n))).code).toBe("unknown_entrypoint");
    }
  });
});

describe("loading", () => {
  it("refuses bytes that are not a Wasm module", async () => {
    for (const bytes of [
      new Uint8Array(0),
      Buffer.from("not wasm at all"),
      Buffer.from([0, 0x61, 0x73, 0x6d]),
    ]) {
      const err = await engineError(loadWasmEngine({ bytes, revision: "r" }));
      expect(err.code).toBe("load_error");
      expect(err.message).toMatch(/^wasm: cannot load module: /);
    }
  });

  it("refuses a truncated module", async () => {
    const bytes = await abiModule();
    const err = await engineError(
      loadWasmEngine({ bytes: bytes.subarray(0, bytes.length - 10), revision: "r" }),
    );
    expect(err.code).toBe("load_error");
  });

  it("refuses a valid Wasm module that is not an OPA policy", async () => {
    const empty = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
    expect((await engineError(loadWasmEngine({ bytes: empty, revision: "r" }))).code).toBe("load_error");
  });

  it("refuses an ABI major version the SDK does not speak", async () => {
    const err = await engineError(loadWasmEngine({ bytes: await abiModule({ abi: 2 }), revision: "r" }));
    expect(err.code).toBe("load_error");
    expect(err.message).toContain("unsupported ABI version 2");
  });
});
