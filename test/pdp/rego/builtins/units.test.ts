import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/units.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import type { Value } from "../../../../pdp/rego/value.js";
import { numFromText, numToString } from "../../../../pdp/rego/number.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };
const call = (name: string, ...args: Value[]): Value | undefined =>
  builtins.find((b) => b.name === name)!.fn(args, ctx);
const text = (name: string, s: string): string => numToString(call(name, s) as number);

function callErr(name: string, ...args: Value[]): BuiltinError {
  try {
    call(name, ...args);
  } catch (e) {
    if (e instanceof BuiltinError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

describe("units.parse_bytes", () => {
  it.each([
    ['"100TIB"', "109951162777600"],
    ["0", "0"],
    ["0.0", "0"],
    [".0", "0"],
    ["12345", "12345"],
    ["10KB", "10000"],
    ["10KIB", "10240"],
    ["10kb", "10000"],
    ["10Kib", "10240"],
    ["200mb", "200000000"],
    ["300GiB", "322122547200"],
    ["1.1KB", "1100"],
    ["1.1KiB", "1126"],
    [".5KB", "500"],
    ["100k", "100000"],
    ["100ki", "102400"],
    ["100m", "100000000"],
    ["100mi", "104857600"],
    ["100g", "100000000000"],
    ["100gi", "107374182400"],
    ["100t", "100000000000000"],
    ["100ti", "109951162777600"],
    ["100p", "100000000000000000"],
    ["100pi", "112589990684262400"],
    ["10e", "10000000000000000000"],
    ["10eb", "10000000000000000000"],
    ["10ei", "11529215046068469760"],
    ["10eib", "11529215046068469760"],
    ["1e3KB", "1000000"],
    ["3.2E2MiB", "335544320"],
    ["4.5e1GiB", "48318382080"],
    ["5e6", "5000000"],
    ["1e-2KB", "10"],
    ["6.4E1GB", "64000000000"],
    ["7.5e1TiB", "82463372083200"],
    ["5e2MiB", "524288000"],
    ["2e2GiB", "214748364800"],
    ["-1KB", "-1000"],
  ])("%s = %s", (s, want) => {
    expect(text("units.parse_bytes", s)).toBe(want);
  });
  it("5E is not 5", () => expect(call("units.parse_bytes", "5E")).not.toBe(5));
  it("errors", () => {
    expect(callErr("units.parse_bytes", "1 KB").message).toBe(
      "units.parse_bytes: units.parse_bytes: spaces not allowed in resource strings",
    );
    expect(callErr("units.parse_bytes", "KB").message).toContain("no byte amount provided");
    expect(callErr("units.parse_bytes", "1xb").message).toContain("byte unit xb not recognized");
    expect(callErr("units.parse_bytes", "1.2.3kb").message).toContain(
      "could not parse byte amount to a number",
    );
    expect(callErr("units.parse_bytes", "1e1234567").message).toContain("exponent too large");
  });
});

describe("units.parse", () => {
  it.each([
    ['"100TI"', "109951162777600"],
    ["0", "0"],
    ["0.0", "0"],
    [".0", "0"],
    ["12345", "12345"],
    ["10K", "10000"],
    ["10KI", "10240"],
    ["10k", "10000"],
    ["10Ki", "10240"],
    ["200M", "200000000"],
    ["300Gi", "322122547200"],
    ["1.1K", "1100"],
    ["1.1Ki", "1126.4"],
    [".5K", "500"],
    ["100m", "0.1"],
    ["100Mi", "104857600"],
    ["10E", "10000000000000000000"],
    ["10Ei", "11529215046068469760"],
    ["1e10", "10000000000"],
    ["3.2E4", "32000"],
    ["2.5e3K", "2500000"],
    ["1e3M", "1000000000"],
    ["4E2G", "400000000000"],
    ["5e1Gi", "53687091200"],
    ["1e-2", "0.01"],
    ["7.8E-1", "0.78"],
    ["6e3Mi", "6291456000"],
    ["42", "42"],
    ["-3.5E2m", "-0.35"],
    ["1.23456789012345m", "0.0012345679"],
  ])("%s = %s", (s, want) => {
    expect(call("units.parse", s)).toEqual(numFromText(want));
  });
  it("5E is exa", () => expect(text("units.parse", "5E")).toBe("5000000000000000000"));
  it("errors", () => {
    expect(callErr("units.parse", "1 K").message).toBe(
      "units.parse: units.parse: spaces not allowed in resource strings",
    );
    expect(callErr("units.parse", "K").message).toContain("no amount provided");
    expect(callErr("units.parse", "1mb").message).toContain("unit mb not recognized");
    expect(callErr("units.parse", 1).code).toBe("eval_type_error");
  });
});
