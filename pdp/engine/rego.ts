// Our Rego engine behind the Engine interface: compile once, evaluate by path (evalPath's fast path).
import { compile, RegoError, type CompiledPolicy, type ModuleSource, type Value } from "../rego/index.js";
import { EngineError, type Engine, type EngineEvalOptions } from "./types.js";

export interface RegoEngineOptions {
  modules: ModuleSource[];
  data?: Record<string, unknown>;
  revision: string;
  /** An already compiled policy for these modules and data (a bundle compiled it while loading). */
  policy?: CompiledPolicy;
}

export class RegoEngine implements Engine {
  readonly kind = "rego" as const;
  readonly revision: string;
  private readonly modules: ModuleSource[];
  private policy_: CompiledPolicy;

  /** Throws EngineError("load_error") with the compile errors when the modules do not compile. */
  constructor(o: RegoEngineOptions) {
    this.revision = o.revision;
    this.modules = o.modules;
    this.policy_ = o.policy ?? compileOrThrow(o.modules, o.data ?? {});
  }

  /** The compiled policy (for callers that need queries beyond entrypoints). */
  get policy(): CompiledPolicy {
    return this.policy_;
  }

  entrypoints(): string[] {
    const out = new Set<string>();
    for (const m of this.policy_.modules) {
      const pkg = m.package.path.map((t) => (t.type === "string" ? t.value : "")).filter((s) => s !== "");
      for (const r of m.rules) {
        // Functions are not documents; a rule's first ref term names the document it defines.
        if (r.head.args !== null) continue;
        const first = r.head.ref[0];
        if (first?.type === "var") out.add([...pkg, first.name].join("/"));
      }
    }
    return [...out];
  }

  evaluate(entrypoint: string | number, input?: unknown, opts: EngineEvalOptions = {}): Value | undefined {
    const path = this.resolve(entrypoint);
    try {
      return this.policy_.evalPath(path, {
        ...(input !== undefined ? { input: input as Value } : {}),
        ...opts,
      });
    } catch (e) {
      if (e instanceof RegoError) {
        const code = e.code === "eval_builtin_error" ? "builtin_error" : "eval_error";
        throw new EngineError(code, e.message, "rego", { cause: e });
      }
      throw new EngineError("eval_error", e instanceof Error ? e.message : String(e), "rego", { cause: e });
    }
  }

  setData(data: Record<string, unknown>): void {
    // Recompiled, then swapped: an evaluation never sees half of the new data.
    this.policy_ = compileOrThrow(this.modules, data, "data_error");
  }

  private resolve(entrypoint: string | number): string[] {
    if (typeof entrypoint === "number") {
      const name = this.entrypoints()[entrypoint];
      if (name === undefined || !Number.isInteger(entrypoint)) {
        throw new EngineError("unknown_entrypoint", `unknown entrypoint number ${entrypoint}`, "rego");
      }
      return name.split("/");
    }
    // Any document under data can be asked for, as in OPA; an undefined one answers undefined.
    return entrypoint.split("/").filter((s) => s !== "");
  }
}

function compileOrThrow(
  modules: ModuleSource[],
  data: Record<string, unknown>,
  code: "load_error" | "data_error" = "load_error",
): CompiledPolicy {
  try {
    return compile({ modules, data: data as Value });
  } catch (e) {
    throw new EngineError(code, `rego: ${e instanceof Error ? e.message : String(e)}`, "rego", { cause: e });
  }
}
