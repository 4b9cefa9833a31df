import type { BuiltinDef } from "./registry.js";

export const builtins: BuiltinDef[] = [];
