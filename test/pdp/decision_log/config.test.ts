// `decision_logs:` in both configs: the PDP's (pdp/server/config.ts) and the gateway's
// (gateway/config/load.ts) run the same validation and report errors at their own file:line:col.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../../gateway/config/index.js";
import { DECISION_LOG_DEFAULTS } from "../../../pdp/decision_log/index.js";
import { parsePdpConfig, PdpConfigError, type ConfigIssue } from "../../../pdp/server/index.js";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-dl-config-"));
  mkdirSync(join(dir, "policies"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pdpYaml = (decisionLogs: string) => `listen: 127.0.0.1:8181
policies: policies
auth: { type: none }
decision_logs:
${decisionLogs}`;

const gatewayYaml = (decisionLogs: string) => `pdp: { policies: policies }
segments:
  - name: s
    listen: 127.0.0.1:8443
    upstream: http://127.0.0.1:9001
    tls: { cert: gw.pem, key: gw.key, client_ca: bundle.pem }
    authentication: mtls
decision_logs:
${decisionLogs}`;

function pdpIssues(block: string): ConfigIssue[] {
  try {
    parsePdpConfig(pdpYaml(block), join(dir, "pdp.yaml"));
  } catch (e) {
    expect(e).toBeInstanceOf(PdpConfigError);
    return (e as PdpConfigError).issues;
  }
  throw new Error("config was accepted");
}

describe("decision_logs config", () => {
  it("reads every setting, resolves paths against the config file and fills OPA-like defaults", () => {
    const c = parsePdpConfig(
      pdpYaml(`  console: true
  file: logs/decisions.log
  service:
    url: https://collector.example/logs
    headers: { x-tenant: blue }
    bearer_token_file: token.txt
  mask:
    - /input/token/claims/email
    - { op: upsert, path: /input/user/ssn, value: "**REDACTED**" }
  labels: { app: payments-pdp, region: eu }
  max_buffer_events: 500
  batch: { max_events: 50, max_delay_ms: 250 }`),
      join(dir, "pdp.yaml"),
    );
    expect(c.decision_logs).toEqual({
      console: true,
      file: {
        path: join(dir, "logs/decisions.log"),
        max_bytes: DECISION_LOG_DEFAULTS.file_max_bytes,
        max_files: DECISION_LOG_DEFAULTS.file_max_files,
      },
      service: {
        url: "https://collector.example/logs",
        headers: { "x-tenant": "blue" },
        bearer_token_file: join(dir, "token.txt"),
        gzip: true,
        timeout_ms: DECISION_LOG_DEFAULTS.timeout_ms,
        min_retry_delay_ms: DECISION_LOG_DEFAULTS.min_retry_delay_ms,
        max_retry_delay_ms: DECISION_LOG_DEFAULTS.max_retry_delay_ms,
      },
      mask: [
        { op: "remove", path: "/input/token/claims/email" },
        { op: "upsert", path: "/input/user/ssn", value: "**REDACTED**" },
      ],
      labels: { app: "payments-pdp", region: "eu" },
      max_buffer_events: 500,
      max_buffer_bytes: DECISION_LOG_DEFAULTS.max_buffer_bytes,
      batch: { max_events: 50, max_delay_ms: 250, max_bytes: DECISION_LOG_DEFAULTS.max_bytes },
    });
  });

  it("is off without the section, and with `console: false` alone", () => {
    const text = pdpYaml("  console: true").replace(/decision_logs:\n.*$/s, "");
    expect(parsePdpConfig(text, join(dir, "pdp.yaml")).decision_logs).toBeUndefined();
    expect(parsePdpConfig(pdpYaml("  console: false"), join(dir, "pdp.yaml")).decision_logs).toBeUndefined();
  });

  it("reports every problem at once with its key path and line", () => {
    const found = pdpIssues(`  consle: true
  service: { url: "http://collector.example/logs", headers: { content-type: text/plain } }
  mask: [ /labels/id, { op: upsert, path: /input/x } ]
  labels: { id: mine }
  max_buffer_events: 10
  batch: { max_events: 20 }
  file: { max_bytes: -1 }`);
    const byPath = Object.fromEntries(found.map((i) => [i.path, i]));
    expect(byPath["decision_logs.consle"]!.message).toMatch(/unknown key \(did you mean "console"\?\)/);
    expect(byPath["decision_logs.consle"]!.line).toBe(5);
    expect(byPath["decision_logs.service.url"]!.message).toMatch(/https URL \(http only on loopback\)/);
    expect(byPath["decision_logs.service.headers.content-type"]!.message).toMatch(/set by the decision-log/);
    expect(byPath["decision_logs.mask[0]"]!.message).toMatch(/must start with \/input or \/result/);
    expect(byPath["decision_logs.mask[1].value"]!.message).toMatch(/required for upsert/);
    expect(byPath["decision_logs.labels.id"]!.message).toMatch(/set by Portcullis/);
    expect(byPath["decision_logs.batch.max_events"]!.message).toMatch(/must not exceed max_buffer_events/);
    expect(byPath["decision_logs.file.path"]!.message).toBe("is required");
    expect(byPath["decision_logs.file.max_bytes"]!.message).toMatch(/integer from 0/);
    for (const i of found) expect(i.line).toBeGreaterThanOrEqual(4);
  });

  it("refuses a section that turns on no sink (a forgotten sink would silently log nothing)", () => {
    const [i] = pdpIssues("  mask: [ /input/password ]");
    expect(i!.path).toBe("decision_logs");
    expect(i!.message).toMatch(/turns on no sink/);
  });

  it("accepts the example in docs/decision-logs.md", () => {
    const doc = readFileSync(join(import.meta.dirname, "../../../docs/decision-logs.md"), "utf8");
    const block = /```yaml\ndecision_logs:\n([\s\S]*?)```/.exec(doc)![1]!;
    const c = parsePdpConfig(pdpYaml(block), join(dir, "pdp.yaml")).decision_logs!;
    expect(c.console).toBe(true);
    expect(c.file!.path).toBe("/var/log/portcullis/decisions.log");
    expect(c.service!.bearer_token_file).toBe(join(dir, "collector.token"));
    expect(c.mask).toHaveLength(2);
  });

  it("is the same section in the gateway's config", () => {
    const c = parseConfig(
      gatewayYaml("  console: true\n  mask: [ /input/token/claims/email ]"),
      join(dir, "gw.yaml"),
      {
        checkFiles: false,
      },
    );
    expect(c.decision_logs).toMatchObject({
      console: true,
      mask: [{ op: "remove", path: "/input/token/claims/email" }],
    });
    try {
      parseConfig(gatewayYaml("  service: { url: ftp://x }"), join(dir, "gw.yaml"), { checkFiles: false });
      throw new Error("config was accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const [i] = (e as ConfigError).errors;
      expect(i).toMatchObject({ path: "decision_logs.service.url", line: 9 });
    }
  });
});
