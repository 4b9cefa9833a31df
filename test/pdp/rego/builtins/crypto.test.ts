/* eslint-disable @typescript-eslint/no-explicit-any -- results are deep Go-struct JSON shapes; typing them would add nothing */
import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/crypto.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { toJS, type Value } from "../../../../pdp/rego/value.js";
import { goBase64Decode, pemDecode } from "../../../../pdp/rego/builtins/lib/x509.js";

const ctx: BuiltinContext = { nowNs: 0n, memo: new Map(), print: () => {} };

function call(name: string, ...args: Value[]): Value | undefined {
  const d = builtins.find((b) => b.name === name);
  if (!d) throw new Error(`no builtin ${name}`);
  expect(args.length).toBe(d.arity);
  return d.fn(args, ctx);
}
const js = (name: string, ...args: Value[]): any => toJS(call(name, ...args)!);

function callErr(name: string, ...args: Value[]): BuiltinError {
  try {
    call(name, ...args);
  } catch (e) {
    if (e instanceof BuiltinError) return e;
    throw e;
  }
  throw new Error("expected an error");
}

// Generated with Python's cryptography package: an ECDSA P-256 root, an RSA
// intermediate (pathlen 0) and an Ed25519 leaf, valid 2020-2120.
const FX = {
  ca: "-----BEGIN CERTIFICATE-----\nMIIBmzCCAUGgAwIBAgIBATAKBggqhkjOPQQDAjA0MQswCQYDVQQGEwJVUzERMA8G\nA1UECgwIVGVzdCBPcmcxEjAQBgNVBAMMCVRlc3QgUm9vdDAgFw0yMDAxMDEwMDAw\nMDBaGA8yMTIwMDEwMTAwMDAwMFowNDELMAkGA1UEBhMCVVMxETAPBgNVBAoMCFRl\nc3QgT3JnMRIwEAYDVQQDDAlUZXN0IFJvb3QwWTATBgcqhkjOPQIBBggqhkjOPQMB\nBwNCAAQ4O7R8XXaSPWJwShRlYYxVylO2rlGQBFswQEEATjwEeCP7xnwpDeETifn9\nj+e9XS8jnsnSSvn8WWe92m8kDEzvo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1Ud\nDwEB/wQEAwIBBjAdBgNVHQ4EFgQUioqkut2oCP/YkRY/VA5s25Ggxb0wCgYIKoZI\nzj0EAwIDSAAwRQIhAKOhXTRw6W2efpg5+3gOeASgcpRAQopeX0p7OBWgoP0zAiBD\n0FcCHS99J8rHs9DytMzmF2DDonq7cPm8u7rtzbAVhw==\n-----END CERTIFICATE-----\n",
  int: "-----BEGIN CERTIFICATE-----\nMIICkjCCAjmgAwIBAgIBAjAKBggqhkjOPQQDAjA0MQswCQYDVQQGEwJVUzERMA8G\nA1UECgwIVGVzdCBPcmcxEjAQBgNVBAMMCVRlc3QgUm9vdDAgFw0yMDAxMDEwMDAw\nMDBaGA8yMTIwMDEwMTAwMDAwMFowPTERMA8GA1UECgwIVGVzdCBPcmcxDDAKBgNV\nBAsMA09wczEaMBgGA1UEAwwRVGVzdCBJbnRlcm1lZGlhdGUwggEiMA0GCSqGSIb3\nDQEBAQUAA4IBDwAwggEKAoIBAQDJVe8FwwdRzIWms5SgM0LFx6ENmFv7AQ59qsVH\n9xWQrEkkHw3PdOXRRiOmqglff0ojkmaflIDoXMxn8X0iGNvOXcLFEHengye5E4hY\nJt4PUbNq9VzV5aqUri5MOXt2l77euQqO5JpCPAkBSBwJ+yZTrxRUw8btBK17KaDJ\n90zW5TAaEsSfAF32EbmYKPjdbMM8kQAcg8NUlFgWPpyO0Gklcq/UJf2FiKCUXwdD\nQ+Nq/7uM9/7V5Ac2TiBALdeXqn7dRjhFlusH/GR6bXgEH1YdCywokRI2ZkCBys8B\nxRxTfHyU6OK6TI6CcOql0l0+5IjmcykUZvR2m4UDOsFu3mOtAgMBAAGjZjBkMBIG\nA1UdEwEB/wQIMAYBAf8CAQAwDgYDVR0PAQH/BAQDAgEGMB0GA1UdDgQWBBQ22dCh\n9DlWMo2/3dw34I/gylGWmzAfBgNVHSMEGDAWgBSKiqS63agI/9iRFj9UDmzbkaDF\nvTAKBggqhkjOPQQDAgNHADBEAiAUfYrLIMfzWUvJorbz9ABh26THUjfM1fTdZi8r\n51BD0gIgFYU+JW/jgK+rVwp0KaU6WOj5N1j+hiV7MJ2nSMrYq4A=\n-----END CERTIFICATE-----\n",
  leaf: "-----BEGIN CERTIFICATE-----\nMIIDZTCCAk2gAwIBAgINAY7pD/bDc+DuTj8K0jANBgkqhkiG9w0BAQsFADA9MREw\nDwYDVQQKDAhUZXN0IE9yZzEMMAoGA1UECwwDT3BzMRowGAYDVQQDDBFUZXN0IElu\ndGVybWVkaWF0ZTAgFw0yMDAxMDEwMDAwMDBaGA8yMTIwMDEwMTAwMDAwMFowOzEZ\nMBcGA1UEAwwQbGVhZi5leGFtcGxlLmNvbTENMAsGA1UEBRMEMTIzNDEPMA0GA1UE\nBwwGQmVybGluMCowBQYDK2VwAyEAl/4SGvHq3CvOhiR/daSkPz4AcPbzYt7ilCzh\nmOXnt5CjggFcMIIBWDAMBgNVHRMBAf8EAjAAMA4GA1UdDwEB/wQEAwIFoDAdBgNV\nHSUEFjAUBggrBgEFBQcDAQYIKwYBBQUHAwIwVAYDVR0RBE0wS4ILZXhhbXBsZS5j\nb22CDSouZXhhbXBsZS5vcmeHBAoBAgOGGHNwaWZmZTovL2V4YW1wbGUuY29tL29w\nYYENYUBleGFtcGxlLmNvbTAfBgNVHSMEGDAWgBQ22dCh9DlWMo2/3dw34I/gylGW\nmzAuBgNVHR8EJzAlMCOgIaAfhh1odHRwOi8vY3JsLmV4YW1wbGUuY29tL2NhLmNy\nbDBdBggrBgEFBQcBAQRRME8wIwYIKwYBBQUHMAGGF2h0dHA6Ly9vY3NwLmV4YW1w\nbGUuY29tMCgGCCsGAQUFBzAChhxodHRwOi8vY2EuZXhhbXBsZS5jb20vY2EuY3J0\nMBMGA1UdIAQMMAowCAYGZ4EMAQIBMA0GCSqGSIb3DQEBCwUAA4IBAQAIRtbWOuNb\neKVQ4s+XmqBSWC5Jc+v+LLKu2y4c859Q/MIJ1v59RvSCQK2E37flathUZA++oxJa\ncBK8vHoVuz92b8xUbTunlGurZhm6/XhuIXunyjmovJ+wfBCQI3nm9enV9dBFOvlt\n4yP8+YzsDaS4uqOPH91ysblcNACakBKFBAOOwpqZ8/lgmengc3Hk4TrnJY+vw7yw\nLlQcx+g+2Vyj4e6lAs1ttvMa+c1cykr+G6Emrt2gxw6nSCLT7t/BjY7zeVcwiKjW\n4d0Yln6RbOUzVOSYTWIKUqozRTUvgfEJfIY9lPcIKw2OD7gX9Qfev8rOguStShXQ\nHlkmIE6HOm2t\n-----END CERTIFICATE-----\n",
  client:
    "-----BEGIN CERTIFICATE-----\nMIIBajCCARCgAwIBAgIBBzAKBggqhkjOPQQDAzA0MQswCQYDVQQGEwJVUzERMA8G\nA1UECgwIVGVzdCBPcmcxEjAQBgNVBAMMCVRlc3QgUm9vdDAgFw0yMDAxMDEwMDAw\nMDBaGA8yMTIwMDEwMTAwMDAwMFowETEPMA0GA1UEAwwGY2xpZW50MHYwEAYHKoZI\nzj0CAQYFK4EEACIDYgAEiVpCkimi0v6pvhctvD0VECqNh3I23q4sMoNFjSCmFn3e\n0ybmLL9ctQ+DuJAmU1lKHiVk5XGooWptNz6/u+HjzwSb4iI5wZKtncrp+2qYbIrn\nJRxN5I2+5denbEeGc0G/oxcwFTATBgNVHSUEDDAKBggrBgEFBQcDAjAKBggqhkjO\nPQQDAwNIADBFAiBE7hT052/p2qBNQVtCgL7uxufsGzJ9TJo3IKaR7bj+qwIhAJ9z\np0UmlKW1AsMAtm1W6/minYNaMcVjmmecrOhWOJzd\n-----END CERTIFICATE-----\n",
  csr: "-----BEGIN CERTIFICATE REQUEST-----\nMIICtDCCAZwCAQAwLTEYMBYGA1UEAwwPY3NyLmV4YW1wbGUuY29tMREwDwYDVQQK\nDAhUZXN0IE9yZzCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAMlV7wXD\nB1HMhaazlKAzQsXHoQ2YW/sBDn2qxUf3FZCsSSQfDc905dFGI6aqCV9/SiOSZp+U\ngOhczGfxfSIY285dwsUQd6eDJ7kTiFgm3g9Rs2r1XNXlqpSuLkw5e3aXvt65Co7k\nmkI8CQFIHAn7JlOvFFTDxu0ErXspoMn3TNblMBoSxJ8AXfYRuZgo+N1swzyRAByD\nw1SUWBY+nI7QaSVyr9Ql/YWIoJRfB0ND42r/u4z3/tXkBzZOIEAt15eqft1GOEWW\n6wf8ZHpteAQfVh0LLCiREjZmQIHKzwHFHFN8fJTo4rpMjoJw6qXSXT7kiOZzKRRm\n9HabhQM6wW7eY60CAwEAAaBCMEAGCSqGSIb3DQEJDjEzMDEwLwYDVR0RBCgwJoIP\nY3NyLmV4YW1wbGUuY29tghN3d3cuY3NyLmV4YW1wbGUuY29tMA0GCSqGSIb3DQEB\nCwUAA4IBAQCukcgBg9vcvtcvW2xyDfa97xif9PophFElvI1no04oUBAZiMzldDYw\nWk3W0dxBh2cEkeeteAujW2V0g2q0W5H2/TSX/fhMaS5gMt6EEipMUlbYOe7YxzsO\nC81sBGLpqZFmUk/vaFMtcu4wPLjXaeCEVhoGqv68v1olMn9V/ZZrS/x0Dl71P/Xr\ntrNIgeqje4YLzjn2DTw7gXMHisQXESqm5zG5dECoKGGR+RmSDNmoI3/CqzE0R08g\nN8YhBZ+FgT5QDGvPmeAU50DZ1TR6Gf6AsHdMjKimGntRNxeuq7OuY6a4w9CTbnSX\nS5kOjX/Da1BPPYR92pIq24N8wPnFWT9K\n-----END CERTIFICATE REQUEST-----\n",
  int_key_pkcs1:
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAyVXvBcMHUcyFprOUoDNCxcehDZhb+wEOfarFR/cVkKxJJB8N\nz3Tl0UYjpqoJX39KI5Jmn5SA6FzMZ/F9Ihjbzl3CxRB3p4MnuROIWCbeD1GzavVc\n1eWqlK4uTDl7dpe+3rkKjuSaQjwJAUgcCfsmU68UVMPG7QSteymgyfdM1uUwGhLE\nnwBd9hG5mCj43WzDPJEAHIPDVJRYFj6cjtBpJXKv1CX9hYiglF8HQ0Pjav+7jPf+\n1eQHNk4gQC3Xl6p+3UY4RZbrB/xkem14BB9WHQssKJESNmZAgcrPAcUcU3x8lOji\nukyOgnDqpdJdPuSI5nMpFGb0dpuFAzrBbt5jrQIDAQABAoIBADEInbrggbLZRZ+Q\n0tylP1jdwoqGFbiuzDGs2nkpYvYmD3YdngZtaN8r3tjjRn8ciBjbueSZjT+KAjo6\nZQhd14KN8TZ/STThy1XWvPkDFkfS1Qhyk1aApaeqOBpWUYxTbqfdlwWwBSWma2cF\ngdaodPAijqgKOjNVVU7Ol5s4gF1Ba3bbd8dTc7FJekp5QMBaXlJO4vbUiojP/060\n3RQYzxK0JhtCBZzWDlhNy/z4eVBpP2bRppo/H5NJ62Si75x4BByUZJPZTbYMUQ6B\nh3+UxEYvT2RTpXmEsnW5RYWF+13pBydYwPbHvyfak67NWr2agb1SvhnDfS38fvzY\n7eq9OmECgYEA5+WcEE3A2VPtsvpCVxrQw/TaBhw6ZR7Pz8CMiTYdzpfaEiZ0iFBT\nlLDqyPu3FmqjlMJs4Q+ykXtsUm1Wf9hO3kToPkS9ziLmXJAzQRHRoJYMPX4CJZ1D\nBcWEKFj2nB1GEQKgKROZmHGjlFUzAAZB1jIPYq7ztMMB9Il9/LEGP1UCgYEA3kMj\n+wVhJtthq711BfqRXlU/l9zIslA5Q18TY2HXfaytJiYMaum7iAZ7LvtfeECvC2lQ\nRzRvLmGqJ0ffiOacj3CZHDX4s26jC4KzoWmIr+oXjyCOq7eoQg7+cGcFsW/+v1qI\nnraErGNwlyvDmpJKRN8kaew7uO73O6vcYqbbovkCgYAlPs2oGLTmswI0gtlw4A+z\nyXnTDWmboC1Ecuqfhx+WdPFDhQWmdzBVa2zqRvOLGCmZ1Phj1X+aujYVrxX7hqR0\nMqESjzvlBdn19/sjclc28aKZpcl2fSGspaKqUE+bl2APj1pl/o3m3Cmnw19jm52r\nZ3LtKKhf2gpQWlzv3wbf2QKBgQC6FhCL3Eco10iBF5BgvxbymgEyTmGiGVS4OWPs\nM0DOMcKOTBDdem/ORU7hWQjnj5B+x1+1HgtwE8j4Nk7LOfkehzFJ0040PI851eY7\nYDZWwnGTHbkVwCCZniAdT8QOeSwaXdxAtaODCYZ8quGMCqsv2nuMS4L9JOXOCefs\nmLMPUQKBgQDDId6j6DstEmTRIdMWJYkm1xJPmvq67Nnp0UTv9one3p4wFXKIpLkZ\ng+ateb5UkcQSbZe6x3IjUbvbUy6Qe7vuLHZbG+Ae3iDhOu/b3e4ExGt+ACzucC8k\nsgu95L6eCIbBfPlvXp4FoCWLLY6+MQCPEiPRE/zPcWa/q5SFYHeujA==\n-----END RSA PRIVATE KEY-----\n",
  ca_key_sec1:
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEILxjSFZbN2fu7psMp0BsvsYlJizvG8QTaCBfmK8pa+m0oAoGCCqGSM49\nAwEHoUQDQgAEODu0fF12kj1icEoUZWGMVcpTtq5RkARbMEBBAE48BHgj+8Z8KQ3h\nE4n5/Y/nvV0vI57J0kr5/FlnvdpvJAxM7w==\n-----END EC PRIVATE KEY-----\n",
  leaf_key_pkcs8:
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIN3zJUcyq2DQk1q85nWDHf5J5+DaU9y4gzS74ktOB0uX\n-----END PRIVATE KEY-----\n",
  int_n:
    "25416274775964233386498910897050314630988941463931672054399150511352940012230095481405226008040058096199906398131492378358912831336782198628422068428088946561966943043536621349542360265515124597298835327660932703767031061352711726722816557554773642199121212995134742345939747091583317070824802702203512385906100682783338882468481401592974094159304746202379168406687254229081781801608723504127715677625830771334694315835832058132028551448902114814830545913658309959030643185562147433668970678267507119525358463527500994140174385291497900559116995852262545152404168324197854445652857334043265140012164548486353882342317",
};

const chain = FX.ca + FX.int + FX.leaf;

describe("digests and HMACs", () => {
  it("hashes UTF-8 bytes", () => {
    expect(call("crypto.md5", "lorem ipsum")).toBe("80a751fde577028640c419000e33eba6");
    expect(call("crypto.sha256", "lorem ipsum")).toBe(
      "5e2bf57d3f40c4b6df69daf1936cb766f832374b4fc0259a7cbff06e2f70f269",
    );
    expect(call("crypto.sha1", "")).toBe("da39a3ee5e6b4b0d3255bfef95601890afd80709");
    expect(call("crypto.hmac.sha256", "foo", "bar")).toBe(
      "147933218aaabc0b8b10a2b3a5c34684c8d94341bcf10a4736dc7270f7741851",
    );
    expect(call("crypto.hmac.sha256", "åäöçß\u{1F972}♙Ω", "秘密の")).toBe(
      "eb90daeb76d4b2571fbdaf94bbb240809faa8fed93ec0c260dd38c3fdf8d963a",
    );
    expect(call("crypto.hmac.md5", "foo", "bar")).toBe("31b6db9e5eb4addb42f1a6ca07367adc");
    expect(call("crypto.hmac.sha1", "foo", "bar")).toBe("85d155c55ed286a300bd1cf124de08d87e914f3a");
    expect(call("crypto.hmac.sha512", "foo", "bar")).toBe(
      "24257d7210582a65c731ec55159c8184cc24c02489453e58587f71f44c23a2d61b4b72154a89d17b2d49448a8452ea066f4fc56a2bcead45c088572ffccdb3d8",
    );
  });
  it("compares MACs", () => {
    expect(
      call("crypto.hmac.equal", "31b6db9e5eb4addb42f1a6ca07367adc", "31b6db9e5eb4addb42f1a6ca07367adc"),
    ).toBe(true);
    expect(call("crypto.hmac.equal", "31b6db9e5eb4addb42f1a6ca07367adc", "31b6db9e5eb4addb")).toBe(false);
    expect(callErr("crypto.hmac.equal", 1, "a").code).toBe("eval_type_error");
  });
});

describe("Go encodings", () => {
  it("decodes base64 like Go, with its error offsets", () => {
    expect(goBase64Decode("aGVsbG8=").toString()).toBe("hello");
    expect(goBase64Decode("aGVs\nbG8=").toString()).toBe("hello");
    expect(() => goBase64Decode("invalid")).toThrow("illegal base64 data at input byte 4");
    expect(() => goBase64Decode("aGVsbG8")).toThrow("illegal base64 data at input byte 4");
    expect(() => goBase64Decode("a!==")).toThrow("illegal base64 data at input byte 1");
    expect(() => goBase64Decode("aGVsbG8=x")).toThrow("illegal base64 data at input byte 8");
  });
  it("decodes PEM like Go", () => {
    const { block, rest } = pemDecode("junk\n" + FX.ca + "tail");
    expect(block?.type).toBe("CERTIFICATE");
    expect(rest).toBe("tail");
    expect(pemDecode("no pem here").block).toBeNull();
  });
});

describe("crypto.x509.parse_certificates", () => {
  it("parses a chain with Go's field shapes", () => {
    const certs = js("crypto.x509.parse_certificates", chain);
    expect(certs.map((c: any) => c.Subject.CommonName)).toEqual([
      "Test Root",
      "Test Intermediate",
      "leaf.example.com",
    ]);
    const [root, int, leaf] = certs;
    expect(root.Version).toBe(3);
    expect(root.SerialNumber).toBe(1);
    expect(root.IsCA).toBe(true);
    expect(root.BasicConstraintsValid).toBe(true);
    expect(root.MaxPathLen).toBe(-1);
    expect(root.KeyUsage).toBe(96); // CertSign | CRLSign
    expect(root.SignatureAlgorithm).toBe(10); // ECDSAWithSHA256
    expect(root.PublicKeyAlgorithm).toBe(3);
    expect(root.PublicKey.Curve).toEqual({});
    expect(root.Subject.Country).toEqual(["US"]);
    expect(root.Subject.Names).toEqual([
      { Type: [2, 5, 4, 6], Value: "US" },
      { Type: [2, 5, 4, 10], Value: "Test Org" },
      { Type: [2, 5, 4, 3], Value: "Test Root" },
    ]);
    expect(root.NotBefore).toBe("2020-01-01T00:00:00Z");
    expect(root.NotAfter).toBe("2120-01-01T00:00:00Z");
    expect(root.URIStrings).toBeNull();
    expect(int.MaxPathLen).toBe(0);
    expect(int.MaxPathLenZero).toBe(true);
    expect(int.SignatureAlgorithm).toBe(10);
    expect(int.PublicKeyAlgorithm).toBe(1);
    expect(String(int.PublicKey.E)).toBe("65537");
    expect(BigInt(toJSText(call("crypto.x509.parse_certificates", FX.int) as Value, 0))).toBe(
      BigInt(FX.int_n),
    );
    expect(int.Subject.OrganizationalUnit).toEqual(["Ops"]);
    expect(int.AuthorityKeyId).toBe(root.SubjectKeyId);
    expect(leaf.SignatureAlgorithm).toBe(4); // SHA256WithRSA
    expect(leaf.PublicKeyAlgorithm).toBe(4); // Ed25519
    expect(typeof leaf.PublicKey).toBe("string");
    expect(leaf.Subject.SerialNumber).toBe("1234");
    expect(leaf.Subject.Locality).toEqual(["Berlin"]);
    expect(leaf.DNSNames).toEqual(["example.com", "*.example.org"]);
    expect(leaf.IPAddresses).toEqual(["10.1.2.3"]);
    expect(leaf.EmailAddresses).toEqual(["a@example.com"]);
    expect(leaf.URIStrings).toEqual(["spiffe://example.com/opa"]);
    expect(leaf.URIs[0]).toMatchObject({ Scheme: "spiffe", Host: "example.com", Path: "/opa" });
    expect(leaf.ExtKeyUsage).toEqual([1, 2]);
    expect(leaf.KeyUsage).toBe(5);
    expect(leaf.CRLDistributionPoints).toEqual(["http://crl.example.com/ca.crl"]);
    expect(leaf.OCSPServer).toEqual(["http://ocsp.example.com"]);
    expect(leaf.IssuingCertificateURL).toEqual(["http://ca.example.com/ca.crt"]);
    expect(leaf.PolicyIdentifiers).toEqual([[2, 23, 140, 1, 2, 1]]);
    expect(leaf.Policies).toEqual(["2.23.140.1.2.1"]);
    expect(leaf.Extensions.length).toBe(8);
    expect(leaf.UnhandledCriticalExtensions).toBeNull();
    expect(leaf.Raw).toBe(pemDecode(FX.leaf).block!.bytes.toString("base64"));
  });
  it("keeps big serial numbers exact", () => {
    const v = call("crypto.x509.parse_certificates", FX.leaf) as any;
    expect(v[0].SerialNumber.toString()).toBe("123456789012345678901234567890");
  });
  it("accepts base64 of PEM and of DER", () => {
    const b64pem = Buffer.from(chain).toString("base64");
    expect(js("crypto.x509.parse_certificates", b64pem).length).toBe(3);
    const der = pemDecode(FX.ca).block!.bytes.toString("base64");
    expect(js("crypto.x509.parse_certificates", der)[0].Subject.CommonName).toBe("Test Root");
  });
  it("reports malformed input like Go", () => {
    expect(callErr("crypto.x509.parse_certificates", "YmFkc3RyaW5n").message).toBe(
      "crypto.x509.parse_certificates: x509: malformed certificate",
    );
    expect(callErr("crypto.x509.parse_certificates", "not base64!").message).toContain("illegal base64 data");
    expect(callErr("crypto.x509.parse_certificates", FX.int_key_pkcs1).message).toBe(
      "crypto.x509.parse_certificates: PEM block type is 'RSA PRIVATE KEY', expected CERTIFICATE",
    );
  });
});

function toJSText(v: Value, i: number): string {
  return ((v as any)[i].PublicKey.N as object).toString();
}

describe("crypto.x509.parse_and_verify_certificates", () => {
  it("verifies a root → intermediate → leaf chain and returns it leaf first", () => {
    const [ok, certs] = js("crypto.x509.parse_and_verify_certificates", chain);
    expect(ok).toBe(true);
    expect(certs.map((c: any) => c.Subject.CommonName)).toEqual([
      "leaf.example.com",
      "Test Intermediate",
      "Test Root",
    ]);
    expect(certs[0].URIStrings).toEqual(["spiffe://example.com/opa"]);
  });
  it("fails without a path to the root", () => {
    expect(js("crypto.x509.parse_and_verify_certificates", FX.ca + FX.leaf)).toEqual([false, []]);
    // any first certificate is a trust anchor, self-signed or not
    expect(js("crypto.x509.parse_and_verify_certificates", FX.int + FX.leaf)[0]).toBe(true);
    expect(js("crypto.x509.parse_and_verify_certificates", FX.leaf)).toEqual([false, []]);
    expect(js("crypto.x509.parse_and_verify_certificates", "garbage")).toEqual([false, []]);
    // the client certificate only allows client auth; the default usage is server auth
    expect(js("crypto.x509.parse_and_verify_certificates", FX.ca + FX.client)[0]).toBe(false);
  });
  it("takes options", () => {
    const name = "crypto.x509.parse_and_verify_certificates_with_options";
    expect(js(name, FX.ca + FX.client, { KeyUsages: ["KeyUsageClientAuth"] })[0]).toBe(true);
    expect(js(name, FX.ca + FX.client, { KeyUsages: ["KeyUsageAny"] })[0]).toBe(true);
    expect(js(name, chain, { DNSName: "example.com" })[0]).toBe(true);
    expect(js(name, chain, { DNSName: "a.example.org" })[0]).toBe(true);
    expect(js(name, chain, { DNSName: "other.com" })[0]).toBe(false);
    expect(js(name, chain, { CurrentTime: 1e18 })[0]).toBe(false); // 2001: not yet valid
    expect(js(name, chain, { CurrentTime: 1.7e18 })[0]).toBe(true);
    expect(js(name, chain, {})[1][0].URIStrings).toBeUndefined();
    expect(callErr(name, chain, { Foo: 1 }).message).toBe(`${name}: invalid key option`);
    expect(callErr(name, chain, { KeyUsages: ["Nope", "Bad"] }).message).toBe(
      `${name}: invalid entries for 'KeyUsages' found: [Nope Bad]`,
    );
    expect(callErr(name, chain, { DNSName: 1 }).message).toBe(`${name}: 'DNSName' should be a string`);
  });
});

describe("crypto.x509.parse_certificate_request", () => {
  it("parses CSRs", () => {
    const csr = js("crypto.x509.parse_certificate_request", FX.csr);
    expect(csr.Subject.CommonName).toBe("csr.example.com");
    expect(csr.DNSNames).toEqual(["csr.example.com", "www.csr.example.com"]);
    expect(csr.SignatureAlgorithm).toBe(4);
    expect(csr.PublicKeyAlgorithm).toBe(1);
    const b64 = Buffer.from(FX.csr).toString("base64");
    expect(js("crypto.x509.parse_certificate_request", b64).Subject.CommonName).toBe("csr.example.com");
    expect(
      callErr("crypto.x509.parse_certificate_request", Buffer.from(FX.ca).toString("base64")).message,
    ).toBe("crypto.x509.parse_certificate_request: invalid PEM-encoded certificate signing request");
  });
});

describe("private keys", () => {
  it("parse_rsa_private_key gives a JWK", () => {
    const jwk = js("crypto.x509.parse_rsa_private_key", FX.int_key_pkcs1);
    expect(Object.keys(jwk).sort()).toEqual(["d", "dp", "dq", "e", "kty", "n", "p", "q", "qi"]);
    expect(jwk.kty).toBe("RSA");
    expect(jwk.e).toBe("AQAB");
    expect(js("crypto.x509.parse_rsa_private_key", Buffer.from(FX.int_key_pkcs1).toString("base64")).n).toBe(
      jwk.n,
    );
    expect(callErr("crypto.x509.parse_rsa_private_key", "invalid").message).toBe(
      "crypto.x509.parse_rsa_private_key: illegal base64 data at input byte 4",
    );
    expect(callErr("crypto.x509.parse_rsa_private_key", "").message).toBe(
      "crypto.x509.parse_rsa_private_key: input PEM data was empty",
    );
    expect(js("crypto.x509.parse_rsa_private_key", FX.ca_key_sec1).kty).toBe("EC");
  });
  it("parse_private_keys gives Go's key structs", () => {
    const keys = js("crypto.parse_private_keys", FX.int_key_pkcs1 + FX.ca_key_sec1 + FX.leaf_key_pkcs8);
    expect(keys.length).toBe(3);
    expect(Object.keys(keys[0]).sort()).toEqual(["D", "E", "N", "Precomputed", "Primes"]);
    expect(keys[0].E).toBe(65537);
    expect(Object.keys(keys[1]).sort()).toEqual(["Curve", "D", "X", "Y"]);
    expect(typeof keys[2]).toBe("string");
    expect(Buffer.from(keys[2], "base64").length).toBe(64);
    expect(call("crypto.parse_private_keys", "")).toBeNull();
    expect(js("crypto.parse_private_keys", FX.ca)).toEqual([]);
  });
});

describe("crypto.x509.parse_keypair", () => {
  it("matches the conformance case", () => {
    const cert = kpCert();
    const key = kpKey();
    const v = js("crypto.x509.parse_keypair", cert, key);
    expect(v.Certificate[0]).toBe(cert.replace(/-----[A-Z ]+-----|\s/g, ""));
    expect(v.Leaf.Subject.CommonName).toBe("example.com");
    expect(Object.keys(v.PrivateKey).sort()).toEqual(["D", "E", "N", "Precomputed", "Primes"]);
    // base64 inputs work too
    const v2 = js(
      "crypto.x509.parse_keypair",
      Buffer.from(cert).toString("base64"),
      Buffer.from(key).toString("base64"),
    );
    expect(v2.Certificate[0]).toBe(v.Certificate[0]);
  });
  it("rejects mismatched pairs", () => {
    expect(callErr("crypto.x509.parse_keypair", FX.int, FX.ca_key_sec1).message).toBe(
      "crypto.x509.parse_keypair: tls: private key type does not match public key type",
    );
    expect(callErr("crypto.x509.parse_keypair", FX.int_key_pkcs1, FX.int_key_pkcs1).message).toContain(
      "PEM inputs may have been switched",
    );
  });
});

// The certificate and key of OPA's cryptox509parsekeypair conformance case.
function kpCert(): string {
  return "-----BEGIN CERTIFICATE-----\nMIIEszCCApsCFDPRm4sTNZqiH601E6E6pEaJaCKqMA0GCSqGSIb3DQEBCwUAMBYx\nFDASBgNVBAMMC2V4YW1wbGUuY29tMB4XDTIzMDUxMjEyMDIxNFoXDTIzMDYxMTEy\nMDIxNFowFjEUMBIGA1UEAwwLZXhhbXBsZS5jb20wggIiMA0GCSqGSIb3DQEBAQUA\nA4ICDwAwggIKAoICAQDTcNASD17ohP3V14LMUIkFwAeeeniSXy4Pl3EqIgVpt9ul\n2IZiTm4JOYSgQ681bjt1OdwCkBf2Cg62DUyHMMwwnbaznN/Y5piYlaS33XCvcNpM\nOWxwA4Z5Q0jNAshBExp8EzjEojbIUoeSncAP9jtOO/NArhLq+XodmONLqBG8KmZc\n2uiAeJ7ZjTpOckASYPYy7tUc4Ha3XUV0SoF/+0SJrXYOtpyMuMxwks6jMbpacmZn\njFIe8m2xH97s5inmHkzjBVKbpBQQHROP6A61VOrH9FrJRiACZ440zFJ1CGlXZau4\noJgs9S1YRDI4W2Ha1WIYLpUBEMYXVYyn4swTBj42HqpSmfppOoR2g1d/AjxpFVAk\nPLrict/nszhTIkEUE39vJh4HuytT49ss/cp4KokxBjLz7LmTUEzxJS8dB9714KzO\nhFRHnpap0onU7Yb+Yz8/21bZL4AEL1d2Jg48jRET1Mrl9GOnWjzo7JxioUsbLcOo\ny8Qcu2L87BQZqHCVpq6TcJKfPgh9t7y1AHvAfoXJdGSwimCZXuR4VEA3NJAHgPOw\nLypB+dukzseWLdN+e7YOYqyWfjJg4aQmCx+nr866/QlQ4mrEBTkBsDOO5tEsKugI\nredu+lL6z9QFdmeQpoC+s6JKnV29KHZXNDBZ1gnXOyA6lIBjjFjZqnkwT1ToHwID\nAQABMA0GCSqGSIb3DQEBCwUAA4ICAQC8v5BIEooDSe5Kpzwsh9QLK7Ip33v4VHo+\nq82DRjAXiosFoaJ1dg+hwXOUo5VPSOqWCPNYRHDabuX4oiZAGPA9O5lTKQ/PQS4y\nYIsD9XgeuDllBo3Y/uBwjoFFAD169fYMmZgGQ/PCdFS9nrYduPAIzNnsip+Z+XRK\nqLwm83H/nKKgVvbGprNcivG3c8H42CKQ7aqDkEGuSG9EVRnQOMaI7ILMx/oj33Mk\nuJ/21z4AHj7ads3dUF4syEBo5gWCAiBd+g1E/BkFnn+G+oOYo7c12dB+r6rbgrA0\nBk+bW0NvU2ApP/LRRGaJD4wW2UoAklL618+CRWNtXdT+WeKIPlrEdC/0yzU5t6sA\nII+PfvbeWQfL5CssbWhkTbJFt3JKTrIMc9cMjNcqeS+bAELuI16d4CZ5TlmZZeMd\n1WCv6R3YifkR9IogZhix20nPCF1mfo7Q0XAywkx8pPAC4n6uYStU9YobNAGlWXz+\nYbbJDf9r9au88Gu6xFf3eETKu2tJsQgVYBmXic85+FoV45qBI5YZvqiX9XZtWXw2\n391fW+NdK01Jc0tqtADubaF6D4ncnriufqcz+70O0p7CzPbTMtUsPFxcfqZ6x1KX\ngP1TgZM++PuYjHEyCFhHQBz9cQlxPdW4alaDYBnnKvLZXDOAXCWVWS6SXa5tkU3n\nk9i0HC1bhg==\n-----END CERTIFICATE-----\n";
}
function kpKey(): string {
  return "-----BEGIN PRIVATE KEY-----\nMIIJQgIBADANBgkqhkiG9w0BAQEFAASCCSwwggkoAgEAAoICAQDTcNASD17ohP3V\n14LMUIkFwAeeeniSXy4Pl3EqIgVpt9ul2IZiTm4JOYSgQ681bjt1OdwCkBf2Cg62\nDUyHMMwwnbaznN/Y5piYlaS33XCvcNpMOWxwA4Z5Q0jNAshBExp8EzjEojbIUoeS\nncAP9jtOO/NArhLq+XodmONLqBG8KmZc2uiAeJ7ZjTpOckASYPYy7tUc4Ha3XUV0\nSoF/+0SJrXYOtpyMuMxwks6jMbpacmZnjFIe8m2xH97s5inmHkzjBVKbpBQQHROP\n6A61VOrH9FrJRiACZ440zFJ1CGlXZau4oJgs9S1YRDI4W2Ha1WIYLpUBEMYXVYyn\n4swTBj42HqpSmfppOoR2g1d/AjxpFVAkPLrict/nszhTIkEUE39vJh4HuytT49ss\n/cp4KokxBjLz7LmTUEzxJS8dB9714KzOhFRHnpap0onU7Yb+Yz8/21bZL4AEL1d2\nJg48jRET1Mrl9GOnWjzo7JxioUsbLcOoy8Qcu2L87BQZqHCVpq6TcJKfPgh9t7y1\nAHvAfoXJdGSwimCZXuR4VEA3NJAHgPOwLypB+dukzseWLdN+e7YOYqyWfjJg4aQm\nCx+nr866/QlQ4mrEBTkBsDOO5tEsKugIredu+lL6z9QFdmeQpoC+s6JKnV29KHZX\nNDBZ1gnXOyA6lIBjjFjZqnkwT1ToHwIDAQABAoICAAiuKHSdWe2czBjz1IRTyBRK\n2mU4rOuBadAtDPHIXMWGzUclOPsfMihByr6TmMVORbWdzvjx9nHc3ta9fAdOywsx\n5lbAWXY7nUciWZVMy3wAW43mi5uboXEoAHyeIR9+y8cNOPblm+8kaDluLXzaRHwF\nPQrKOq+X11oQtUAdYcECUpp8SDBCA291+09OJHA8t87GfExHsMf9VcUc6+0XoSwv\nyVl4SLwEOCxk8oPDnl1pNegJXDO2CyfK4amDF3RBiTGGveny1foFX5C4W6Y5Grxj\nvThnHxhKLQ3g13/DfSOf4mldenHaDOcDQbaLldxYh0Lr4qUdDazWj8QyrOMZDgOy\nnNnj9zuaI3Hw+zaGm6SQ4pG/s+IujUxyc0yNjGE5R/PswXBkpIR23w5hY7xyr0Eo\n/Gb+jAumKxu/QA1GWY9DL/YKbG0sHJlG8BMzMls5YlWoOhcqw3DHJvLSpI4GlQba\nhC741lNpCrf5FsyDu4ZOVfihDgGq3WteuEZ5vNBgLpateuAmCNjmNSDa/bK1cqBh\nUlgPbFTEYBSklgt8oEEfhvn3ZNvxgRMCFu9USXRQeMIbB+BVQnarWOTYhKL5dqAh\nuYCQprMRuu4FowAFYb37jEBktVAuJDJE4qwqYkLdu2g35SjbUgIJUn3oNDT7sgHs\nSjlWT6005qL6dkjINWXZAoIBAQDXdtWq/jA3RswzQdLewjzaJR9wTbl8lV699ei6\n8HUW9fr55mHyVewRihKNKFF0XnSAKBEqosyZ7joOdMwon0XmCZfJrjxTca4zhBtl\nk1ku9mnRhck0ztc4OUKGyvb9oJ/PlN1CrU/hBwYVjnbWDVtufq/xGxeSzWx2zad/\nb824leawE4c9ozdp1cGtx0iwYAGjjA4BmCQIXiNcYa8qKU6SmHtD95pIbZUvqyOg\ndT8TRcvt4jySibZtpWRF1NczNsnPa9TV6vtJqlZmF+vB1XZVLW0n/CyhAX8pb6qG\ncImaViA4V6/I1VzCYR6FD+vPL8hv8G36rEpwAHLEHWUcvkmHAoIBAQD7ODKXb5XL\nt3L9hxcOYrOshqKUCaT+52/Qmnntb0foxs5CcqBOPerOOTJgEPfn0NW3Ij8zaInk\nNSSSZNJVG3jpWLzOTNUN/Cyep+Tkt50LyvMBa4AUUx3HtkDKqaL789A3WfQ8LJbO\n4WRPM9QNFLxh8uitHkVZY0FgI11eZunNv7kplYltrOGJIVGa3u7rLxLw/EeX7BLi\n1lnaQobVwrVWD1NU1J16PdGp3lKPk8J7y2fSj+UQW76ABopzFayO5nqi06ULMIDm\nwVweYnYOBvNqqdG28u3ob15WCzH4WFd/RYDorXD3Xs9P0LEf9pf/PZ7elU/PEDse\njHXUNSPIVjKpAoIBABqjAEtBXWiYAgqcKpuLW8aELFzP3wx90tadHgZuT6tlAX//\ncUBqSuLoNN7qixddzf1B9s1UjwLApsC+w7aJ6jREH1W5io+uUCDiRhjKnI3nvLFA\nXt1+bLDwsz7CvMIiJ1+cQbZKgsOJAMGNeTeBMzp3wvyFouZtKumNBxYEFmSpc3l1\nEJUYJnOZD3aSWnQjilBTsi+URXAbYze6g9MshCAvZZ3DcHlfwr+/4omltQSG7m0c\nOOzMxZbMiZbwdyJHta9E320KvcIfosrATk8KOrTRBtuYm1PUQYo32dcA9qHz38vX\nW03ywqLtKr68dySH/bmI+a+xuQobpBSGpcdl5uUCggEAIZBckgcCiHk2D9FgrzdY\nshA64HR5auUY91HsQGDBxsPpAs+1wz5ahLr3lAYwWPR52UHmF8Q7yBWhkT2PLHfD\nK8oDT7zMKlYqz/e2iShO/yhaVzI5pn2EWQ5skacgc3EbvIl0LCX48CME9+AA0M6Y\nbK27kIWe1laAgYu4CcjOLAMVhgzIk7KpX1zoPjzSxvE/IptSJWYRD+V7k8GXqi+d\ncqYRiB/v+kkQHhXqCey/6zI96M/41rqrNQeqr72RlHYOpHqKbnhIgIwM9rJI+47K\nLtIJhtvmFUvr2qscPgXvir2Kf4vMsAAmyo8jWxXjMOLWuv5P72ZHv8kcZQHEihua\nIQKCAQEArirbu/1dp/WTPdzhDjRRup8zLHXNzdm1WYCx6NSdouZyWpsqjcJEIKkj\nWSv68hF4wp647eKU3/a27lungqCAKFpKzr1DptvXIJ9iQ53mZ+dL9JYl9hmowtWY\nrrRVLmaroKOvSVgnFRmKm5IEOTmaZhE20F4l0tFa4gSdTgbMSkgO3jvlw5nxte0Q\nE22gLpwhfX+YpbOgMETZ/0aH/MIdwJeyYm3GAhwVMyRnQztz/P8U0irS3GaNeEXc\nLYpsx8F42L9P11OzEw+82DV2XzoHKZUYnGngXs6qByUeuGDTb0daDjOK5on6eNKL\nAj0c+XArCS87P4iflF9maJ3Tk/NfaA==\n-----END PRIVATE KEY-----\n";
}
