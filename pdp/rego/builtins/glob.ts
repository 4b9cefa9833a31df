// glob.match and glob.quote_meta with gobwas/glob semantics (see lib/goglob.ts).
// Delimiters: null means none (wildcards cross everything), [] means ["."].
import type { BuiltinDef } from "./registry.js";
import { builtinErr, def, elemErr, strArg, typeErr } from "./lib/args.js";
import { compileGlob, GlobError, globQuoteMeta, type CompiledGlob } from "./lib/goglob.js";
import { isArray } from "../value.js";

const CACHE_MAX = 256;
// Keyed by pattern, then by the delimiters (one code point is the usual case: a number key,
// so the hot path builds no strings).
const cache = new Map<string, Map<number | string, CompiledGlob | GlobError>>();
let cached = 0;

function compiled(pattern: string, delimiters: number[]): CompiledGlob {
  const dkey = delimiters.length === 1 ? delimiters[0]! : delimiters.join(",");
  let byDelims = cache.get(pattern);
  let c = byDelims?.get(dkey);
  if (c === undefined) {
    try {
      c = compileGlob(pattern, delimiters);
    } catch (e) {
      if (!(e instanceof GlobError)) throw e;
      c = e;
    }
    if (cached >= CACHE_MAX) {
      cache.clear();
      cached = 0;
      byDelims = undefined;
    }
    if (!byDelims) {
      byDelims = new Map();
      cache.set(pattern, byDelims);
    }
    byDelims.set(dkey, c);
    cached++;
  }
  if (c instanceof GlobError) throw builtinErr("glob.match", c.message);
  return c;
}

export const builtins: BuiltinDef[] = [
  def("glob.match", 3, (args) => {
    const name = "glob.match";
    const pattern = strArg(name, args[0]!, 1);
    const d = args[1]!;
    let delimiters: number[];
    if (d === null) {
      delimiters = [];
    } else if (isArray(d) && d.length === 1 && typeof d[0] === "string" && d[0].length === 1) {
      // The common case (["/"], ["."]) without per-call code point splitting.
      delimiters = [d[0].charCodeAt(0)];
    } else if (isArray(d)) {
      delimiters = d.map((x) => {
        if (typeof x !== "string") throw elemErr(name, 2, d, x, "string");
        const cps = Array.from(x);
        if (cps.length !== 1) throw elemErr(name, 2, d, x, "rune");
        return cps[0]!.codePointAt(0)!;
      });
      if (delimiters.length === 0) delimiters = [0x2e];
    } else {
      throw typeErr(name, 2, d, "array", "null");
    }
    const match = strArg(name, args[2]!, 3);
    return compiled(pattern, delimiters).match(match);
  }),
  def("glob.quote_meta", 1, (args) => globQuoteMeta(strArg("glob.quote_meta", args[0]!, 1))),
];
