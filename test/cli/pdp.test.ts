// `portcullis pdp` as a real process (bin/portcullis.js on the build in dist/): it answers the Data
// API and AuthZEN with the shipped policy, exits cleanly on SIGTERM, and refuses bad configs.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { call } from "../pdp/server/helpers.js";
import { cli, removeTree, tempTree } from "./helpers.js";

const repo = resolve(import.meta.dirname, "../..");
const bin = join(repo, "bin", "portcullis.js");

/** The sources this test runs through dist/; rebuilt when any is newer than its output. */
function stale(): boolean {
  const sources = [
    join(repo, "cli", "pdp.ts"),
    join(repo, "cli", "main.ts"),
    ...readdirSync(join(repo, "pdp", "server")).map((f) => join(repo, "pdp", "server", f)),
  ];
  return sources.some((src) => {
    const out = join(repo, "dist", src.slice(repo.length + 1).replace(/\.ts$/, ".js"));
    return !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs;
  });
}

let root: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  if (stale()) {
    execFileSync(
      process.execPath,
      [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"],
      {
        cwd: repo,
        stdio: "inherit",
      },
    );
  }
  root = tempTree({
    "bad.yaml": "policies: ../policies\nauth:\n  type: anyone\n",
    "ok.yaml": "",
  });
}, 120_000);
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  removeTree(root);
});

/** Spawns the CLI and resolves with the base URL it prints once it listens. */
function startProcess(
  args: string[],
): Promise<{ child: ChildProcess; url: string; out: () => string; err: () => string }> {
  const child = spawn(process.execPath, [bin, ...args], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  return new Promise((resolveStart, reject) => {
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /pdp: listening on (https?:\/\/\S+) /.exec(out);
      if (m) resolveStart({ child, url: m[1]!, out: () => out, err: () => err });
    });
    child.on("exit", (code) => reject(new Error(`exited ${code} before listening:\n${out}\n${err}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) =>
    child.exitCode !== null ? r(child.exitCode) : child.on("exit", (code) => r(code)),
  );
}

describe("portcullis pdp (real process)", () => {
  it("serves the shipped policy on loopback, answers the Data API and AuthZEN, and stops on SIGTERM", async () => {
    const p = await startProcess(["pdp", "--policies", "policies", "--listen", "127.0.0.1:0"]);
    expect(p.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The start-up lines may arrive in more than one chunk after the "listening" line.
    await vi.waitFor(() => {
      expect(p.out()).toMatch(/revision sha256:[0-9a-f]{16}/);
      expect(p.out()).toContain("client authentication: none (loopback only)");
    });

    const input = {
      segment: "payments",
      request: { method: "GET", path: "/payments/1" },
      caller: { type: "service" },
      token: { scopes: ["payments:read"] },
    };
    const r = await call(p.url, "/v1/data/portcullis/authz/decision", { body: { input } });
    expect(r.status).toBe(200);
    expect((r.json as { result: { allow: boolean } }).result.allow).toBe(true);
    const denied = await call(p.url, "/v1/data/portcullis/authz/decision", {
      body: { input: { ...input, request: { method: "DELETE", path: "/payments/1" } } },
    });
    expect((denied.json as { result: { allow: boolean } }).result.allow).toBe(false);

    const az = await call(p.url, "/access/v1/evaluation", {
      body: {
        subject: { type: "service", id: "svc", properties: { token: { scopes: ["payments:read"] } } },
        action: { name: "GET" },
        resource: { type: "route", id: "/payments/1", properties: { segment: "payments" } },
      },
    });
    expect((az.json as { decision: boolean }).decision).toBe(true);
    expect((await call(p.url, "/health")).status).toBe(200);

    p.child.kill("SIGTERM");
    expect(await exited(p.child)).toBe(0);
    expect(p.out()).toContain("pdp: SIGTERM, shutting down");
  });

  it("exits 1 naming the file, line and key path on a bad config", () => {
    const r = spawnSync(process.execPath, [bin, "pdp", "--config", join(root, "bad.yaml")], {
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `${join(root, "bad.yaml")}:3:9: auth.type: must be one of bearer|mtls|none, got "anyone"`,
    );
    expect(r.stdout).toBe("");
  });
});

describe("portcullis pdp (usage)", () => {
  it("exits 1 on an empty config and on a policy that does not compile", async () => {
    const empty = await cli("pdp", "--config", join(root, "ok.yaml"));
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain("config is empty");
    const broken = tempTree({ "p.rego": "package p\nallow if {\n" });
    try {
      const r = await cli("pdp", "--policies", broken);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^portcullis pdp: 1 error occurred: .*p\.rego:\d+:\d+: rego_parse_error/);
    } finally {
      removeTree(broken);
    }
  });

  it("keeps the quick form without authentication on loopback", async () => {
    const r = await cli("pdp", "--policies", join(repo, "policies"), "--listen", "0.0.0.0:0");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "listen: without client authentication the quick form listens on loopback only",
    );
  });

  it("rejects missing or conflicting options with exit code 2", async () => {
    expect((await cli("pdp")).code).toBe(2);
    const both = await cli("pdp", "--config", "x.yaml", "--policies", "policies");
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("--config cannot be combined with --policies");
    const two = await cli("pdp", "--policies", "policies", "--jwks", "jwks.json", "--client-ca", "ca.pem");
    expect(two.code).toBe(2);
    expect((await cli("pdp", "--help")).stdout).toContain("Usage: portcullis pdp");
  });
});
