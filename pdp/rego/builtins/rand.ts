// rand.intn: a random integer in [0, |n|), the same for the same (str, n)
// within one query (OPA caches it per evaluation), fresh for the next query.
import { randomBytes, randomInt } from "node:crypto";
import type { BuiltinDef } from "./registry.js";
import { def, intArg, strArg } from "./lib/args.js";
import { numFromBigInt } from "../number.js";

function randomBelow(n: number): number | bigint {
  if (n <= 0xffffffffffff) return randomInt(n);
  // Beyond randomInt's 2^48 range: rejection sampling on 64 random bits.
  const bound = BigInt(n);
  const limit = (1n << 64n) - ((1n << 64n) % bound);
  for (;;) {
    const r = randomBytes(8).readBigUInt64BE();
    if (r < limit) return r % bound;
  }
}

export const builtins: BuiltinDef[] = [
  def(
    "rand.intn",
    2,
    (args, ctx) => {
      const name = "rand.intn";
      const str = strArg(name, args[0]!, 1);
      let n = intArg(name, args[1]!, 2);
      if (n === 0) return 0;
      if (n < 0) n = -n;
      const key = `rand.intn\u0000${str}-${n}`;
      const cached = ctx.memo.get(key);
      if (cached !== undefined) return cached;
      const r = randomBelow(n);
      const v = typeof r === "bigint" ? numFromBigInt(r) : r;
      ctx.memo.set(key, v);
      return v;
    },
    { nondeterministic: true },
  ),
];
