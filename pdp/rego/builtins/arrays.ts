// Array builtins. Results share elements with the operands (values are immutable).
import type { BuiltinDef } from "./registry.js";
import { isArray, type Value } from "../value.js";
import { arrArg, def, intArg } from "./lib/args.js";

function slice([a, b, c]: Value[]): Value {
  const arr = arrArg("array.slice", a!, 1);
  let start = intArg("array.slice", b!, 2);
  let stop = intArg("array.slice", c!, 3);
  // OPA clamps rather than failing: stop into [0, len], start into [0, stop].
  if (stop < 0) stop = 0;
  else if (stop > arr.length) stop = arr.length;
  if (start < 0) start = 0;
  else if (start > stop) start = stop;
  return start === 0 && stop === arr.length ? arr : arr.slice(start, stop);
}

function flatten([a]: Value[]): Value {
  const arr = arrArg("array.flatten", a!, 1);
  const out: Value[] = [];
  for (const x of arr) {
    if (isArray(x)) for (const y of x) out.push(y);
    else out.push(x);
  }
  return out;
}

export const builtins: BuiltinDef[] = [
  def("array.concat", 2, ([a, b]) => {
    const x = arrArg("array.concat", a!, 1);
    const y = arrArg("array.concat", b!, 2);
    return y.length === 0 ? x : x.length === 0 ? y : x.concat(y);
  }),
  def("array.slice", 3, slice),
  def("array.reverse", 1, ([a]) => arrArg("array.reverse", a!, 1).slice().reverse()),
  def("array.flatten", 1, flatten),
];
