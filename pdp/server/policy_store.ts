// The policy revision the PDP answers with. A request takes the active revision once, at its start,
// so a reload between two of its evaluations can never mix revisions within one answer; the bundle
// loader (a later stage) activates new revisions here.
import { createHash } from "node:crypto";
import type { Engine } from "../engine/index.js";
import { compile, type CompiledPolicy, type ModuleSource } from "../rego/index.js";

export interface ActivePolicy {
  policy: CompiledPolicy;
  /** The engine answering instead of `policy` (a bundle's policy.wasm, docs/engines.md). */
  engine?: Engine;
  /** Content hash of the modules and data (`sha256:` + 16 hex digits) or a bundle's manifest revision. */
  revision: string;
  /** The name the revision is reported under (OPA's bundle name). */
  name: string;
  /** Where it came from, for status and logs (a directory, a file, a URL). */
  source: string;
  activatedAt: Date;
}

export class PolicyStore {
  private active: ActivePolicy | undefined;
  private readonly listeners = new Set<(p: ActivePolicy) => void>();

  current(): ActivePolicy | undefined {
    return this.active;
  }

  activate(p: ActivePolicy): void {
    this.active = p;
    for (const l of this.listeners) l(p);
  }

  onActivate(listener: (p: ActivePolicy) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A stable hash of what the policy is made of; file paths are left out so a moved checkout keeps it. */
export function contentRevision(modules: readonly ModuleSource[], data: unknown): string {
  const h = createHash("sha256");
  const sources = modules.map((m) => m.source).sort();
  for (const s of sources) h.update(`${Buffer.byteLength(s)}:`).update(s);
  h.update(canonicalJSON(data));
  return `sha256:${h.digest("hex").slice(0, 16)}`;
}

/** Compiles modules and data into a revision ready to activate. Throws RegoErrors like compile(). */
export function compileRevision(o: {
  modules: ModuleSource[];
  data: unknown;
  name: string;
  source: string;
  revision?: string;
}): ActivePolicy {
  const policy = compile({ modules: o.modules, data: o.data });
  return {
    policy,
    revision: o.revision ?? contentRevision(o.modules, o.data),
    name: o.name,
    source: o.source,
    activatedAt: new Date(),
  };
}

function canonicalJSON(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJSON(o[k])}`)
    .join(",")}}`;
}
