import { describe, expect, it } from "vitest";
import { cli, removeTree, tempTree } from "../../cli/helpers.js";

describe("portcullis serve", () => {
  it("exits non-zero naming the file and key path on a config error", async () => {
    const root = tempTree({ "gw.yaml": "segments:\n  - name: payments\n    listen: nope\n" });
    try {
      const r = await cli("serve", "--config", `${root}/gw.yaml`);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("gw.yaml");
      expect(r.stderr).toContain("segments[0]");
    } finally {
      removeTree(root);
    }
  });

  it("requires --config", async () => {
    const r = await cli("serve");
    expect(r.code).toBe(2);
  });
});
