// The on/off rule for tracing over the standard OTEL_* variables (gateway/telemetry/enabled.ts).
import { describe, expect, it } from "vitest";
import { tracingSwitch, type Env } from "../../../gateway/telemetry/index.js";

const ENDPOINT = "http://127.0.0.1:4318";

describe("tracingSwitch", () => {
  const cases: [string, Env, boolean][] = [
    ["nothing set", {}, false],
    ["only unrelated OTEL variables", { OTEL_SERVICE_NAME: "gw", OTEL_TRACES_SAMPLER: "always_on" }, false],
    [
      "an empty exporter and endpoint count as unset",
      { OTEL_TRACES_EXPORTER: " ", OTEL_EXPORTER_OTLP_ENDPOINT: "" },
      false,
    ],
    ["OTEL_EXPORTER_OTLP_ENDPOINT", { OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT }, true],
    [
      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${ENDPOINT}/v1/traces` },
      true,
    ],
    ["OTEL_TRACES_EXPORTER=otlp", { OTEL_TRACES_EXPORTER: "otlp" }, true],
    ["OTEL_TRACES_EXPORTER=console", { OTEL_TRACES_EXPORTER: "console" }, true],
    ["OTEL_TRACES_EXPORTER=none", { OTEL_TRACES_EXPORTER: "none" }, false],
    [
      "none wins over an endpoint",
      { OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT },
      false,
    ],
    ["none anywhere in the list", { OTEL_TRACES_EXPORTER: "console, NONE" }, false],
    [
      "OTEL_SDK_DISABLED=true wins over an exporter",
      { OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" },
      false,
    ],
    [
      "OTEL_SDK_DISABLED=TRUE wins over an endpoint",
      { OTEL_SDK_DISABLED: "TRUE", OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT },
      false,
    ],
    [
      "OTEL_SDK_DISABLED=false does not disable",
      { OTEL_SDK_DISABLED: "false", OTEL_EXPORTER_OTLP_ENDPOINT: ENDPOINT },
      true,
    ],
    [
      "OTEL_SDK_DISABLED=1 is not true (spec: only `true`)",
      { OTEL_SDK_DISABLED: "1", OTEL_TRACES_EXPORTER: "otlp" },
      true,
    ],
  ];
  for (const [name, env, enabled] of cases) {
    it(`${enabled ? "on" : "off"}: ${name}`, () => {
      expect(tracingSwitch(env).enabled).toBe(enabled);
    });
  }

  it("names the deciding variable but never echoes an endpoint, which may carry credentials", () => {
    const r = tracingSwitch({ OTEL_EXPORTER_OTLP_ENDPOINT: "https://user:secret@collector.example" });
    expect(r).toEqual({ enabled: true, reason: "OTEL_EXPORTER_OTLP_ENDPOINT is set" });
  });
});
