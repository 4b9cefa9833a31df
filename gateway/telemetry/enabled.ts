// Whether the standard OTEL_* environment asks for traces. Decided before anything of the SDK is loaded,
// so a gateway without tracing configured never pays for it.
//
// The rule, first match wins:
//   1. OTEL_SDK_DISABLED is `true` (any case)              → off
//   2. OTEL_TRACES_EXPORTER is set and lists `none`        → off
//   3. OTEL_TRACES_EXPORTER is set (otlp, console, zipkin) → on
//   4. OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set → on (OTLP)
//   5. otherwise                                           → off
// "Set" means non-empty after trimming: the OpenTelemetry spec treats an empty variable as unset.

export type Env = Readonly<Record<string, string | undefined>>;

export interface TracingSwitch {
  enabled: boolean;
  /** Names the variable that decided; never a value that could carry a credential (endpoints, headers). */
  reason: string;
}

function value(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}

export function tracingSwitch(env: Env): TracingSwitch {
  if (value(env, "OTEL_SDK_DISABLED")?.toLowerCase() === "true") {
    return { enabled: false, reason: "OTEL_SDK_DISABLED=true" };
  }
  const exporters = value(env, "OTEL_TRACES_EXPORTER");
  if (exporters !== undefined) {
    const list = exporters
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== "");
    // The SDK would fall back to OTLP for `console,none`; an operator who wrote `none` meant off.
    if (list.includes("none")) return { enabled: false, reason: "OTEL_TRACES_EXPORTER lists none" };
    if (list.length > 0) return { enabled: true, reason: `OTEL_TRACES_EXPORTER=${list.join(",")}` };
  }
  for (const name of ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"]) {
    if (value(env, name) !== undefined) return { enabled: true, reason: `${name} is set` };
  }
  return { enabled: false, reason: "no OTEL_TRACES_EXPORTER or OTLP endpoint set" };
}
