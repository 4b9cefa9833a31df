// Tests that spawn `portcullis` run bin/portcullis.js, which loads dist/. Rebuild it once before the
// run when any source is newer than its output, so a run never tests yesterday's build.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SOURCES = ["lib", "cli", "gateway", "pdp", "attestation"];

function stale(dir: string): boolean {
  if (!existsSync(dir)) return false;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (stale(p)) return true;
    } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) {
      const out = join(repo, "dist", p.slice(repo.length + 1).replace(/\.ts$/, ".js"));
      if (!existsSync(out) || statSync(out).mtimeMs < statSync(p).mtimeMs) return true;
    }
  }
  return false;
}

export default function setup(): void {
  if (!SOURCES.some((s) => stale(join(repo, s)))) return;
  const tsc = join(repo, "node_modules", "typescript", "bin", "tsc");
  try {
    execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: repo, stdio: "pipe" });
  } catch (e) {
    // tsc still emits on type errors; those fail `npm run typecheck`, not every spawned-CLI test.
    const out = (e as { stdout?: Buffer }).stdout?.toString() ?? String(e);
    console.warn(`test setup: tsc reported errors, dist/ built anyway:\n${out.slice(0, 2000)}`);
  }
}
