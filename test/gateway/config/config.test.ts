// The serve config: defaults, paths, and that every error names file, key path and problem.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseConfig, type ConfigIssue } from "../../../gateway/config/index.js";

let dir: string;

// The example of issue 4, item 1, with its elisions filled in.
const EXAMPLE = `
pdp: { policies: ./policies, entrypoint: portcullis/authz/decision }
cache: { redis: redis://127.0.0.1:6379, ttl_s: 60 }
segments:
  - name: payments
    listen: 127.0.0.1:8443
    upstream: http://127.0.0.1:9001
    tls: { cert: gw.pem, key: gw.key, client_ca: bundle.pem, client_auth: require }
    authentication: { any: [ { all: [mtls, bearer] }, { all: [mtls, api_key] } ] }
    authenticators:
      bearer:  { issuer: https://as.example, audience: payments, jwks_uri: https://as.example/jwks, jwks_file: jwks.json }
      introspection: { endpoint: https://as.example/introspect, client_id: gw, client_secret_file: secret.txt }
      api_key: { header: x-api-key, keys_file: keys.yaml }
      basic:   { users_file: users.yaml }
      psk:     { header: x-psk, secrets_file: psk.yaml }
      jwt_assertion: { issuers: [ { issuer: https://idp.example, jwks_file: jwks.json } ], audience: payments }
    caller_types: [ { type: ai-agent, spiffe_path: "/agent/*" }, { type: iot-device, spiffe_path: "/device/*" } ]
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-config-"));
  mkdirSync(join(dir, "policies"));
  for (const f of [
    "gw.pem",
    "gw.key",
    "bundle.pem",
    "jwks.json",
    "secret.txt",
    "keys.yaml",
    "users.yaml",
    "psk.yaml",
  ]) {
    writeFileSync(join(dir, f), "");
  }
  writeFileSync(join(dir, "portcullis.yaml"), EXAMPLE);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The issues of a config expected to be invalid. */
function issues(text: string): ConfigIssue[] {
  try {
    parseConfig(text, join(dir, "bad.yaml"));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).errors;
  }
  throw new Error("config was accepted");
}

/** EXAMPLE with one line replaced. */
const edit = (from: string, to: string) => {
  expect(EXAMPLE).toContain(from);
  return EXAMPLE.replace(from, to);
};

const minimal = (segment: string) => `
pdp: { policies: policies }
segments:
  - name: s
    listen: 127.0.0.1:8443
    upstream: http://127.0.0.1:9001
${segment}`;

describe("loadConfig", () => {
  it("loads the issue's example, resolving paths against the config's directory and filling defaults", () => {
    const c = loadConfig(join(dir, "portcullis.yaml"));
    expect(c.file).toBe(join(dir, "portcullis.yaml"));
    expect(c.pdp).toEqual({ policies: join(dir, "policies"), entrypoint: "portcullis/authz/decision" });
    expect(c.cache).toEqual({ redis: "redis://127.0.0.1:6379", ttl_s: 60, max_entries: 10_000 });
    const s = c.segments[0]!;
    expect(s).toMatchObject({
      name: "payments",
      host: "127.0.0.1",
      port: 8443,
      upstream: "http://127.0.0.1:9001",
    });
    expect(s.tls).toEqual({
      cert: join(dir, "gw.pem"),
      key: join(dir, "gw.key"),
      client_ca: [join(dir, "bundle.pem")],
      client_auth: "require",
      trust_domains: [],
    });
    expect(s.authentication).toEqual({ any: [{ all: ["mtls", "bearer"] }, { all: ["mtls", "api_key"] }] });
    expect(s.authenticators.bearer).toMatchObject({
      audience: ["payments"],
      jwks_file: join(dir, "jwks.json"),
      clock_skew_s: 60,
      max_token_bytes: 8192,
    });
    expect(s.authenticators.bearer!.algorithms).not.toContain("HS256");
    expect(s.authenticators.introspection!.client_secret_file).toBe(join(dir, "secret.txt"));
    expect(s.authenticators.psk).toEqual({ header: "x-psk", secrets_file: join(dir, "psk.yaml") });
    expect(s.caller_types[0]).toEqual({ type: "ai-agent", spiffe_path: "/agent/*" });
    expect(s.limits).toEqual({ max_header_bytes: 16384, max_body_bytes: 1048576 });
  });

  it("fills defaults for a minimal config (entrypoint, cache, client_auth, limits)", () => {
    const c = parseConfig(
      minimal("    tls: { cert: gw.pem, key: gw.key, client_ca: [bundle.pem] }\n    authentication: mtls\n"),
      join(dir, "min.yaml"),
    );
    expect(c.pdp.entrypoint).toBe("portcullis/authz/decision");
    expect(c.cache).toEqual({ ttl_s: 60, max_entries: 10_000 });
    expect(c.segments[0]!.tls.client_auth).toBe("require");
    expect(c.segments[0]!.authentication).toBe("mtls");
    expect(c.segments[0]!.caller_types).toEqual([]);
  });

  it("reports an unreadable file with its name", () => {
    expect(() => loadConfig(join(dir, "missing.yaml"))).toThrow(/missing\.yaml: cannot read/);
  });
});

describe("errors name file, key path and problem", () => {
  it("a bad enum value", () => {
    const [e, ...rest] = issues(edit("client_auth: require", "client_auth: required"));
    expect(rest).toEqual([]);
    expect(e).toMatchObject({
      file: join(dir, "bad.yaml"),
      path: "segments[0].tls.client_auth",
      message: 'must be one of require|optional|none, got "required"',
      line: 8,
    });
  });

  it("collects all errors at once and formats them one per line with positions", () => {
    let err: ConfigError | undefined;
    try {
      parseConfig(
        edit("ttl_s: 60", "ttl_s: -1").replace("listen: 127.0.0.1:8443", "listen: 127.0.0.1"),
        join(dir, "bad.yaml"),
      );
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.errors.map((e) => e.path)).toEqual(["cache.ttl_s", "segments[0].listen"]);
    expect(err?.message).toContain(`${join(dir, "bad.yaml")}:3:`);
    expect(err?.message).toMatch(/segments\[0\]\.listen: must be host:port/);
  });

  it("unknown keys, at any depth, with a spelling hint", () => {
    const errs = issues(edit("client_auth: require", "client_auht: none").replace("cache:", "cahce:"));
    expect(errs.map((e) => [e.path, e.message.split(";")[0]])).toEqual([
      ["cahce", 'unknown key (did you mean "cache"?)'],
      ["segments[0].tls.client_auht", 'unknown key (did you mean "client_auth"?)'],
    ]);
  });

  it("missing required keys and wrong types", () => {
    const errs = issues(minimal("    tls: { key: 5 }\n    authentication: mtls\n"));
    expect(errs.map((e) => `${e.path}: ${e.message}`)).toEqual([
      "segments[0].tls.cert: is required",
      "segments[0].tls.key: must be a non-empty string, got number 5",
      "segments[0].tls.client_ca: is required",
    ]);
  });

  it("files that do not exist, resolved against the config's directory", () => {
    const [e] = issues(edit("keys_file: keys.yaml", "keys_file: sub/keys.yaml"));
    expect(e).toMatchObject({
      path: "segments[0].authenticators.api_key.keys_file",
      message: `file not found: ${join(dir, "sub", "keys.yaml")}`,
    });
  });

  it("an authentication expression naming an authenticator that is not configured", () => {
    const errs = issues(
      edit("{ all: [mtls, api_key] }", "{ all: [mtls, oauth] }").replace(/ {6}basic:.*\n/, ""),
    );
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ path: "segments[0].authentication.any[1].all[1]" });
    expect(errs[0]!.message).toMatch(/^unknown authentication method "oauth"; available: .*mtls/);
    const [notConfigured] = issues(
      edit("{ all: [mtls, api_key] }", "{ all: [mtls, basic] }").replace(/ {6}basic:.*\n/, ""),
    );
    expect(notConfigured!.message).toMatch(/authenticator "basic" is not configured/);
  });

  it("mtls in the expression while client_auth is none, and malformed expressions", () => {
    const [e] = issues(edit("client_auth: require", "client_auth: none"));
    expect(e).toMatchObject({ path: "segments[0].authentication.any[0].all[0]" });
    expect(e!.message).toMatch(/mtls cannot succeed with tls.client_auth none/);
    const errs = issues(
      edit("{ any: [ { all: [mtls, bearer] }, { all: [mtls, api_key] } ] }", "{ any: [], all: [mtls] }"),
    );
    expect(errs[0]!.message).toMatch(/exactly one key, any or all/);
    expect(
      issues(edit("{ any: [ { all: [mtls, bearer] }, { all: [mtls, api_key] } ] }", "{ all: [] }"))[0],
    ).toMatchObject({
      path: "segments[0].authentication.all",
      message: "must be a non-empty list, got a list",
    });
  });

  it("listen addresses", () => {
    for (const bad of ["127.0.0.1", "127.0.0.1:99999", "::1:8443", "bad_host:1", ":8443"]) {
      const errs = issues(edit("listen: 127.0.0.1:8443", `listen: "${bad}"`));
      expect(errs.map((e) => e.path)).toEqual(["segments[0].listen"]);
    }
    const ok = parseConfig(edit("listen: 127.0.0.1:8443", 'listen: "[::1]:8443"'), join(dir, "v6.yaml"));
    expect(ok.segments[0]).toMatchObject({ host: "::1", port: 8443 });
  });

  it("duplicate segment names and listen addresses (a wildcard host clashes with any host)", () => {
    const seg = EXAMPLE.slice(EXAMPLE.indexOf("  - name: payments"));
    const twice = EXAMPLE + seg.replace("listen: 127.0.0.1:8443", "listen: 0.0.0.0:8443");
    expect(issues(twice).map((e) => `${e.path}: ${e.message}`)).toEqual([
      "segments[1].name: duplicate segment name (also segments[0])",
      "segments[1].listen: address already used by segments[0]",
    ]);
    const fine = EXAMPLE + seg.replace("name: payments", "name: crm").replace(":8443", ":8444");
    expect(parseConfig(fine, join(dir, "two.yaml")).segments.map((s) => s.port)).toEqual([8443, 8444]);
  });

  it("duplicate YAML keys and YAML syntax errors carry a position", () => {
    const [dup] = issues(EXAMPLE.replace("cache:", "pdp: { policies: x }\ncache:"));
    expect(dup!.message).toMatch(/unique/i);
    expect(dup!.line).toBe(3);
    const [syntax] = issues("pdp: [\n");
    expect(syntax!.line).toBeGreaterThan(0);
  });

  it("security-weakening values: alg none / HS256, http issuers off loopback, secrets in URLs", () => {
    const errs = issues(
      edit(
        "issuer: https://as.example",
        "issuer: http://as.example, algorithms: [ES256, none, HS256]",
      ).replace("redis://127.0.0.1", "redis://user:pw@127.0.0.1"),
    );
    expect(errs.map((e) => e.path)).toEqual([
      "cache.redis",
      "segments[0].authenticators.bearer.issuer",
      "segments[0].authenticators.bearer.algorithms[1]",
      "segments[0].authenticators.bearer.algorithms[2]",
    ]);
    expect(() =>
      parseConfig(edit("issuer: https://as.example", "issuer: http://127.0.0.1:9000"), join(dir, "l.yaml")),
    ).not.toThrow();
  });

  it("caller type rules need a condition", () => {
    const [e] = issues(edit('{ type: iot-device, spiffe_path: "/device/*" }', "{ type: iot-device }"));
    expect(e).toMatchObject({ path: "segments[0].caller_types[1]" });
    expect(e!.message).toMatch(/needs at least one of spiffe_path/);
  });
});
