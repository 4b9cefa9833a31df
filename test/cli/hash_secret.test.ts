import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { readFirstLine, runHashSecret } from "../../cli/hash_secret.js";
import type { IO } from "../../cli/io.js";
import { ApiKeyAuthenticator } from "../../gateway/authn/api_key.js";
import { hashSha256, parseStoredHash, verifySecret } from "../../gateway/authn/secrets.js";
import { cli } from "./helpers.js";

async function run(argv: string[], stdin = ""): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: IO = { out: (t) => void (stdout += t), err: (t) => void (stderr += t) };
  const input = new PassThrough();
  input.end(stdin);
  const code = await runHashSecret(argv, io, () => readFirstLine(input));
  return { code, stdout, stderr };
}

describe("portcullis hash-secret", () => {
  it("defaults to scrypt for a secret read from stdin, without its newline", async () => {
    const r = await run([], "correct horse\n");
    expect(r.code).toBe(0);
    const stored = r.stdout.trimEnd();
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(await verifySecret("correct horse", parseStoredHash(stored))).toBe(true);
    expect(await verifySecret("correct horse\n", parseStoredHash(stored))).toBe(false);
  });

  it("--sha256 prints the sha256 form, with a warning on stderr", async () => {
    const r = await run(["--sha256"], "ak_live_123\r\nignored second line\n");
    expect(r.stdout).toBe(`${hashSha256("ak_live_123")}\n`);
    expect(r.stderr).toContain("only safe for random secrets");
  });

  it("--generate prints a fresh secret and a hash an api_key file accepts", async () => {
    const r = await run(["--generate"]);
    const [secret, hash, rest] = r.stdout.split("\n");
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(rest).toBe("");
    const a = new ApiKeyAuthenticator({ keys: [{ hash, subject: "svc:new" }] });
    const ok = await a.authenticate({ method: "GET", path: "/", headers: { "x-api-key": secret } });
    expect(ok.kind === "ok" && ok.identity.subject).toBe("svc:new");
    expect((await run(["--generate"])).stdout.split("\n")[0]).not.toBe(secret);
  });

  it("refuses an empty secret and contradictory options", async () => {
    await expect(run([], "\n")).rejects.toThrow("no secret on standard input");
    await expect(run(["--scrypt", "--sha256"], "x\n")).rejects.toThrow("exclude each other");
    const viaMain = await cli("hash-secret", "--scrypt", "--sha256");
    expect(viaMain.code).toBe(2);
    expect(viaMain.stderr).toContain("exclude each other");
  });
});
