// OpenTelemetry tracing of gateway requests: off unless the standard OTEL_* environment asks for it, and
// then one SERVER span per request with the decision as attributes and W3C trace context upstream.
export { tracingSwitch, type Env, type TracingSwitch } from "./enabled.js";
export { requestSpan, type DenyStage, type ErrorBody, type GateFacts, type RequestSpan } from "./span.js";
export { startTelemetry, type Telemetry, type TelemetryOptions } from "./start.js";
