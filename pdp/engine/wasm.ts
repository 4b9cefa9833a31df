// OPA's Wasm SDK (@open-policy-agent/opa-wasm) behind the Engine interface, for bundles carrying a
// `policy.wasm` built by `opa build -t wasm`. The SDK throws strings and plain objects (opa_abort,
// unknown builtins, bad entrypoints) and the module can trap; every one of them becomes an
// EngineError here, so a broken module costs a denied request, never the process.
import { loadPolicy, type LoadedPolicy } from "@open-policy-agent/opa-wasm";
import type { Value } from "../rego/index.js";
import { EngineError, thrownMessage, type Engine } from "./types.js";

export interface WasmEngineOptions {
  /** The module's bytes (a bundle's policy.wasm). */
  bytes: Uint8Array;
  data?: Record<string, unknown>;
  revision: string;
  /** Initial memory in 64 KiB pages (the SDK's default is 5); the module grows it as it needs. */
  memoryPages?: number;
}

/** Loads a module and its data. Throws EngineError("load_error" | "data_error"). */
export async function loadWasmEngine(o: WasmEngineOptions): Promise<WasmEngine> {
  let policy: LoadedPolicy;
  try {
    // A copy: the SDK may keep the buffer, and a bundle's Buffer can be a view into a pooled slab.
    const bytes = new Uint8Array(o.bytes);
    policy = await loadPolicy(bytes, { initial: o.memoryPages ?? 5 });
  } catch (e) {
    throw new EngineError("load_error", `wasm: cannot load module: ${thrownMessage(e)}`, "wasm", {
      cause: e,
    });
  }
  const engine = new WasmEngine(policy, o.revision);
  engine.setData(o.data ?? {});
  return engine;
}

export class WasmEngine implements Engine {
  readonly kind = "wasm" as const;
  private readonly ids: Map<string, number>;
  private readonly names: string[];

  constructor(
    private readonly policy: LoadedPolicy,
    readonly revision: string,
  ) {
    this.ids = new Map();
    const raw: unknown = policy.entrypoints;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new EngineError("load_error", "wasm: the module's entrypoints are not an object", "wasm");
    }
    for (const [name, id] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
        throw new EngineError("load_error", `wasm: entrypoint ${name} has an invalid id`, "wasm");
      }
      this.ids.set(name, id);
    }
    this.names = [...this.ids.entries()].sort((a, b) => a[1] - b[1]).map(([n]) => n);
  }

  entrypoints(): string[] {
    return [...this.names];
  }

  evaluate(entrypoint: string | number, input?: unknown): Value | undefined {
    const id = this.resolve(entrypoint);
    let rs: unknown;
    try {
      rs = this.policy.evaluate(input, id);
    } catch (e) {
      throw classify(e, entrypoint);
    }
    return resultValue(rs, entrypoint);
  }

  setData(data: Record<string, unknown>): void {
    try {
      this.policy.setData(data);
    } catch (e) {
      throw new EngineError("data_error", `wasm: cannot load data: ${thrownMessage(e)}`, "wasm", {
        cause: e,
      });
    }
  }

  /** An id of the module's own entrypoints; a name is looked up exactly (`a/b`, as `opa build -e`). */
  private resolve(entrypoint: string | number): number {
    if (typeof entrypoint === "number") {
      if ([...this.ids.values()].includes(entrypoint)) return entrypoint;
      throw new EngineError(
        "unknown_entrypoint",
        `wasm: unknown entrypoint number ${entrypoint}; the module has ${describe(this.names)}`,
        "wasm",
      );
    }
    const name = entrypoint.replace(/^\/+|\/+$/g, "");
    const id = this.ids.get(name);
    if (id === undefined) {
      throw new EngineError(
        "unknown_entrypoint",
        `wasm: unknown entrypoint ${JSON.stringify(name)}; the module has ${describe(this.names)}`,
        "wasm",
      );
    }
    return id;
  }
}

function describe(names: readonly string[]): string {
  return names.length === 0 ? "no entrypoints" : names.join(", ");
}

/** What the SDK or the module threw, as a typed error. */
function classify(e: unknown, entrypoint: string | number): EngineError {
  const msg = thrownMessage(e);
  const at = `wasm: entrypoint ${JSON.stringify(entrypoint)}`;
  // The SDK's message for a builtin it has no implementation of (opa.js _builtinCall).
  if (msg.startsWith("not implemented: built-in function")) {
    return new EngineError("builtin_error", `${at}: ${msg}`, "wasm", { cause: e });
  }
  // The SDK's message when opa_json_parse refused the input it wrote.
  if (msg === "failed to parse json value") {
    return new EngineError("eval_error", `${at}: the module refused the input: ${msg}`, "wasm", { cause: e });
  }
  if (typeof e === "string" || (e instanceof Error && e.name === "RuntimeError")) {
    // A string is opa_abort's message; a RuntimeError is a trap (unreachable, out of bounds).
    return new EngineError("abort", `${at}: aborted: ${msg}`, "wasm", { cause: e });
  }
  return new EngineError("eval_error", `${at}: ${msg}`, "wasm", { cause: e });
}

/** OPA's result set for an entrypoint: `[]` (undefined) or `[{"result": value}]`. */
function resultValue(rs: unknown, entrypoint: string | number): Value | undefined {
  const bad = (why: string) =>
    new EngineError("eval_error", `wasm: entrypoint ${JSON.stringify(entrypoint)}: ${why}`, "wasm");
  if (!Array.isArray(rs)) throw bad("the result set is not an array");
  if (rs.length === 0) return undefined;
  if (rs.length > 1) throw bad(`the result set has ${rs.length} results, expected at most 1`);
  const first: unknown = rs[0];
  if (typeof first !== "object" || first === null || !Object.prototype.hasOwnProperty.call(first, "result")) {
    throw bad("the result set's element has no `result`");
  }
  return (first as { result: Value }).result;
}
