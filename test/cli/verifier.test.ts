// `portcullis verifier` as a real process (bin/portcullis.js on dist/) and `portcullis attest`
// in-process against it: the by-hand flow of docs/attestation.md, end to end.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EarVerifier } from "../../attestation/ear/verify.js";
import { DEMO_CONFIG_HASH } from "../../attestation/verifier/index.js";
import { deadPort } from "../attestation/helpers.js";
import { cli, removeTree, tempTree } from "./helpers.js";

const repo = resolve(import.meta.dirname, "../..");
const bin = join(repo, "bin", "portcullis.js");

let root: string;
let url: string;
let child: ChildProcess;
let childOut = "";

function decodeJwt(jwt: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h, p] = jwt.trim().split(".");
  return {
    header: JSON.parse(Buffer.from(h!, "base64url").toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>,
  };
}

beforeAll(async () => {
  root = tempTree({
    "bad.yaml": "listen: 127.0.0.1:0\nsigning_key: nope.key\nattesters: []\n",
  });
  const pki = join(root, "pki");
  expect((await cli("certs", "--out", pki)).code).toBe(0);
  expect(
    (
      await cli(
        "certs",
        "--out",
        join(root, "pki2"),
        "--spiffe-id",
        "rogue=spiffe://demo.portcullis/agent/rogue",
      )
    ).code,
  ).toBe(0);
  const init = await cli(
    "verifier",
    "--init",
    join(root, "verifier"),
    "--pki",
    pki,
    "--listen",
    "127.0.0.1:0",
  );
  expect(init.code, init.stderr).toBe(0);
  expect(init.stdout).toContain("verifier.yaml");

  child = spawn(process.execPath, [bin, "verifier", "--config", join(root, "verifier", "verifier.yaml")], {
    cwd: repo,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  url = await new Promise<string>((resolveUrl, reject) => {
    child.stdout!.on("data", (c: Buffer) => {
      childOut += c.toString();
      // The attester lines come last: once one is complete, start-up output is all there.
      const m = /verifier: listening on (http:\/\/\S+) /.exec(childOut);
      if (m && /verifier: attester .* kid \S+\n/.test(childOut)) resolveUrl(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`exited ${code}:\n${childOut}\n${err}`)));
  });
}, 120_000);

afterAll(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  removeTree(root);
});

describe("portcullis verifier --init", () => {
  it("writes a signing key, its JWKS and a config registering the dev agent, and keeps the key on rerun", async () => {
    const dir = join(root, "verifier");
    for (const f of ["verifier.key", "verifier-jwks.json", "verifier.yaml"])
      expect(existsSync(join(dir, f))).toBe(true);
    const key = readFileSync(join(dir, "verifier.key"), "utf8");
    expect(readFileSync(join(dir, "verifier.yaml"), "utf8")).toContain(join(root, "pki", "agent.pem"));
    const again = await cli("verifier", "--init", dir, "--pki", join(root, "pki"), "--listen", "127.0.0.1:0");
    expect(again.stdout).toContain("signing key kept");
    expect(readFileSync(join(dir, "verifier.key"), "utf8")).toBe(key);
  });

  it("says what to do when there is no dev PKI", async () => {
    const r = await cli("verifier", "--init", join(root, "v2"), "--pki", join(root, "nowhere"));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("portcullis certs");
  });
});

describe("portcullis verifier (real process) with portcullis attest", () => {
  it("prints where it listens and which attesters it knows", () => {
    expect(childOut).toContain("/.well-known/jwks.json");
    expect(childOut).toContain("attester agent (spiffe://demo.portcullis/agent/planner)");
  });

  it("attest --demo gets an affirming EAR bound to the agent, verified with the served JWKS", async () => {
    const r = await cli(
      "attest",
      "--key",
      join(root, "pki", "agent.key"),
      "--demo",
      "--verifier",
      url,
      "--jwks",
      `${url}/.well-known/jwks.json`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("EAR verified: status affirming");
    const ear = await new EarVerifier({ name: "ref", jwks_url: `${url}/.well-known/jwks.json` }).verify(
      r.stdout.trim(),
    );
    expect(ear.status).toBe("affirming");
    expect(ear.claims.sub).toBe("spiffe://demo.portcullis/agent/planner");
  });

  it("attest with a gateway nonce puts that nonce in the EAR", async () => {
    const nonce = Buffer.alloc(32, 0xab).toString("base64url");
    const r = await cli(
      "attest",
      "--key",
      join(root, "pki", "agent.key"),
      "--demo",
      "--nonce",
      nonce,
      "--verifier",
      url,
    );
    expect(r.code, r.stderr).toBe(0);
    const ear = await new EarVerifier({ name: "ref", jwks_url: `${url}/.well-known/jwks.json` }).verify(
      r.stdout.trim(),
      {
        nonce,
      },
    );
    expect(ear.nonces).toHaveLength(1);
  });

  it("a wrong image digest is not affirmed (--decode shows the claims)", async () => {
    const r = await cli(
      "attest",
      "--key",
      join(root, "pki", "agent.key"),
      "--image-digest",
      "sha256:" + "0".repeat(64),
      "--config-hash",
      DEMO_CONFIG_HASH,
      "--runtime",
      "debug=false",
      "--verifier",
      url,
      "--decode",
    );
    expect(r.code, r.stderr).toBe(0);
    const claims = JSON.parse(r.stdout) as { submods: Record<string, Record<string, unknown>> };
    expect(claims.submods.agent!["ear.status"]).toBe("warning");
    expect(claims.submods.agent!["ear.trustworthiness-vector"]).toMatchObject({
      executables: 33,
      configuration: 2,
    });
  });

  it("an unregistered attester key is refused by the verifier (exit 1)", async () => {
    const r = await cli("attest", "--key", join(root, "pki2", "rogue.key"), "--demo", "--verifier", url);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("verifier rejected");
    expect(r.stderr).toContain("unregistered attester");
  });

  it("a verifier that is down is reported (exit 1)", async () => {
    const r = await cli(
      "attest",
      "--key",
      join(root, "pki", "agent.key"),
      "--demo",
      "--verifier",
      `http://127.0.0.1:${await deadPort()}`,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("verifier unreachable");
  });

  it("stops cleanly on SIGTERM", async () => {
    const code = await new Promise<number | null>((r) => {
      // "close": the process exited and its output streams are drained.
      child.on("close", (c) => r(c));
      child.kill("SIGTERM");
    });
    expect(code).toBe(0);
    expect(childOut).toContain("SIGTERM, shutting down");
  });
});

describe("portcullis attest without a verifier, and usage errors", () => {
  it("prints evidence signed by the agent key over the given nonce", async () => {
    const nonce = Buffer.alloc(16, 1).toString("base64url");
    const r = await cli("attest", "--key", join(root, "pki", "agent.key"), "--demo", "--nonce", nonce);
    expect(r.code, r.stderr).toBe(0);
    const { header, payload } = decodeJwt(r.stdout);
    expect(header.typ).toBe("vnd.portcullis.evidence+jwt");
    expect(payload).toMatchObject({
      eat_nonce: nonce,
      config_hash: DEMO_CONFIG_HASH,
      runtime: { debug: false },
    });
  });

  it("reports bad usage with exit 2 and bad configs with exit 1", async () => {
    for (const args of [
      ["attest", "--demo", "--nonce", "AAAAAAAAAAA"],
      ["attest", "--key", "k", "--demo"],
      ["attest", "--key", "k", "--nonce", "AAAAAAAAAAA"],
      ["verifier"],
      ["verifier", "--config", "x", "--init", "y"],
      ["verifier", "--config", "x", "--profile", "draft"],
    ]) {
      expect((await cli(...args)).code, args.join(" ")).toBe(2);
    }
    const bad = await cli("verifier", "--config", join(root, "bad.yaml"));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/bad\.yaml:2:\d+: signing_key: not found/);
    expect(bad.stderr).toMatch(/attesters: must be a non-empty list/);
  });
});
