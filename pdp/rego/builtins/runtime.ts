// opa.runtime. OPA returns the runtime's configuration and environment only
// when it runs as a server with a runtime attached; embedded evaluation (its
// rego package, its conformance runner) gets an empty object. Portcullis
// does the same: exposing process.env to policies would hand every policy
// author the gateway's secrets, and the PDP's own configuration has no
// business being readable from Rego either.
import type { BuiltinDef } from "./registry.js";
import { def } from "./lib/args.js";

export const builtins: BuiltinDef[] = [
  // Marked nondeterministic as OPA does, so a future runtime-aware version
  // cannot be folded into compiled policies by mistake.
  def("opa.runtime", 0, () => Object.create(null) as Record<string, never>, { nondeterministic: true }),
];
