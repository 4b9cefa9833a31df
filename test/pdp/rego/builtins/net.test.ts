import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/net.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { makeSet, toJS, type Value } from "../../../../pdp/rego/value.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };

function call(name: string, ...args: Value[]): Value | undefined {
  const d = builtins.find((b) => b.name === name)!;
  expect(args.length).toBe(d.arity);
  return d.fn(args, ctx);
}
const js = (name: string, ...args: Value[]): unknown => toJS(call(name, ...args)!);

function callErr(name: string, ...args: Value[]): BuiltinError {
  try {
    call(name, ...args);
  } catch (e) {
    if (e instanceof BuiltinError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

describe("net.cidr_contains", () => {
  it("contains addresses and networks", () => {
    expect(call("net.cidr_contains", "10.0.0.0/8", "10.1.0.0/24")).toBe(true);
    expect(call("net.cidr_contains", "10.0.0.0/8", "10.1.2.3")).toBe(true);
    expect(call("net.cidr_contains", "10.0.0.0/8", "11.1.2.3")).toBe(false);
    expect(call("net.cidr_contains", "10.0.0.0/24", "10.0.0.0/16")).toBe(false);
    expect(call("net.cidr_contains", "2001:4860:4860::8888/32", "2001:4860:4860:1234::8888/40")).toBe(true);
    expect(call("net.cidr_contains", "2001:4860::/32", "2001:4861::1")).toBe(false);
    expect(call("net.cidr_contains", "10.0.0.0/8", "::ffff:10.1.2.3")).toBe(true);
    expect(call("net.cidr_contains", "0.0.0.0/0", "255.255.255.255")).toBe(true);
    expect(call("net.cidr_overlap", "10.0.0.0/8", "10.1.2.3")).toBe(true);
    expect(call("net.cidr_contains", "::ffff:10.0.0.0/104", "10.1.2.3")).toBe(true);
    expect(call("net.cidr_contains", "::/0", "10.1.2.3")).toBe(false);
    expect(call("net.cidr_contains", "::/0", "2001:db8::1")).toBe(true);
  });
  it("reports bad operands", () => {
    expect(callErr("net.cidr_contains", "10.0.0.0", "10.0.0.1").message).toBe(
      "net.cidr_contains: invalid CIDR address: 10.0.0.0",
    );
    expect(callErr("net.cidr_contains", "10.0.0.0/8", "foo").message).toBe(
      "net.cidr_contains: not a valid textual representation of an IP address or CIDR: foo",
    );
    expect(callErr("net.cidr_contains", "010.0.0.0/8", "10.0.0.1").message).toBe(
      "net.cidr_contains: invalid CIDR address: 010.0.0.0/8",
    );
    expect(callErr("net.cidr_contains", 1, "10.0.0.1").code).toBe("eval_type_error");
  });
});

describe("net.cidr_intersects", () => {
  it("intersects", () => {
    expect(call("net.cidr_intersects", "fd1e:5bfe:8af3:9ddc::/64", "fd1e:5bfe:8af3:9ddc:1111::/72")).toBe(
      true,
    );
    expect(call("net.cidr_intersects", "fd1e:5bfe:8af3:9ddc::/64", "2001:4860:4860::8888/32")).toBe(false);
    expect(call("net.cidr_intersects", "192.168.1.0/25", "192.168.1.64/26")).toBe(true);
    expect(call("net.cidr_intersects", "192.168.1.0/26", "192.168.1.64/26")).toBe(false);
  });
});

describe("net.cidr_contains_matches", () => {
  it("matches collections", () => {
    expect(js("net.cidr_contains_matches", ["1.1.2.0/24", "1.1.1.0/24"], ["1.1.1.1", "1.1.2.1"])).toEqual([
      [0, 1],
      [1, 0],
    ]);
    expect(
      js("net.cidr_contains_matches", [["1.1.2.0/24", 1], "1.1.1.0/24"], ["1.1.1.1", "1.1.2.1"]),
    ).toEqual([
      [0, 1],
      [1, 0],
    ]);
    expect(js("net.cidr_contains_matches", "1.1.1.0/24", "1.1.1.128")).toEqual([["1.1.1.0/24", "1.1.1.128"]]);
    expect(
      js(
        "net.cidr_contains_matches",
        { a: "1.1.1.0/24", b: ["2.2.2.0/24"] },
        makeSet(["1.1.1.1", "2.2.2.2"]),
      ),
    ).toEqual([
      ["a", "1.1.1.1"],
      ["b", "2.2.2.2"],
    ]);
    expect(callErr("net.cidr_contains_matches", [1], "1.1.1.1").message).toBe(
      "net.cidr_contains_matches: operand 1: element must be string or non-empty array",
    );
  });
});

describe("net.cidr_expand", () => {
  it("expands", () => {
    expect(js("net.cidr_expand", "192.168.1.1/30")).toEqual([
      "192.168.1.0",
      "192.168.1.1",
      "192.168.1.2",
      "192.168.1.3",
    ]);
    expect(js("net.cidr_expand", "10.0.0.1/32")).toEqual(["10.0.0.1"]);
    expect(js("net.cidr_expand", "2001:db8::/126")).toEqual([
      "2001:db8::",
      "2001:db8::1",
      "2001:db8::2",
      "2001:db8::3",
    ]);
    expect(callErr("net.cidr_expand", "foo").message).toBe("net.cidr_expand: invalid CIDR address: foo");
  });
});

describe("net.cidr_is_valid", () => {
  it.each([
    ["192.168.1.0/24", true],
    ["", false],
    ["there goes a string", false],
    ["192.168.1.2", false],
    ["2002::1234:abcd:ffff:c0a8:101/64", true],
    ["192.168.1.0/33", false],
    ["::/0", true],
    ["fe80::1%eth0/64", false],
  ])("%s", (s, want) => {
    expect(call("net.cidr_is_valid", s)).toBe(want);
  });
  it("is false for non-strings", () => expect(call("net.cidr_is_valid", 1)).toBe(false));
});

describe("net.cidr_merge", () => {
  it("merges like OPA", () => {
    expect(js("net.cidr_merge", ["192.0.128.0/24", "192.0.129.0/24"])).toEqual(["192.0.128.0/23"]);
    expect(js("net.cidr_merge", ["192.0.128.0/24", "192.0.128.0/24"])).toEqual(["192.0.128.0/24"]);
    expect(js("net.cidr_merge", ["192.0.128.0/24", "0.0.0.0/0"])).toEqual(["0.0.0.0/0"]);
    expect(js("net.cidr_merge", ["192.0.129.0/24", "192.0.130.0/24"])).toEqual([
      "192.0.129.0/24",
      "192.0.130.0/24",
    ]);
    expect(js("net.cidr_merge", ["192.0.128.0/24", "192.0.129.0/24", "192.0.130.0/24"])).toEqual([
      "192.0.128.0/23",
      "192.0.130.0/24",
    ]);
    expect(js("net.cidr_merge", ["2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128"])).toEqual([
      "2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128",
    ]);
    expect(
      js("net.cidr_merge", [
        "2601:600:8a80:207e:a57d:7567:e2c9:e7b3/64",
        "2601:600:8a80:207e:a57d:7567:e2c9:e7b3/128",
      ]),
    ).toEqual(["2601:600:8a80:207e::/64"]);
    expect(js("net.cidr_merge", ["192.0.128.1", "192.0.128.0/24"])).toEqual(["192.0.128.0/24"]);
    expect(js("net.cidr_merge", makeSet(["10.0.0.0/32", "10.0.0.1/32", "10.0.0.2/32"]))).toEqual([
      "10.0.0.0/31",
      "10.0.0.2/32",
    ]);
    expect(js("net.cidr_merge", [])).toEqual([]);
    expect(
      js("net.cidr_merge", ["2001:db8::/33", "2001:db8:8000::/33", "10.0.0.0/9", "10.128.0.0/9"]),
    ).toEqual(["10.0.0.0/8", "2001:db8::/32"]);
    expect(js("net.cidr_merge", ["192.168.1.1"])).toEqual(["192.168.1.1/24"]); // Go keeps the address, classful mask
  });
  it("errors", () => {
    expect(callErr("net.cidr_merge", ["2601:600:8a80:207e:a57d:7567:e2c9:e7b3"]).message).toBe(
      "net.cidr_merge: IPv6 invalid: needs prefix length",
    );
    expect(callErr("net.cidr_merge", [1]).message).toBe("net.cidr_merge: element must be string");
    expect(callErr("net.cidr_merge", "x").message).toBe("net.cidr_merge: operand must be an array");
  });
});
