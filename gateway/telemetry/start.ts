// Starts the OpenTelemetry Node SDK for traces when the OTEL_* environment asks for it (enabled.ts), and
// only then loads it: every SDK module is a dynamic import behind that check.
import type { DiagLogger } from "@opentelemetry/api";
import { tracingSwitch, type Env } from "./enabled.js";
import { setSpanFactory, spanFactoryInstalled } from "./span.js";

export interface Telemetry {
  readonly tracing: boolean;
  /** Which variable decided (see enabled.ts); safe to print. */
  readonly reason: string;
  /** Flushes buffered spans and stops the SDK; bounded, never rejects. */
  shutdown(): Promise<void>;
}

/** Longer than one OTLP export normally takes; short enough for a container's SIGTERM grace period. */
const SHUTDOWN_TIMEOUT_MS = 5_000;

/** SDK diagnostics (a failed export, a bad variable) as the gateway's JSON log lines, messages only. */
function diagLogger(log: (line: string) => void): DiagLogger {
  const emit =
    (level: string) =>
    (message: string, ...args: unknown[]) => {
      // Only Error messages from the arguments: objects could be export payloads or exporter options.
      const details = args.filter((a): a is Error => a instanceof Error).map((e) => e.message);
      log(JSON.stringify({ event: "telemetry", level, message, ...(details.length ? { details } : {}) }));
    };
  const ignore = () => {};
  return { error: emit("error"), warn: emit("warn"), info: ignore, debug: ignore, verbose: ignore };
}

/** True when OTEL_SERVICE_NAME or a `service.name` resource attribute names the service already. */
function serviceNamed(env: Env): boolean {
  if (env.OTEL_SERVICE_NAME?.trim()) return true;
  return (env.OTEL_RESOURCE_ATTRIBUTES ?? "")
    .split(",")
    .some((kv) => kv.split("=")[0].trim() === "service.name");
}

export interface TelemetryOptions {
  /** Where SDK diagnostics go when OTEL_LOG_LEVEL is unset; default stderr. */
  log?: (line: string) => void;
}

/**
 * Reads the standard OTEL_* variables from `process.env` (the SDK reads them there too). Traces only: the
 * SDK's metrics and logs pipelines are not started, so an OTLP endpoint receives nothing but spans.
 */
export async function startTelemetry(o: TelemetryOptions = {}): Promise<Telemetry> {
  const env = process.env;
  const decided = tracingSwitch(env);
  if (!decided.enabled) return { tracing: false, reason: decided.reason, shutdown: async () => {} };
  if (spanFactoryInstalled()) throw new Error("telemetry is already started in this process");

  const [api, { NodeSDK }, { W3CTraceContextPropagator }, { AlwaysOnSampler }, { serverSpans }] =
    await Promise.all([
      import("@opentelemetry/api"),
      import("@opentelemetry/sdk-node"),
      import("@opentelemetry/core"),
      import("@opentelemetry/sdk-trace-base"),
      import("./server_span.js"),
    ]);
  if (!env.OTEL_LOG_LEVEL?.trim()) {
    api.diag.setLogger(diagLogger(o.log ?? ((l) => process.stderr.write(`${l}\n`))), api.DiagLogLevel.WARN);
  }
  const sdk = new NodeSDK({
    // The SDK's default sampler follows the parent's sampled flag, which here is the client's to set: a
    // caller could switch tracing of its own requests off. The edge samples by itself unless the operator
    // picked a sampler with OTEL_TRACES_SAMPLER.
    ...(env.OTEL_TRACES_SAMPLER?.trim() ? {} : { sampler: new AlwaysOnSampler() }),
    ...(serviceNamed(env) ? {} : { serviceName: "portcullis" }),
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
  });
  sdk.start();
  // W3C Trace Context for this hop whatever OTEL_PROPAGATORS says: it is the one format the gateway
  // strips from the client's request and writes for the upstream (server_span.ts).
  setSpanFactory(serverSpans(api.trace.getTracer("portcullis.gateway"), new W3CTraceContextPropagator()));

  let stopped: Promise<void> | undefined;
  return {
    tracing: true,
    reason: decided.reason,
    shutdown: () =>
      (stopped ??= (async () => {
        setSpanFactory(undefined);
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS);
          timer.unref();
        });
        // A collector that is down must not keep the process from exiting; its spans are lost.
        await Promise.race([sdk.shutdown().catch(() => {}), timeout]);
        clearTimeout(timer);
        api.diag.disable();
      })()),
  };
}
