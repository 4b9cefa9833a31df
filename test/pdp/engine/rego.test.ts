// Our Rego engine behind the same Engine interface, and the same answers as the Wasm engine for the
// cases a Rego policy can express the same way as the hand-written ABI module (abi_module.ts).
import { beforeAll, describe, expect, it } from "vitest";
import { EngineError, loadWasmEngine, RegoEngine, type Engine } from "../../../pdp/engine/index.js";
import { abiModule } from "./abi_module.js";

// What abi_module.ts's test/allow and test/admin compute, in Rego.
const POLICY = `package test

allow := {"allow": true, "reason": "constant"}

admin if input.user.admin == true

tenant := data.tenant

double(x) := x * 2

conflict := 1 if input.c
conflict := 2 if input.c
`;

function regoEngine(data: Record<string, unknown> = {}): RegoEngine {
  return new RegoEngine({ modules: [{ file: "test.rego", source: POLICY }], data, revision: "r1" });
}

function thrown(fn: () => unknown): EngineError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error("expected an EngineError");
}

describe("RegoEngine", () => {
  it("lists its documents as entrypoints (functions are not documents)", () => {
    const e = regoEngine();
    expect(e.kind).toBe("rego");
    expect(e.revision).toBe("r1");
    expect(e.entrypoints()).toEqual(["test/allow", "test/admin", "test/tenant", "test/conflict"]);
  });

  it("selects an entrypoint by name or number and evaluates with the input", () => {
    const e = regoEngine();
    expect(e.evaluate(0)).toEqual({ allow: true, reason: "constant" });
    expect(e.evaluate("test/admin", { user: { admin: true } })).toBe(true);
    expect(e.evaluate(1, { user: { admin: false } })).toBeUndefined();
    // As in OPA's Data API, any document can be asked for; an undefined one is undefined.
    expect(e.evaluate("test/missing")).toBeUndefined();
  });

  it("sees a data update in the next evaluation", () => {
    const e = regoEngine({ tenant: "a" });
    expect(e.evaluate("test/tenant")).toBe("a");
    e.setData({ tenant: "b" });
    expect(e.evaluate("test/tenant")).toBe("b");
  });

  it("throws typed errors: unknown entrypoint number, evaluation error, compile error", () => {
    const e = regoEngine();
    expect(thrown(() => e.evaluate(9)).code).toBe("unknown_entrypoint");
    const conflict = thrown(() => e.evaluate("test/conflict", { c: true }));
    expect(conflict.code).toBe("eval_error");
    expect(conflict.message).toContain("eval_conflict_error");
    const bad = thrown(
      () => new RegoEngine({ modules: [{ file: "bad.rego", source: "package x\np := " }], revision: "r" }),
    );
    expect(bad.code).toBe("load_error");
    expect(bad.message).toContain("bad.rego");
  });
});

describe("the same answers from both engines", () => {
  let engines: Engine[];
  beforeAll(async () => {
    engines = [regoEngine(), await loadWasmEngine({ bytes: await abiModule(), revision: "r1" })];
  });

  const cases: [string | number, unknown][] = [
    ["test/allow", undefined],
    ["test/allow", { user: { admin: true } }],
    [0, {}],
    ["test/admin", { user: { admin: true } }],
    ["test/admin", { user: { admin: false } }],
    ["test/admin", { user: {} }],
    ["test/admin", undefined],
    [1, { user: { admin: true }, path: ["a", "b"] }],
  ];
  it.each(cases)("%s with input %j", (entrypoint, input) => {
    const [rego, wasm] = engines.map((e) => e.evaluate(entrypoint, input));
    expect(wasm).toEqual(rego);
  });

  it("both refuse an entrypoint number they do not have", () => {
    for (const e of engines) expect(thrown(() => e.evaluate(42)).code).toBe("unknown_entrypoint");
  });
});
