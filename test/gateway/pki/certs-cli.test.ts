// `portcullis certs` in-process: the contract files of the demo, custom IDs and tokens, usage errors.
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../../cli/helpers.js";

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "portcullis-certs-"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("portcullis certs", () => {
  it("with no identity flags writes the demo contract files", async () => {
    const out = join(root, "demo");
    const r = await cli("certs", "--out", out);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Created CA for spiffe:\/\/demo\.portcullis/);
    for (const f of [
      "ca.pem",
      "ca.key",
      "gateway.pem",
      "gateway.key",
      "agent.pem",
      "agent.key",
      "jwks.json",
      "issuer.key",
      "agent.jwt",
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(new X509Certificate(readFileSync(join(out, "agent.pem"))).subjectAltName).toBe(
      "URI:spiffe://demo.portcullis/agent/planner",
    );
    expect(decodeJwt(readFileSync(join(out, "agent.jwt"), "utf8").trim())).toMatchObject({
      iss: "https://issuer.demo.portcullis",
      aud: "payments",
      scope: "payments:read payments:write",
    });
    expect((await cli("certs", "--out", out)).stdout).toMatch(/^Reused CA/);
  });

  it("issues named SVIDs and a token for one of them", async () => {
    const out = join(root, "custom");
    const r = await cli(
      "certs",
      "-o",
      out,
      "--trust-domain",
      "corp.example",
      "--spiffe-id",
      "spiffe://corp.example/device/thermo-1",
      "--spiffe-id",
      "bot=spiffe://corp.example/agent/x",
      "--token",
      "spiffe://corp.example/agent/x",
      "--aud",
      "crm",
      "--scope",
      "crm:read",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const f of ["thermo-1.pem", "thermo-1.key", "bot.pem", "bot.key", "bot.jwt"]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    expect(existsSync(join(out, "agent.pem"))).toBe(false);
    expect(decodeJwt(readFileSync(join(out, "bot.jwt"), "utf8"))).toMatchObject({
      sub: "spiffe://corp.example/agent/x",
      aud: "crm",
      scope: "crm:read",
    });
  });

  it("rejects bad usage with exit code 2 and runtime problems with 1", async () => {
    const out = join(root, "bad");
    expect((await cli("certs", "-o", out, "--spiffe-id", "http://x/y")).code).toBe(2);
    expect((await cli("certs", "-o", out, "--token", "me")).code).toBe(2);
    expect((await cli("certs", "-o", out, "--bogus")).code).toBe(2);
    const r = await cli("certs", "-o", out, "--spiffe-id", "spiffe://elsewhere.example/a");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not in trust domain demo\.portcullis/);
  });
});
