// The gateway's YAML config: loading, validation, defaults and types.
export { ALLOWED_ALGORITHMS, ConfigError, DEFAULTS, formatIssues, loadConfig, parseConfig } from "./load.js";
export type { LoadOptions } from "./load.js";
export type * from "./types.js";
