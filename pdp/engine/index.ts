// Policy engines behind one interface (docs/engines.md): our Rego engine and OPA's Wasm SDK.
export {
  EngineError,
  ENGINE_CHOICES,
  type Engine,
  type EngineChoice,
  type EngineErrorCode,
  type EngineEvalOptions,
  type EngineKind,
} from "./types.js";
export { RegoEngine, type RegoEngineOptions } from "./rego.js";
export { WasmEngine, loadWasmEngine, type WasmEngineOptions } from "./wasm.js";
export { activationEngine, createEngine, engineKind, type EngineSource } from "./select.js";
