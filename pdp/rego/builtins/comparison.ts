// Comparison operators over OPA's total order of values (null < boolean <
// number < string < array < object < set); they never fail.
import type { BuiltinDef } from "./registry.js";
import { compare, equal } from "../value.js";
import { def } from "./lib/args.js";

export const builtins: BuiltinDef[] = [
  def("equal", 2, ([a, b]) => equal(a!, b!)),
  def("neq", 2, ([a, b]) => !equal(a!, b!)),
  def("lt", 2, ([a, b]) => compare(a!, b!) < 0),
  def("lte", 2, ([a, b]) => compare(a!, b!) <= 0),
  def("gt", 2, ([a, b]) => compare(a!, b!) > 0),
  def("gte", 2, ([a, b]) => compare(a!, b!) >= 0),
];
