// Which engine runs a policy: `rego` (the default: our engine, what every PDP ran before engines
// existed), `wasm` (the bundle's policy.wasm through OPA's SDK; a bundle without one is refused),
// or `auto` (wasm when the bundle carries a policy.wasm, else rego).
import type { CompiledPolicy, ModuleSource } from "../rego/index.js";
import { RegoEngine } from "./rego.js";
import { EngineError, type Engine, type EngineChoice, type EngineKind } from "./types.js";

/** What a policy source offers an engine: structurally a bundle's LoadedBundle. */
export interface EngineSource {
  revision: string;
  modules: ModuleSource[];
  data: Record<string, unknown>;
  wasm: readonly { path: string; bytes: Uint8Array }[];
  /** Already compiled Rego (bundles compile while loading), reused by the Rego engine. */
  policy?: CompiledPolicy;
}

/** The engine `choice` means for `src`. Throws EngineError("load_error") when it cannot run it. */
export function engineKind(choice: EngineChoice, src: Pick<EngineSource, "wasm">): EngineKind {
  if (choice === "rego") return "rego";
  if (choice === "auto" && src.wasm.length === 0) return "rego";
  if (src.wasm.length === 0) {
    throw new EngineError("load_error", "engine wasm: the bundle carries no policy.wasm", "wasm");
  }
  if (src.wasm.length > 1) {
    // OPA can spread entrypoints over several modules; one module per bundle is what we load.
    throw new EngineError(
      "load_error",
      `engine wasm: the bundle carries ${src.wasm.length} Wasm modules (${src.wasm.map((w) => w.path).join(", ")}); one is supported`,
      "wasm",
    );
  }
  return "wasm";
}

/** Builds the engine `choice` selects for `src`, data loaded. Throws EngineError. */
export async function createEngine(choice: EngineChoice, src: EngineSource): Promise<Engine> {
  if (engineKind(choice, src) === "rego") {
    return new RegoEngine({
      modules: src.modules,
      data: src.data,
      revision: src.revision,
      ...(src.policy ? { policy: src.policy } : {}),
    });
  }
  // Loaded on first use: a PDP that never runs Wasm never loads the SDK.
  const { loadWasmEngine } = await import("./wasm.js");
  return loadWasmEngine({ bytes: src.wasm[0]!.bytes, data: src.data, revision: src.revision });
}

/**
 * The engine a bundle's revision is activated with, or undefined when it is our Rego engine (the
 * revision's compiled `policy` already is that engine). Throws EngineError: the bundle is then
 * rejected like one that does not compile, and the previous revision keeps serving.
 */
export async function activationEngine(choice: EngineChoice, src: EngineSource): Promise<Engine | undefined> {
  if (engineKind(choice, src) === "rego") return undefined;
  return createEngine(choice, src);
}
