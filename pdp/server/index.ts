// The PDP as an HTTP service: OPA's Data API, OpenID AuthZEN 1.0, health and status, with client
// authentication. Knows nothing of the gateway; `portcullis pdp` (cli/pdp.ts) runs it.
export {
  loadPdpConfig,
  parsePdpConfig,
  pdpConfigFromObject,
  parseListen,
  formatIssues,
  PdpConfigError,
  PDP_DEFAULTS,
  type PdpConfig,
  type ClientAuthConfig,
  type PdpLimits,
  type ConfigIssue,
} from "./config.js";
export { PolicyStore, compileRevision, contentRevision, type ActivePolicy } from "./policy_store.js";
export { startPdpServer, createPdpHandler, type PdpServerOptions, type RunningPdp } from "./server.js";
export { stderrLogger, type PdpLogger, type LogEvent } from "./context.js";
export { authzenInput, type AuthzenTuple } from "./authzen_request.js";
export { toAuthzenDecision } from "./authzen.js";
