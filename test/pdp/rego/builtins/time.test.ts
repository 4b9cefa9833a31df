import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/time.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { BigNum, type Value } from "../../../../pdp/rego/value.js";
import { numFromBigInt } from "../../../../pdp/rego/number.js";
import { parse, format, fromUnixNano, UTC, loadLocation } from "../../../../pdp/rego/builtins/lib/gotime.js";

const ctx: BuiltinContext = { nowNs: 1700000000123456789n, memo: new Map(), print: () => {} };

function call(name: string, ...args: Value[]): Value | undefined {
  const d = builtins.find((b) => b.name === name)!;
  expect(args.length).toBe(d.arity);
  return d.fn(args, ctx);
}

function callErr(name: string, ...args: Value[]): BuiltinError {
  try {
    call(name, ...args);
  } catch (e) {
    if (e instanceof BuiltinError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

const ns = (iso: string): Value => numFromBigInt(BigInt(Date.parse(iso)) * 1000000n);

describe("time.now_ns", () => {
  it("is the query's time", () => {
    expect(call("time.now_ns")).toEqual(numFromBigInt(1700000000123456789n));
    expect(builtins.find((b) => b.name === "time.now_ns")!.nondeterministic).toBe(true);
  });
});

describe("time.parse_rfc3339_ns", () => {
  it("parses the int64 range exactly", () => {
    expect(call("time.parse_rfc3339_ns", "1677-09-21T00:12:43.145224192-00:00")).toEqual(
      numFromBigInt(-9223372036854775808n),
    );
    expect(call("time.parse_rfc3339_ns", "1970-01-01T00:00:00-00:00")).toBe(0);
    expect(call("time.parse_rfc3339_ns", "2017-06-02T19:00:00-07:00")).toEqual(
      numFromBigInt(1496455200000000000n),
    );
    expect(call("time.parse_rfc3339_ns", "2262-04-11T23:47:16.854775807-00:00")).toEqual(
      numFromBigInt(9223372036854775807n),
    );
    expect(call("time.parse_rfc3339_ns", "2262-04-11T23:47:16.854775807-00:00")).toBeInstanceOf(BigNum);
  });
  it("rejects out of range and bad input", () => {
    expect(callErr("time.parse_rfc3339_ns", "1677-09-21T00:12:43.145224191-00:00").message).toBe(
      "time.parse_rfc3339_ns: time outside of valid range",
    );
    expect(callErr("time.parse_rfc3339_ns", "2262-04-11T23:47:16.854775808-00:00").message).toBe(
      "time.parse_rfc3339_ns: time outside of valid range",
    );
    expect(callErr("time.parse_rfc3339_ns", "2017-06-02").message).toBe(
      'time.parse_rfc3339_ns: parsing time "2017-06-02" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"',
    );
    expect(callErr("time.parse_rfc3339_ns", "2017-13-02T19:00:00Z").message).toBe(
      'time.parse_rfc3339_ns: parsing time "2017-13-02T19:00:00Z": month out of range',
    );
    expect(callErr("time.parse_rfc3339_ns", "2017-02-30T19:00:00Z").message).toBe(
      'time.parse_rfc3339_ns: parsing time "2017-02-30T19:00:00Z": day out of range',
    );
    expect(callErr("time.parse_rfc3339_ns", "2017-02-03T19:00:00Zabc").message).toBe(
      'time.parse_rfc3339_ns: parsing time "2017-02-03T19:00:00Zabc": extra text: "abc"',
    );
  });
});

describe("time.parse_ns", () => {
  it("parses Go layouts", () => {
    expect(call("time.parse_ns", "2006-01-02", "2023-05-01")).toEqual(ns("2023-05-01T00:00:00Z"));
    expect(call("time.parse_ns", "RFC822", "02 Jan 06 15:04 MST")).toEqual(ns("2006-01-02T15:04:00Z"));
    expect(call("time.parse_ns", "RFC822Z", "02 Jan 06 15:04 -0700")).toEqual(ns("2006-01-02T22:04:00Z"));
    expect(call("time.parse_ns", "Mon Jan _2 15:04:05 2006", "Tue Feb  3 04:05:06 2015")).toEqual(
      ns("2015-02-03T04:05:06Z"),
    );
    expect(call("time.parse_ns", "January 2, 2006 3:04pm", "march 7, 2021 4:05pm")).toEqual(
      ns("2021-03-07T16:05:00Z"),
    );
    expect(call("time.parse_ns", "2006-01-02 15:04:05.000", "2021-03-07 04:05:06.789")).toEqual(
      ns("2021-03-07T04:05:06.789Z"),
    );
    expect(call("time.parse_ns", "2006-002", "2020-060")).toEqual(ns("2020-02-29T00:00:00Z"));
  });
  it("reports Go's errors", () => {
    expect(callErr("time.parse_ns", "2006-01-02", "2023/05/01").message).toBe(
      'time.parse_ns: parsing time "2023/05/01" as "2006-01-02": cannot parse "/05/01" as "-"',
    );
    expect(callErr("time.parse_ns", "15:04", "25:00").message).toBe(
      'time.parse_ns: parsing time "25:00": hour out of range',
    );
    // no year in the layout: year 0 is outside the ns range
    expect(callErr("time.parse_ns", "15:04", "10:00").message).toBe(
      "time.parse_ns: time outside of valid range",
    );
  });
});

describe("time.parse_duration_ns", () => {
  it("parses Go durations", () => {
    expect(call("time.parse_duration_ns", "100ms")).toBe(100000000);
    expect(call("time.parse_duration_ns", "1h30m")).toBe(5400000000000);
    expect(call("time.parse_duration_ns", "-1.5h")).toBe(-5400000000000);
    expect(call("time.parse_duration_ns", "1.5µs")).toBe(1500);
    expect(call("time.parse_duration_ns", "0")).toBe(0);
    expect(call("time.parse_duration_ns", ".5s")).toBe(500000000);
    expect(call("time.parse_duration_ns", "2562047h47m16.854775807s")).toEqual(
      numFromBigInt(9223372036854775807n),
    );
  });
  it("reports errors", () => {
    expect(callErr("time.parse_duration_ns", "1x").message).toBe(
      'time.parse_duration_ns: time: unknown unit "x" in duration "1x"',
    );
    expect(callErr("time.parse_duration_ns", "1").message).toBe(
      'time.parse_duration_ns: time: missing unit in duration "1"',
    );
    expect(callErr("time.parse_duration_ns", "").message).toBe(
      'time.parse_duration_ns: time: invalid duration ""',
    );
    expect(callErr("time.parse_duration_ns", "9999999999h").message).toBe(
      'time.parse_duration_ns: time: invalid duration "9999999999h"',
    );
  });
});

describe("date, clock, weekday", () => {
  it("reads fields", () => {
    expect(call("time.date", 1518177600000000000)).toEqual([2018, 2, 9]);
    expect(call("time.clock", numFromBigInt(1517832000000000000n))).toEqual([12, 0, 0]);
    expect(call("time.clock", [numFromBigInt(1517832000000000000n), "America/New_York"])).toEqual([7, 0, 0]);
    expect(call("time.weekday", 1518177600000000000)).toBe("Friday");
    expect(call("time.date", [0, "Asia/Tokyo"])).toEqual([1970, 1, 1]);
    expect(call("time.date", [-1, "UTC"])).toEqual([1969, 12, 31]);
    expect(call("time.clock", [-1, ""])).toEqual([23, 59, 59]);
  });
  it("rejects huge, fractional or malformed timestamps", () => {
    expect(callErr("time.date", numFromBigInt(1582977600n * 10n ** 12n)).message).toBe(
      "time.date: timestamp too big",
    );
    expect(callErr("time.weekday", numFromBigInt(1582977600n * 10n ** 12n)).message).toBe(
      "time.weekday: timestamp too big",
    );
    expect(callErr("time.date", 1.5).message).toBe("time.date: timestamp too big");
    expect(callErr("time.date", "x").message).toBe(
      "time.date: operand 1 must be either number (ns) or [number (ns), string (tz)] but got string",
    );
    expect(callErr("time.date", []).code).toBe("eval_type_error");
    expect(callErr("time.date", [0, "Nowhere/Land"]).message).toBe(
      "time.date: unknown time zone Nowhere/Land",
    );
  });
});

describe("time.format", () => {
  it("formats", () => {
    expect(call("time.format", 0)).toBe("1970-01-01T00:00:00Z");
    expect(call("time.format", 1500000000)).toBe("1970-01-01T00:00:01.5Z");
    expect(call("time.format", [numFromBigInt(1707133074000000000n), "America/New_York"])).toBe(
      "2024-02-05T06:37:54-05:00",
    );
    expect(
      call("time.format", [numFromBigInt(1707133074000000000n), "UTC", "Mon Jan _2 15:04:05 MST 2006"]),
    ).toBe("Mon Feb  5 11:37:54 UTC 2024");
    expect(
      call("time.format", [
        numFromBigInt(1707133074000000000n),
        "America/New_York",
        "Mon Jan _2 15:04:05 MST 2006",
      ]),
    ).toBe("Mon Feb  5 06:37:54 EST 2024");
    expect(call("time.format", [numFromBigInt(1707133074000000000n), "UTC", "RFC822Z"])).toBe(
      "05 Feb 24 11:37 +0000",
    );
    expect(call("time.format", [numFromBigInt(1707133074012000000n), "", "2006-01-02 03:04:05.000 PM"])).toBe(
      "2024-02-05 11:37:54.012 AM",
    );
    expect(call("time.format", [numFromBigInt(1707133074000000000n), "Asia/Kolkata", "15:04 -07:00"])).toBe(
      "17:07 +05:30",
    );
  });
});

describe("time.add_date / time.diff", () => {
  it("adds calendar units", () => {
    expect(call("time.add_date", 0, 1, 1, 1)).toEqual(ns("1971-02-02T00:00:00Z"));
    expect(call("time.add_date", ns("2020-01-31T00:00:00Z"), 0, 1, 0)).toEqual(ns("2020-03-02T00:00:00Z"));
    expect(call("time.add_date", ns("2020-02-29T12:00:00Z"), -1, 0, 0)).toEqual(ns("2019-03-01T12:00:00Z"));
    expect(callErr("time.add_date", 0, 300, 0, 0).message).toBe("time.add_date: time outside of valid range");
  });
  it("diffs", () => {
    expect(call("time.diff", ns("2021-11-12T23:30:00Z"), ns("2020-10-13T22:31:01Z"))).toEqual([
      1, 0, 30, 0, 58, 59,
    ]);
    expect(call("time.diff", ns("2020-10-13T22:31:01Z"), ns("2021-11-12T23:30:00Z"))).toEqual([
      1, 0, 30, 0, 58, 59,
    ]);
    expect(call("time.diff", 0, 0)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe("lib/gotime", () => {
  it("round-trips RFC3339Nano", () => {
    const t = parse("2006-01-02T15:04:05.999999999Z07:00", "2021-06-07T08:09:10.123456789+02:00");
    expect(format({ ...t, loc: UTC }, "2006-01-02T15:04:05.999999999Z07:00")).toBe(
      "2021-06-07T06:09:10.123456789Z",
    );
    const tz = loadLocation("Europe/Berlin");
    expect(format(fromUnixNano(0n, tz), "15:04 Z07:00")).toBe("01:00 +01:00");
  });
});
