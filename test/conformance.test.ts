// Runs OPA's conformance corpus (../shared/conformance/opa) through our engine
// in-process and fails below the pass rate reached so far. The ratchet lives in
// test/conformance.ratchet.json: raise it as the engine improves, never lower it.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { passRate, summaryLine } from "../cli/conformance.js";
import { loadCorpus, runCorpus, type CaseReport } from "../cli/conformance/runner.js";

const repo = resolve(import.meta.dirname, "..");
const corpus = resolve(repo, "../shared/conformance/opa");
const ratchet = JSON.parse(
  readFileSync(resolve(import.meta.dirname, "conformance.ratchet.json"), "utf8"),
) as {
  minPassRate: number;
};

describe("OPA conformance corpus", () => {
  it.runIf(existsSync(corpus))(
    `passes at least the ratchet rate (${ratchet.minPassRate})`,
    () => {
      const failures: CaseReport[] = [];
      const summary = runCorpus(loadCorpus(corpus), {
        onCase: (r) => void (r.status === "failed" && failures.push(r)),
      });
      console.log(summaryLine(summary));
      expect(summary.total).toBeGreaterThan(0);
      const rate = passRate(summary);
      if (rate < ratchet.minPassRate) {
        const sample = failures
          .slice(0, 20)
          .map((f) => `  ${f.note}: ${f.reason ?? ""}`)
          .join("\n");
        expect.fail(
          `pass rate ${rate.toFixed(4)} < ratchet ${ratchet.minPassRate}; first failures:\n${sample}`,
        );
      }
    },
    600_000,
  );
});
