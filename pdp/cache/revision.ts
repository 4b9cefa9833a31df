// A content revision for policies loaded from files (no bundle manifest): the same sources and data give
// the same revision in every process, so replicas sharing an L2 share keys, and any change to a module
// or a data value changes every key. Bundles (issue 5) bring their own `.manifest` revision instead.
import { hash } from "node:crypto";

export function policyRevision(modules: readonly { source: string }[], data: unknown): string {
  // Sorted by content, not by path: where the files live does not change what the policy decides. The
  // data's JSON text depends on its member order, which the loader takes from the files in a fixed order.
  const parts = modules.map((m) => hash("sha256", m.source, "hex")).sort();
  parts.push(hash("sha256", JSON.stringify(data ?? {}), "hex"));
  return `sha256:${hash("sha256", parts.join("\n"), "hex")}`;
}
