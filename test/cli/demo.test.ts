import { describe, expect, it } from "vitest";
import { cli } from "./helpers.js";

describe("portcullis demo", () => {
  it("explains Portcullis and exits 0", async () => {
    const r = await cli("demo");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("zero-trust policy enforcement point");
    expect(r.stderr).toBe("");
  });
});
