import { describe, expect, it } from "vitest";
import { HygieneError } from "../../../gateway/http/errors.js";
import { checkRequestHead, DEFAULT_LIMITS, resolveLimits } from "../../../gateway/http/limits.js";

const head = (fields: [string, string][], httpVersion = "1.1") => ({
  rawHeaders: [["Host", "gw"] as [string, string], ...fields].flat(),
  httpVersion,
});

function status(fn: () => unknown): number | "ok" {
  try {
    fn();
    return "ok";
  } catch (e) {
    if (e instanceof HygieneError) return e.status;
    throw e;
  }
}

// [what, header fields, HTTP version]: framing two parsers could read differently.
const SMUGGLING: [string, [string, string][], string?][] = [
  [
    "CL.TE",
    [
      ["Content-Length", "5"],
      ["Transfer-Encoding", "chunked"],
    ],
  ],
  [
    "TE.CL",
    [
      ["Transfer-Encoding", "chunked"],
      ["content-length", "0"],
    ],
  ],
  [
    "duplicate CL, same value",
    [
      ["Content-Length", "5"],
      ["Content-Length", "5"],
    ],
  ],
  [
    "duplicate CL, different",
    [
      ["Content-Length", "5"],
      ["Content-Length", "6"],
    ],
  ],
  ["CL list", [["Content-Length", "5, 5"]]],
  ["CL sign", [["Content-Length", "+5"]]],
  ["CL negative", [["Content-Length", "-1"]]],
  ["CL hex", [["Content-Length", "0x5"]]],
  ["CL empty", [["Content-Length", ""]]],
  ["CL huge", [["Content-Length", "99999999999999999999"]]],
  ["TE gzip, chunked", [["Transfer-Encoding", "gzip, chunked"]]],
  ["TE chunked, chunked", [["Transfer-Encoding", "chunked, chunked"]]],
  [
    "TE two lines",
    [
      ["Transfer-Encoding", "chunked"],
      ["Transfer-Encoding", "chunked"],
    ],
  ],
  ["TE identity", [["Transfer-Encoding", "identity"]]],
  ["TE xchunked", [["Transfer-Encoding", "xchunked"]]],
  ["TE in HTTP/1.0", [["Transfer-Encoding", "chunked"]], "1.0"],
  ["duplicate Host", [["host", "evil"]]],
  ["CR in a value", [["X-A", "a\rb"]]],
  ["NUL in a value", [["X-A", "a\0b"]]],
];

describe("checkRequestHead", () => {
  it(`rejects smuggling and ambiguous framing with 400 (${SMUGGLING.length} cases)`, () => {
    for (const [what, fields, version] of SMUGGLING) {
      expect(
        status(() => checkRequestHead(head(fields, version))),
        what,
      ).toBe(400);
    }
  });

  it("rejects a missing Host in HTTP/1.1 only", () => {
    expect(status(() => checkRequestHead({ rawHeaders: [], httpVersion: "1.1" }))).toBe(400);
    expect(checkRequestHead({ rawHeaders: [], httpVersion: "1.0" })).toEqual({
      contentLength: undefined,
      chunked: false,
    });
  });

  it("accepts the unambiguous framings and reports them", () => {
    expect(checkRequestHead(head([["Content-Length", " 12 "]]))).toEqual({
      contentLength: 12,
      chunked: false,
    });
    expect(checkRequestHead(head([["Transfer-Encoding", "Chunked"]]))).toEqual({
      contentLength: undefined,
      chunked: true,
    });
    expect(checkRequestHead(head([]))).toEqual({ contentLength: undefined, chunked: false });
  });

  it("bounds header count, field size and section size with 431", () => {
    const limits = resolveLimits({ maxHeaderCount: 3, maxHeaderFieldBytes: 20, maxHeaderBytes: 30 });
    expect(
      status(() =>
        checkRequestHead(
          head([
            ["a", "1"],
            ["b", "2"],
          ]),
          limits,
        ),
      ),
    ).toBe("ok");
    expect(
      status(() =>
        checkRequestHead(
          head([
            ["a", "1"],
            ["b", "2"],
            ["c", "3"],
          ]),
          limits,
        ),
      ),
    ).toBe(431);
    expect(status(() => checkRequestHead(head([["a", "x".repeat(20)]]), limits))).toBe(431);
    expect(
      status(() =>
        checkRequestHead(
          head([
            ["aaaa", "x".repeat(12)],
            ["b", "y".repeat(12)],
          ]),
          limits,
        ),
      ),
    ).toBe(431);
    expect(status(() => checkRequestHead(head([["a", "x".repeat(19)]]), limits))).toBe("ok");
  });

  it("rejects a declared body over the bound with 413 before reading it", () => {
    const limits = resolveLimits({ maxBodyBytes: 10 });
    expect(status(() => checkRequestHead(head([["Content-Length", "10"]]), limits))).toBe("ok");
    expect(status(() => checkRequestHead(head([["Content-Length", "11"]]), limits))).toBe(413);
  });

  it("validates its configuration and input shape", () => {
    expect(() => resolveLimits({ maxBodyBytes: -1 })).toThrow(RangeError);
    expect(() => resolveLimits({ maxHeaderCount: 1.5 })).toThrow(RangeError);
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    expect(() => checkRequestHead({ rawHeaders: ["Host"], httpVersion: "1.1" })).toThrow(TypeError);
  });
});
