import { describe, expect, it } from "vitest";
import { HygieneError } from "../../../gateway/http/errors.js";
import { normalizePath, removeDotSegments } from "../../../gateway/http/path.js";

function rejects(target: string, reason: RegExp, status = 400, options = {}) {
  let err: unknown;
  try {
    normalizePath(target, options);
  } catch (e) {
    err = e;
  }
  expect(err, `${target} should be rejected`).toBeInstanceOf(HygieneError);
  expect((err as HygieneError).status).toBe(status);
  expect((err as HygieneError).description).toMatch(reason);
}

// [raw target, canonical path]: each resolves to one resource for both policy and upstream.
const NORMALISED: [string, string][] = [
  ["/a/../admin", "/admin"],
  ["/a/%2e%2e/admin", "/admin"],
  ["/a/%2E%2E/admin", "/admin"],
  ["/a/.%2e/admin", "/admin"],
  ["/a/%2e/admin", "/a/admin"],
  ["//admin", "/admin"],
  ["/a//b///c", "/a/b/c"],
  ["/./a", "/a"],
  ["/a/b/.", "/a/b/"],
  ["/a/b/..", "/a/"],
  ["/..", "/"],
  ["/../../../etc/passwd", "/etc/passwd"],
  ["/a/..//..//admin", "/admin"],
  ["/a//../b", "/b"],
  ["/%61dmin", "/admin"],
  ["/%7Euser/%2D%5F", "/~user/-_"],
  ["/a%3bb/c", "/a%3Bb/c"],
  ["/a;b=c/d", "/a;b=c/d"],
  ["/a%20b", "/a%20b"],
  ["/a|b[c]", "/a%7Cb%5Bc%5D"],
  ["/caf%C3%A9", "/café"],
  ["/%F0%9F%90%88", "/🐈"],
  ["/...", "/..."],
  ["/a/.../b", "/a/.../b"],
];

describe("normalizePath: normalised", () => {
  it(`path tricks resolve to one canonical path (${NORMALISED.length} cases)`, () => {
    for (const [raw, path] of NORMALISED) {
      expect(normalizePath(raw).path, raw).toBe(path);
    }
  });

  it("upstreamPath is the same path re-encoded, and idempotent", () => {
    const t = normalizePath("/caf%c3%a9/%7e/x%3fy");
    expect(t.path).toBe("/café/~/x%3Fy");
    expect(t.upstreamPath).toBe("/caf%C3%A9/~/x%3Fy");
    for (const [raw] of NORMALISED) {
      const once = normalizePath(raw);
      const twice = normalizePath(once.upstreamTarget);
      expect(twice.path, raw).toBe(once.path);
      expect(twice.upstreamTarget, raw).toBe(once.upstreamTarget);
    }
  });

  it("removeDotSegments follows RFC 3986 5.2.4 examples", () => {
    expect(removeDotSegments("/a/b/c/./../../g")).toBe("/a/g");
    expect(removeDotSegments("/mid/content=5/../6")).toBe("/mid/6");
    expect(removeDotSegments("/")).toBe("/");
  });
});

// [raw target, reason]: ambiguous to at least one common upstream, so refused.
const REJECTED: [string, RegExp][] = [
  ["/%2e%2e%2fadmin", /encoded slash/],
  ["/a%2fb", /encoded slash/],
  ["/a%2Fb", /encoded slash/],
  ["/a%5cb", /encoded backslash/],
  ["/a%5C..%5Cadmin", /encoded backslash/],
  ["/a\\..\\admin", /backslash/],
  ["/a%00.json", /control/],
  ["/a%0d%0aSet-Cookie:x", /control/],
  ["/a%7f", /control/],
  ["/a%c2%85", /control/],
  ["/%252e%252e/admin", /percent sign/],
  ["/%252fadmin", /percent sign/],
  ["/%25", /percent sign/],
  ["/%c0%ae%c0%ae/admin", /UTF-8/],
  ["/%e0%80%ae", /UTF-8/],
  ["/%ed%a0%80", /UTF-8/],
  ["/%c3", /UTF-8/],
  ["/%ff", /UTF-8/],
  ["/%zz", /invalid percent/],
  ["/%2", /invalid percent/],
  ["/a%", /invalid percent/],
  ["/%EF%BC%8E%EF%BC%8E/admin", /NFKC/],
  ["/e%CC%81", /NFKC/],
  ["/public/..;/admin", /path parameter/],
  ["/public/..%3b/admin", /path parameter/],
  ["/public/.;x/admin", /path parameter/],
  ["/a b", /raw control/],
  ["/a\tb", /raw control/],
  ["/caf\u00e9", /non-ASCII/],
  ["/a#frag", /fragment/],
  ["admin", /start with \//],
  ["example.com:443", /start with \//],
  ["*", /asterisk/],
  ["http://evil.example/admin", /absolute-form/],
  ["", /empty/],
];

describe("normalizePath: rejected", () => {
  it(`ambiguous encodings are a 400 invalid_request (${REJECTED.length} cases)`, () => {
    for (const [raw, reason] of REJECTED) rejects(raw, reason);
  });

  it("a target longer than the bound is a 414", () => {
    rejects("/" + "a".repeat(100), /too long/, 414, { maxTargetLength: 50 });
  });
});

describe("normalizePath: absolute-form", () => {
  it("is accepted only when allowed, without userinfo, and reports the authority", () => {
    const t = normalizePath("HTTP://API.Example:8443/a/../b?x=1", { allowAbsoluteForm: true });
    expect(t).toMatchObject({ path: "/b", authority: "api.example:8443", upstreamTarget: "/b?x=1" });
    expect(normalizePath("http://h", { allowAbsoluteForm: true }).path).toBe("/");
    expect(normalizePath("http://h?a=b", { allowAbsoluteForm: true }).upstreamTarget).toBe("/?a=b");
    rejects("http://trusted@evil/", /authority/, 400, { allowAbsoluteForm: true });
    rejects("http:///x", /authority/, 400, { allowAbsoluteForm: true });
    rejects("ftp://h/x", /scheme/, 400, { allowAbsoluteForm: true });
  });
});

describe("normalizePath: query", () => {
  it("splits the query off before any path rule and parses it for the policy", () => {
    const t = normalizePath("/a/%2e%2e/b?x=1&y=a+b&x=2&flag&z=%2Fp%3Fq%26r&e=");
    expect(t.path).toBe("/b");
    expect(t.rawQuery).toBe("x=1&y=a+b&x=2&flag&z=%2Fp%3Fq%26r&e=");
    expect({ ...t.query }).toEqual({ x: ["1", "2"], y: "a b", flag: "", z: "/p?q&r", e: "" });
    expect(t.upstreamQuery).toBe("x=1&y=a%20b&x=2&flag&z=%2Fp%3Fq%26r&e=");
    expect(t.upstreamTarget).toBe("/b?x=1&y=a%20b&x=2&flag&z=%2Fp%3Fq%26r&e=");
  });

  it("keeps a literal percent in values and re-encodes it, so no second decoding can happen upstream", () => {
    const t = normalizePath("/s?q=100%25&d=%252e");
    expect({ ...t.query }).toEqual({ q: "100%", d: "%2e" });
    expect(t.upstreamQuery).toBe("q=100%25&d=%252e");
  });

  it("re-encodes separators a lenient upstream might split on", () => {
    const t = normalizePath("/s?a=1;b=2&c=%C3%A9");
    expect({ ...t.query }).toEqual({ a: "1;b=2", c: "é" });
    expect(t.upstreamQuery).toBe("a=1%3Bb%3D2&c=%C3%A9");
  });

  it("distinguishes no query from an empty one", () => {
    expect(normalizePath("/a")).toMatchObject({ rawQuery: undefined, upstreamTarget: "/a" });
    expect(normalizePath("/a?")).toMatchObject({ rawQuery: "", upstreamTarget: "/a" });
    expect(normalizePath("/a?/../b").path).toBe("/a");
  });

  it("uses a null-prototype object so __proto__ is only a parameter", () => {
    const t = normalizePath("/a?__proto__=x&constructor=y");
    expect(Object.getPrototypeOf(t.query)).toBeNull();
    expect(t.query["__proto__"]).toBe("x");
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();
  });

  const BAD_QUERIES: [string, RegExp][] = [
    ["/a?x=%00", /control/],
    ["/a?x=%0a", /control/],
    ["/a?x=%zz", /invalid percent/],
    ["/a?x=%c0%ae", /UTF-8/],
    ["/a?x=%", /invalid percent/],
  ];
  it(`rejects ambiguous query encodings (${BAD_QUERIES.length} cases)`, () => {
    for (const [raw, reason] of BAD_QUERIES) rejects(raw, reason);
  });

  it("bounds the parameter count instead of truncating", () => {
    const target = "/a?" + Array.from({ length: 11 }, (_, i) => `p${i}=1`).join("&");
    rejects(target, /too many query/, 400, { maxQueryParams: 10 });
    expect(Object.keys(normalizePath(target, { maxQueryParams: 11 }).query)).toHaveLength(11);
  });
});

describe("normalizePath: invariants over generated targets", () => {
  it("either refuses with a HygieneError or yields a canonical, idempotent path (3000 cases)", () => {
    const alphabet = [
      "/",
      ".",
      "..",
      "%2e",
      "%2E",
      "%2f",
      "%5c",
      "%25",
      "%00",
      "a",
      "%41",
      ";",
      "%3b",
      "?",
      "&",
      "=",
      "+",
      "%c3%a9",
      "%c0",
      "\\",
      "//",
      "~",
    ];
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      let raw = "/";
      for (let k = rand(12); k > 0; k--) raw += alphabet[rand(alphabet.length)];
      let t;
      try {
        t = normalizePath(raw);
      } catch (e) {
        expect(e, raw).toBeInstanceOf(HygieneError);
        continue;
      }
      accepted++;
      const segs = t.path.split("/");
      expect(segs.includes(".") || segs.includes(".."), raw).toBe(false);
      expect(t.path, raw).not.toMatch(/\/\/|%2F|%5C|%25|\\|%2E/i);
      expect(normalizePath(t.upstreamTarget).upstreamTarget, raw).toBe(t.upstreamTarget);
    }
    expect(accepted).toBeGreaterThan(300);
  });
});
