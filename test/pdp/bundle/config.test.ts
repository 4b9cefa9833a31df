// The `bundles:` section of the PDP config file: what it accepts, its defaults, and errors that name
// the file, line, column and key path like every other PDP config error.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_DEFAULTS } from "../../../pdp/bundle/index.js";
import { parsePdpConfig, PdpConfigError } from "../../../pdp/server/index.js";
import { keyPair, removeTree, tempDir, writeTree, type KeyFiles } from "./helpers.js";

let dir: string;
let file: string;
let key: KeyFiles;
beforeAll(() => {
  dir = tempDir();
  file = join(dir, "pdp.yaml");
  writeTree(dir, { "bundle/authz/policy.rego": "package authz", "token.txt": "t", "ca.pem": "x" });
  writeFileSync(join(dir, "bundle.tar.gz"), "");
  key = keyPair(dir, "ec-p256", "ec");
});
afterAll(() => removeTree(dir));

const head = "auth: {type: none}\n";

function issues(yaml: string): string[] {
  try {
    parsePdpConfig(head + yaml, file);
  } catch (e) {
    if (e instanceof PdpConfigError) return e.message.split("\n").slice(1);
    throw e;
  }
  throw new Error("config was accepted");
}

describe("bundles config", () => {
  it("accepts a directory, a file and an https URL, with defaults per source type", () => {
    const dirCfg = parsePdpConfig(`${head}bundles:\n  - name: authz\n    source: ./bundle\n`, file);
    expect(dirCfg.policies).toEqual([]);
    expect(dirCfg.bundles).toEqual([
      {
        name: "authz",
        source: { type: "directory", path: join(dir, "bundle") },
        polling: { ...BUNDLE_DEFAULTS.local, timeout_s: 30 },
        size_limit_bytes: 64 * 1024 * 1024,
        max_bundle_bytes: 256 * 1024 * 1024,
      },
    ]);
    const fileCfg = parsePdpConfig(`${head}bundles: [{name: authz, source: bundle.tar.gz}]\n`, file);
    expect(fileCfg.bundles![0]!.source).toEqual({ type: "file", path: join(dir, "bundle.tar.gz") });

    const http = parsePdpConfig(
      `${head}bundles:
  - name: authz
    source: https://bundles.example.com/authz.tar.gz
    verification: {key_file: ec.pub.pem, alg: ES256, key_id: k1, scope: write}
    polling: {min_delay_s: 10, max_delay_s: 20, long_polling_timeout_s: 60, timeout_s: 5}
    tls: {ca: ca.pem}
    bearer_token_file: token.txt
    size_limit_bytes: 1048576
`,
      file,
    );
    expect(http.bundles![0]).toMatchObject({
      source: { type: "http", url: "https://bundles.example.com/authz.tar.gz" },
      verification: { key_file: key.publicFile, alg: "ES256", key_id: "k1", scope: "write" },
      polling: { min_delay_s: 10, max_delay_s: 20, long_polling_timeout_s: 60, timeout_s: 5 },
      tls: { ca: join(dir, "ca.pem") },
      bearer_token_file: join(dir, "token.txt"),
      size_limit_bytes: 1048576,
    });
    expect(
      parsePdpConfig(`${head}bundles: [{name: a, source: "https://x.example/b"}]\n`, file).bundles![0]!
        .polling,
    ).toEqual({
      ...BUNDLE_DEFAULTS.http,
      timeout_s: 30,
    });
  });

  it("reports each problem with file:line:col and its key path", () => {
    expect(
      issues(`bundles:
  - name: "bad name"
    source: ./missing
    verification: {key_file: ec.pub.pem, alg: ES257}
    polling: {min_delay_s: 30, max_delay_s: 10, long_polling_timeout_s: 5}
    tls: {ca: ca.pem}
    pollling: {}
`),
    ).toEqual([
      `${file}:8:15: bundles[0].pollling: unknown key (did you mean "polling"?); allowed: name, source, verification, polling, tls, bearer_token_file, size_limit_bytes, max_bundle_bytes`,
      `${file}:3:11: bundles[0].name: must be letters, digits, '.', '_' or '-' (it is a URL path segment), got "bad name"`,
      `${file}:4:13: bundles[0].source: not found: ${join(dir, "missing")}`,
      `${file}:5:47: bundles[0].verification.alg: must be one of RS256|RS384|RS512|PS256|PS384|PS512|ES256|ES384|ES512|HS256|HS384|HS512, got "ES257"`,
      `${file}:6:45: bundles[0].polling.max_delay_s: must be at least min_delay_s (30)`,
      `${file}:6:73: bundles[0].polling.long_polling_timeout_s: applies to http(s) sources only`,
    ]);
  });

  it("refuses a key that does not fit, plain HTTP off loopback, HTTP-only options on local sources", () => {
    expect(
      issues(`bundles: [{name: a, source: ./bundle, verification: {key_file: ec.pub.pem, alg: RS256}}]\n`),
    ).toEqual([
      expect.stringMatching(
        /:2:\d+: bundles\[0\]\.verification\.key_file: .*ec\.pub\.pem: a ec prime256v1 key cannot be used with RS256$/,
      ),
    ]);
    expect(issues(`bundles: [{name: a, source: "http://bundles.example.com/b.tar.gz"}]\n`)).toEqual([
      expect.stringMatching(/bundles\[0\]\.source: must be an https URL \(http only on loopback\)/),
    ]);
    expect(
      issues(
        `bundles: [{name: a, source: ./bundle, polling: {long_polling_timeout_s: 5}, bearer_token_file: token.txt}]\n`,
      ),
    ).toEqual([
      expect.stringMatching(
        /bundles\[0\]\.polling\.long_polling_timeout_s: applies to http\(s\) sources only/,
      ),
      expect.stringMatching(/bundles\[0\]\.bearer_token_file: applies to http\(s\) sources only/),
    ]);
  });

  it("keeps one source of truth: not both policies and bundles, one bundle, a non-empty list", () => {
    expect(issues(`policies: ./bundle\nbundles: [{name: a, source: ./bundle}]\n`)).toEqual([
      expect.stringMatching(/:2:\d+: policies: cannot be combined with bundles/),
    ]);
    expect(issues(`bundles: [{name: a, source: ./bundle}, {name: b, source: ./bundle}]\n`)).toEqual([
      expect.stringMatching(/bundles: only one bundle per PDP is supported, got 2/),
    ]);
    expect(issues(`bundles: []\n`)).toEqual([expect.stringMatching(/bundles: must be a non-empty list/)]);
    // Without bundles, policies stays required, as before.
    expect(issues(`listen: 127.0.0.1:0\n`)).toEqual([expect.stringMatching(/policies: is required/)]);
  });
});
