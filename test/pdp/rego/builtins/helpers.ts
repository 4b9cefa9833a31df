// Calling one builtin family's functions directly, as the builtin tests do.
import {
  BuiltinError,
  type BuiltinContext,
  type BuiltinDef,
} from "../../../../pdp/rego/builtins/registry.js";
import type { Value } from "../../../../pdp/rego/value.js";

export const testContext: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };

export function builtinTester(builtins: BuiltinDef[]): {
  run: (name: string, args: Value[]) => Value | undefined;
  fails: (name: string, ...args: Value[]) => BuiltinError;
} {
  const run = (name: string, args: Value[]): Value | undefined =>
    builtins.find((b) => b.name === name)!.fn(args, testContext);
  const fails = (name: string, ...args: Value[]): BuiltinError => {
    try {
      run(name, args);
    } catch (e) {
      if (e instanceof BuiltinError) return e;
      throw e;
    }
    throw new Error(`${name} did not fail`);
  };
  return { run, fails };
}
