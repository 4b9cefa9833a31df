import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/aws.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { makeSet, objectGet, type ObjectV, type Value } from "../../../../pdp/rego/value.js";
import { escapedPath, parseGoURL, URLError } from "../../../../pdp/rego/builtins/lib/sigv4.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };
const sign = (...args: Value[]) => builtins[0]!.fn(args, ctx) as ObjectV;
function fails(...args: Value[]): BuiltinError {
  try {
    sign(...args);
  } catch (e) {
    if (e instanceof BuiltinError) return e;
    throw e;
  }
  throw new Error("sign_req did not fail");
}
const headers = (out: ObjectV) => objectGet(out, "headers") as Record<string, string>;

const S3 = {
  aws_access_key: "MYAWSACCESSKEYGOESHERE",
  aws_secret_access_key: "MYAWSSECRETACCESSKEYGOESHERE",
  aws_service: "s3",
  aws_region: "us-east-1",
};
const TS = 1451311705000000000n;
const bigTs = (n: bigint): Value => Number(n) as Value;

describe("providers.aws.sign_req", () => {
  it("signs like OPA (conformance vector)", () => {
    const out = sign({ method: "get", url: "http://example.com" }, S3, bigTs(TS));
    expect(headers(out)).toEqual({
      Authorization:
        "AWS4-HMAC-SHA256 Credential=MYAWSACCESSKEYGOESHERE/20151228/us-east-1/s3/aws4_request," +
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date," +
        "Signature=0047a7016c81e5c7f29cd522f97e911e04fc472fced0aee7916cbc287ad6c8e3",
      host: "example.com",
      "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "x-amz-date": "20151228T140825Z",
    });
    expect(objectGet(out, "method")).toBe("get");
  });

  it("matches AWS's own get-vanilla test vector", () => {
    const out = sign(
      { method: "GET", url: "https://example.amazonaws.com/" },
      {
        aws_access_key: "AKIDEXAMPLE",
        aws_secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_service: "service",
        aws_region: "us-east-1",
      },
      1440938160000000000,
    );
    expect(headers(out).Authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request," +
        "SignedHeaders=host;x-amz-date," +
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
    // Only S3 and Glacier get the payload hash header.
    expect(headers(out)["x-amz-content-sha256"]).toBeUndefined();
  });

  it("adds the session token and honours disable_payload_signing", () => {
    const out = sign(
      { method: "get", url: "https://example.com", headers: { foo: "bar" } },
      { ...S3, aws_session_token: "TOKEN", disable_payload_signing: true },
      bigTs(TS),
    );
    const h = headers(out);
    expect(h["x-amz-security-token"]).toBe("TOKEN");
    expect(h["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
    expect(h.foo).toBe("bar");
    expect(h.Authorization).toContain(
      "SignedHeaders=foo;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,",
    );
  });

  it("hashes raw_body in preference to body, and keeps the body as given", () => {
    const body = { example: makeSet([1, 2, 3, 4]) };
    const both = sign(
      { method: "get", url: "http://example.com", body, raw_body: '{"example": {1, 2, 3, 4}}' },
      S3,
      bigTs(TS),
    );
    expect(headers(both)["x-amz-content-sha256"]).toBe(
      "22906461e2a98a3e780d0fd260e341bed5e544661e97c5936fc7f3af11aaad8b",
    );
    expect(objectGet(both, "body")).toBe(body);
    const json = sign({ method: "get", url: "http://example.com", body }, S3, bigTs(TS));
    expect(headers(json)["x-amz-content-sha256"]).toBe(
      "bacff6243c850423883052ac3c336fd645994442933408dfd3f9e858e69bda07",
    );
  });

  it("signs a caller's x-amz-content-sha256 but returns the computed one, as OPA does", () => {
    const out = sign(
      {
        method: "get",
        url: "https://example.com",
        headers: { foo: "bar", "x-amz-content-sha256": "existing-value" },
        body: { a: 1 },
      },
      S3,
      bigTs(TS),
    );
    expect(headers(out)["x-amz-content-sha256"]).not.toBe("existing-value");
  });

  it("reports OPA's operand errors", () => {
    const req = { method: "get", url: "http://example.com" };
    expect(fails(req, { aws_service: "s3" }, 0).message).toBe(
      'providers.aws.sign_req: operand 2 missing required AWS config parameters(s): {"aws_access_key", "aws_region", "aws_secret_access_key"}',
    );
    expect(fails(req, { ...S3, aws_region: 1 }, 0).message).toBe(
      'providers.aws.sign_req: operand 2 invalid values for required AWS config parameters(s): {"aws_region"}',
    );
    expect(fails("x", S3, 0).message).toBe("providers.aws.sign_req: operand 1 must be object but got string");
    // OPA numbers the config and timestamp operands 1 as well.
    expect(fails(req, "x", 0).message).toBe(
      "providers.aws.sign_req: operand 1 must be object but got string",
    );
    expect(fails(req, S3, "x").message).toBe(
      "providers.aws.sign_req: operand 1 must be number but got string",
    );
    expect(fails(req, S3, 1.5).message).toBe(
      "providers.aws.sign_req: operand 3 could not convert time_ns value into a unix timestamp",
    );
    expect(fails({ ...req, foo: 1 }, S3, 0).message).toBe(
      'providers.aws.sign_req: operand 1 invalid request parameters(s): {"foo"}',
    );
    expect(fails({ method: "get" }, S3, 0).message).toBe(
      'providers.aws.sign_req: operand 1 missing required request parameters(s): {"url"}',
    );
    expect(fails({ ...req, headers: "x" }, S3, 0).message).toBe(
      "providers.aws.sign_req: operand 0 must be object but got string",
    );
    expect(fails({ method: 1, url: 2 }, S3, 0).message).toBe(
      'providers.aws.sign_req: operand 1 invalid values for required request parameters(s): {"method", "url"}',
    );
    expect(fails(req, { ...S3, disable_payload_signing: "yes" }, 0).message).toBe(
      "providers.aws.sign_req: operand 2 invalid value for 'disable_payload_signing' in AWS config",
    );
    const bad = fails({ method: "get", url: "http://exa mple.com" }, S3, 0);
    expect(bad.code).toBe("eval_builtin_error");
    expect(bad.message).toBe(
      'providers.aws.sign_req: parse "http://exa mple.com": invalid character " " in host name',
    );
  });
});

describe("Go URL parsing for the canonical request", () => {
  it("escapes paths and keeps raw queries", () => {
    const u = parseGoURL("https://host:8443/a b/c%2Fd?x=1&y=%20");
    expect(u.host).toBe("host:8443");
    // The raw path is not a valid encoding (a bare space), so Go re-escapes the decoded path.
    expect(escapedPath(u)).toBe("/a%20b/c/d");
    expect(escapedPath(parseGoURL("https://host/a%20b/c%2Fd"))).toBe("/a%20b/c%2Fd");
    expect(u.rawQuery).toBe("x=1&y=%20");
    expect(escapedPath(parseGoURL("http://example.com"))).toBe("");
  });
  it("fails like Go", () => {
    expect(() => parseGoURL("http://h/%zz")).toThrow(
      new URLError('parse "http://h/%zz": invalid URL escape "%zz"'),
    );
    expect(() => parseGoURL("http://h:port/")).toThrow(
      new URLError('parse "http://h:port/": invalid port ":port" after host'),
    );
    expect(() => parseGoURL(":x")).toThrow(new URLError('parse ":x": missing protocol scheme'));
  });
});
