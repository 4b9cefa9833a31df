import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "./helpers.js";

describe("portcullis demo", () => {
  it("writes the dev PKI, starts the gateway on ephemeral ports and prints the curl commands", async () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-demo-"));
    try {
      const r = await cli("demo", "--dir", dir, "--port", "0", "--upstream-port", "0", "--check");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("zero-trust policy enforcement point");
      expect(r.stdout).toMatch(
        /--cert .*agent\.pem --key .*agent\.key -H "Authorization: Bearer \$\(cat .*agent\.jwt\)"/,
      );
      expect(r.stderr).toBe("");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
