// The time family (OPA's topdown/time.go). Timestamps are int64 nanoseconds
// since the Unix epoch (exact, so BigNums beyond 2^53); layouts, durations and
// zones follow Go (lib/gotime.ts). A time operand is ns, [ns, tz] or, for
// time.format, [ns, tz, layout].
import type { BuiltinDef } from "./registry.js";
import { builtinErr, def, intArg, numArg, strArg, typeErr } from "./lib/args.js";
import {
  fields,
  format,
  fromUnixNano,
  goDate,
  GoTimeError,
  LONG_DAY_NAMES,
  loadLocation,
  NAMED_LAYOUTS,
  parse,
  parseDuration,
  RFC3339,
  RFC3339Nano,
  unixNano,
  UTC,
  daysIn,
  type GoTime,
  type Location,
} from "./lib/gotime.js";
import { isArray, isNumber, type Value } from "../value.js";
import { numFromBigInt, toBigInt } from "../number.js";

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function goErr<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof GoTimeError) throw builtinErr(name, e.message);
    throw e;
  }
}

const OPERAND_DESC = "either number (ns) or [number (ns), string (tz)]";

/** OPA's tzTime: the time (in its zone) and the optional layout of a time operand. */
function tzTime(name: string, a: Value): { t: GoTime; layout: string } {
  let n: Value;
  let loc: Location = UTC;
  let layout = "";
  if (isArray(a)) {
    if (a.length === 0) throw typeErr(name, 1, a, OPERAND_DESC);
    n = numArg(name, a[0]!, 1);
    if (a.length > 1) {
      const tz = strArg(name, a[1]!, 1);
      loc = goErr(name, () => loadLocation(tz));
    }
    if (a.length > 2) layout = strArg(name, a[2]!, 1);
  } else if (isNumber(a)) {
    n = a;
  } else {
    throw typeErr(name, 1, a, OPERAND_DESC);
  }
  const i = toBigInt(numArg(name, n, 1));
  if (i === null || i < INT64_MIN || i > INT64_MAX) throw builtinErr(name, "timestamp too big");
  return { t: fromUnixNano(i, loc), layout };
}

function safeUnixNano(name: string, t: GoTime): Value {
  const ns = unixNano(t);
  if (ns < INT64_MIN || ns > INT64_MAX) throw builtinErr(name, "time outside of valid range");
  return numFromBigInt(ns);
}

function diff(a: GoTime, b: GoTime): number[] {
  // Both are read in the first operand's zone; then the earlier comes first.
  b = { ...b, loc: a.loc };
  if (unixNano(a) > unixNano(b)) [a, b] = [b, a];
  const f1 = fields(a);
  const f2 = fields(b);
  let year = f2.year - f1.year;
  let month = f2.month - f1.month;
  let day = f2.day - f1.day;
  let hour = f2.hour - f1.hour;
  let min = f2.min - f1.min;
  let sec = f2.sec - f1.sec;
  if (sec < 0) {
    sec += 60;
    min--;
  }
  if (min < 0) {
    min += 60;
    hour--;
  }
  if (hour < 0) {
    hour += 24;
    day--;
  }
  if (day < 0) {
    day += daysIn(f1.month, f1.year);
    month--;
  }
  if (month < 0) {
    month += 12;
    year--;
  }
  return [year, month, day, hour, min, sec];
}

export const builtins: BuiltinDef[] = [
  def("time.now_ns", 0, (_args, ctx) => numFromBigInt(ctx.nowNs), { nondeterministic: true }),
  def("time.parse_ns", 2, (args) => {
    const name = "time.parse_ns";
    let layout = strArg(name, args[0]!, 1);
    const value = strArg(name, args[1]!, 2);
    layout = NAMED_LAYOUTS[layout] ?? layout;
    return safeUnixNano(
      name,
      goErr(name, () => parse(layout, value)),
    );
  }),
  def("time.parse_rfc3339_ns", 1, (args) => {
    const name = "time.parse_rfc3339_ns";
    const value = strArg(name, args[0]!, 1);
    return safeUnixNano(
      name,
      goErr(name, () => parse(RFC3339, value)),
    );
  }),
  def("time.parse_duration_ns", 1, (args) => {
    const name = "time.parse_duration_ns";
    const d = strArg(name, args[0]!, 1);
    return numFromBigInt(goErr(name, () => parseDuration(d)));
  }),
  def("time.format", 1, (args) => {
    const name = "time.format";
    const { t, layout } = tzTime(name, args[0]!);
    const l = layout === "" ? RFC3339Nano : (NAMED_LAYOUTS[layout] ?? layout);
    return format(t, l);
  }),
  def("time.date", 1, (args) => {
    const f = fields(tzTime("time.date", args[0]!).t);
    return [f.year, f.month, f.day];
  }),
  def("time.clock", 1, (args) => {
    const f = fields(tzTime("time.clock", args[0]!).t);
    return [f.hour, f.min, f.sec];
  }),
  def("time.weekday", 1, (args) => LONG_DAY_NAMES[fields(tzTime("time.weekday", args[0]!).t).weekday]!),
  def("time.add_date", 4, (args) => {
    const name = "time.add_date";
    const { t } = tzTime(name, args[0]!);
    const years = intArg(name, args[1]!, 2);
    const months = intArg(name, args[2]!, 3);
    const days = intArg(name, args[3]!, 4);
    const f = fields(t);
    const r = goDate(f.year + years, f.month + months, f.day + days, f.hour, f.min, f.sec, t.nsec, t.loc);
    return safeUnixNano(name, r);
  }),
  def("time.diff", 2, (args) => {
    const name = "time.diff";
    const a = tzTime(name, args[0]!).t;
    const b = tzTime(name, args[1]!).t;
    return diff(a, b);
  }),
];
