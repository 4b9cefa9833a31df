// The `portcullis pdp` config: every error names file:line:col and the key path; nothing insecure
// is implied (auth must be written; the quick form without auth stays on loopback).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  parseListen,
  parsePdpConfig,
  pdpConfigFromObject,
  PdpConfigError,
} from "../../../pdp/server/index.js";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "portcullis-pdp-config-"));
  for (const f of ["cert.pem", "key.pem", "ca.pem", "jwks.json"]) writeFileSync(join(dir, f), "x");
  writeFileSync(join(dir, "p.rego"), "package p\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function issues(text: string): string {
  try {
    parsePdpConfig(text, join(dir, "pdp.yaml"));
  } catch (e) {
    if (e instanceof PdpConfigError) return e.message;
    throw e;
  }
  throw new Error("expected a config error");
}

describe("parsePdpConfig", () => {
  it("completes a minimal config with defaults and resolves paths against the file", () => {
    const c = parsePdpConfig("policies: p.rego\nauth:\n  type: none\n", join(dir, "pdp.yaml"));
    expect(c.listen).toEqual({ host: "127.0.0.1", port: 8181 });
    expect(c.policies).toEqual([join(dir, "p.rego")]);
    expect(c.auth).toEqual({ type: "none" });
    expect(c.limits).toEqual({
      max_body_bytes: 1048576,
      max_depth: 64,
      eval_timeout_ms: 1000,
      max_evaluations: 1000,
    });
    expect(c.authzen).toEqual({ entrypoint: "portcullis/authz/decision" });
    expect(c.file).toBe(join(dir, "pdp.yaml"));
  });

  it("reads the Data API decision cache, with defaults, and names a bad value's key", () => {
    const base = "policies: p.rego\nauth:\n  type: none\n";
    expect(parsePdpConfig(base, join(dir, "pdp.yaml")).cache).toBeUndefined();
    expect(parsePdpConfig(`${base}cache: {}\n`, join(dir, "pdp.yaml")).cache).toEqual({
      ttl_s: 60,
      max_entries: 10000,
    });
    expect(
      parsePdpConfig(`${base}cache: {ttl_s: 5, max_entries: 100}\n`, join(dir, "pdp.yaml")).cache,
    ).toEqual({
      ttl_s: 5,
      max_entries: 100,
    });
    expect(issues(`${base}cache: {max_entries: 0}\n`)).toMatch(/pdp\.yaml:4:\d+: cache\.max_entries: /);
    expect(issues(`${base}cache: {ttl: 5}\n`)).toMatch(/cache\.ttl: .*ttl_s/);
  });

  it("reads a full bearer config", () => {
    const c = parsePdpConfig(
      [
        "listen: 0.0.0.0:9000",
        "policies: [p.rego]",
        "tls: {cert: cert.pem, key: key.pem}",
        "auth:",
        "  type: bearer",
        "  jwks_file: jwks.json",
        "  issuer: https://issuer.example",
        "  audience: pdp",
        "limits: {max_body_bytes: 2048, eval_timeout_ms: 50}",
        "authzen: {entrypoint: authz/allow, pdp_identifier: https://pdp.example.com/}",
      ].join("\n"),
      join(dir, "pdp.yaml"),
    );
    expect(c.listen).toEqual({ host: "0.0.0.0", port: 9000 });
    expect(c.tls).toEqual({ cert: join(dir, "cert.pem"), key: join(dir, "key.pem"), client_ca: [] });
    expect(c.auth).toEqual({
      type: "bearer",
      jwks_file: join(dir, "jwks.json"),
      issuer: "https://issuer.example",
      audience: ["pdp"],
      algorithms: ["ES256", "ES384", "RS256", "PS256", "EdDSA"],
      clock_skew_s: 60,
    });
    expect(c.limits.max_body_bytes).toBe(2048);
    expect(c.authzen).toEqual({ entrypoint: "authz/allow", pdp_identifier: "https://pdp.example.com" });
  });

  it("requires auth to be written, naming the file and position", () => {
    expect(issues("policies: p.rego\n")).toBe(
      `invalid config (1 error):\n${join(dir, "pdp.yaml")}:1:1: auth: is required`,
    );
  });

  it("reports every problem with line, column and key path", () => {
    const msg = issues(
      [
        "listen: nowhere", // 1
        "policies: missing.rego", // 2
        "auth:", // 3
        "  type: bearer", // 4
        "  isuer: x", // 5
        "limits:", // 6
        "  max_depth: 0", // 7
      ].join("\n"),
    );
    const file = join(dir, "pdp.yaml");
    expect(msg).toContain(`${file}:1:9: listen: must be host:port, [ipv6]:port or :port, got "nowhere"`);
    expect(msg).toContain(`${file}:2:11: policies: not found: ${join(dir, "missing.rego")}`);
    expect(msg).toContain(
      `${file}:5:10: auth.isuer: unknown key (did you mean "issuer"?); allowed: type, jwks_file`,
    );
    expect(msg).toContain(`${file}:4:3: auth: bearer needs exactly one of jwks_file and jwks_url`);
    expect(msg).toContain(`auth.issuer: is required`);
    expect(msg).toContain(`${file}:7:14: limits.max_depth: must be an integer from 2 to 10000, got number 0`);
  });

  it("rejects mtls without a client CA, unknown auth types, http JWKS URLs off loopback and YAML errors", () => {
    expect(issues("policies: p.rego\nauth: {type: mtls}\n")).toContain(
      "auth.type: mtls needs a `tls` section",
    );
    expect(issues("policies: p.rego\ntls: {cert: cert.pem, key: key.pem}\nauth: {type: mtls}\n")).toContain(
      "tls: client_ca is required when auth.type is mtls",
    );
    expect(issues("policies: p.rego\nauth: {type: apikey}\n")).toContain(
      'auth.type: must be one of bearer|mtls|none, got "apikey"',
    );
    expect(
      issues(
        "policies: p.rego\nauth: {type: bearer, jwks_url: 'http://keys.example/jwks', issuer: i, audience: a}\n",
      ),
    ).toContain("auth.jwks_url: must be an https URL (http only on loopback)");
    expect(issues("policies: p.rego\nauth: {type: none, issuer: x}\n")).toContain(
      "auth.issuer: does not apply to type none",
    );
    expect(issues("policies: p.rego\npolicies: q\n")).toMatch(/pdp\.yaml:2:1: .*(unique|duplicate)/i);
    expect(
      issues("authzen: {pdp_identifier: 'http://pdp'}\npolicies: p.rego\nauth: {type: none}\n"),
    ).toContain("authzen.pdp_identifier: must be an https URL without query or fragment");
  });

  it("accepts auth none on any address when it is written down", () => {
    const c = parsePdpConfig("listen: :8181\npolicies: p.rego\nauth: {type: none}\n", join(dir, "pdp.yaml"));
    expect(c.listen.host).toBe("0.0.0.0");
  });
});

describe("the quick form", () => {
  it("without auth listens on loopback only", () => {
    const ok = pdpConfigFromObject(
      { policies: join(dir, "p.rego"), listen: "[::1]:0" },
      "portcullis pdp",
      dir,
    );
    expect(ok.auth).toEqual({ type: "none" });
    expect(ok.listen).toEqual({ host: "::1", port: 0 });
    expect(() =>
      pdpConfigFromObject({ policies: join(dir, "p.rego"), listen: "0.0.0.0:8181" }, "portcullis pdp", dir),
    ).toThrow(/listen: without client authentication the quick form listens on loopback only/);
  });
});

describe("parseListen", () => {
  it("parses host:port forms", () => {
    expect(parseListen("127.0.0.1:8181")).toEqual({ host: "127.0.0.1", port: 8181 });
    expect(parseListen("localhost:1")).toEqual({ host: "localhost", port: 1 });
    expect(parseListen("[::1]:8181")).toEqual({ host: "::1", port: 8181 });
    expect(parseListen(":8181")).toEqual({ host: "0.0.0.0", port: 8181 });
    for (const bad of ["8181", "127.0.0.1", "127.0.0.1:99999", "[nope]:1", "a b:1", "::1:8181"]) {
      expect(parseListen(bad), bad).toBeUndefined();
    }
  });
});
