// Dependency direction: the config loader describes what the server runs, so it must not depend on the
// server. Read from the source files themselves (every relative import, type-only ones included,
// followed transitively), so a new import anywhere below gateway/config/ is caught.
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../../..");
const IMPORT =
  /(?:^|\n)\s*(?:import|export)\b[^"';]*?from\s*["']([^"']+)["']|(?:^|\n)\s*import\s*["']([^"']+)["']/g;

/** Every repository source file reachable from `entry` by relative imports, as paths from the root. */
function reachable(entry: string): Map<string, string> {
  const seen = new Map<string, string>(); // file → the file that imported it
  const todo = [entry];
  seen.set(entry, "(entry)");
  while (todo.length > 0) {
    const file = todo.pop()!;
    const text = readFileSync(join(ROOT, file), "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith(".")) continue;
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.js$/, ".ts");
      if (seen.has(target)) continue;
      seen.set(target, file);
      todo.push(target);
    }
  }
  return seen;
}

describe("gateway/config dependencies", () => {
  it("the config loader reaches nothing in gateway/server/ (not even through another module)", () => {
    const files = reachable("gateway/config/index.ts");
    expect(files.has("gateway/config/load.ts")).toBe(true);
    const intoServer = [...files].filter(([f]) => f.startsWith("gateway/server/"));
    expect(intoServer.map(([f, by]) => `${by} → ${f}`)).toEqual([]);
  });
});
