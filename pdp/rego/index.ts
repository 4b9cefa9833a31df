// Public API of the Rego engine: compile a set of modules once, evaluate many
// queries against it. Knows nothing of HTTP or the gateway.
export { RegoError, RegoErrors, formatError } from "./errors.js";
export type { RegoErrorCode } from "./errors.js";
export { type Value, toJS, toJSONText, toRegoText, fromJS, equal, compare, typeName } from "./value.js";
export { parseModule, parseQuery, parseTerm } from "./parser.js";
export { compile, type CompiledPolicy, type ModuleSource, type CompileOptions } from "./compile.js";
export { type InputPaths } from "./input_paths.js";
export { type EvalOptions, type ResultRow, type PreparedQuery } from "./eval.js";
export { builtinNames, UNSUPPORTED_BUILTINS } from "./builtins/index.js";
