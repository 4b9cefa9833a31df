/* eslint-disable @typescript-eslint/no-explicit-any -- results are deep Go-struct JSON shapes; typing them would add nothing */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { builtins } from "../../../../pdp/rego/builtins/jwt.js";
import { BuiltinError, type BuiltinContext } from "../../../../pdp/rego/builtins/registry.js";
import { fromJS, toJS, type Value } from "../../../../pdp/rego/value.js";
import { numFromBigInt } from "../../../../pdp/rego/number.js";
import {
  goJSON as goJSONMarshal,
  parseJSONStrict as parseGoJSON,
} from "../../../../pdp/rego/builtins/lib/gojson.js";

// 2019-11-26: after the conformance tokens' iat, before any exp below.
const ctx: BuiltinContext = { nowNs: 1574723450396363500n, memo: new Map(), print: () => {} };

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

// Tokens and keys from OPA's jwt conformance cases.
const FX = {
  ps_cert:
    "-----BEGIN CERTIFICATE-----\nMIIFiDCCA3ACCQCGV6XsfG/oRTANBgkqhkiG9w0BAQUFADCBhTELMAkGA1UEBhMC\nVVMxEzARBgNVBAgMCkNhbGlmb3JuaWExFTATBgNVBAcMDFJlZHdvb2QgQ2l0eTEO\nMAwGA1UECgwFU3R5cmExDDAKBgNVBAsMA0RldjESMBAGA1UEAwwJbG9jYWxob3N0\nMRgwFgYJKoZIhvcNAQkBFglhc2hAc3R5cmEwHhcNMTgwMzA2MDAxNTU5WhcNMTkw\nMzA2MDAxNTU5WjCBhTELMAkGA1UEBhMCVVMxEzARBgNVBAgMCkNhbGlmb3JuaWEx\nFTATBgNVBAcMDFJlZHdvb2QgQ2l0eTEOMAwGA1UECgwFU3R5cmExDDAKBgNVBAsM\nA0RldjESMBAGA1UEAwwJbG9jYWxob3N0MRgwFgYJKoZIhvcNAQkBFglhc2hAc3R5\ncmEwggIiMA0GCSqGSIb3DQEBAQUAA4ICDwAwggIKAoICAQDucnAwTRA0zqDQ671L\nKWOVwhjhycFyzyhZUd7vhsnslOBiYM6TYIDXhETfAk2RQoRE/9xF16woMD8FOglc\nlSuhi+GNfFRif6LfArm84ZFj1ZS1MX2logikhXhRJQ7AOHe5+ED0re3KH5lWyqfz\nR6bQuPYwTQSBJy6Tq7T9RiOM29yadCX64OaCEbzEFmHtNlbb5px4zCVvgskg/fpV\nGGCMpAYjGDatbxE5eAloVs1EJuI5RSqWr1JRm6EejxM04BFdfGn1HgWrsKXtlvBa\n00/AC0zXL5n6LK7+L3WbRguVTZcE4Yu70gDwhmM+VsKeT9LKClX003BNj0NJDRB9\ndw9MaWxsXDNHNOWEfbnASXeP7ZRv3D81ftij6P8SL14ZnxyrRty8TAN4ij3wd41l\nastRQCtrJFi+HzO606XOp6HDzBoWT0DGl8Sn2hZ6RLPyBnD04vvvcSGeCVjHGOQ8\nc3OTroK58u5MR/q4T00sTkeeVAxuKoEWKsjIBYYrJTe/a2mEq9yiDGbPNYDnWnQZ\njSUZm+Us23Y2sm/agZ5zKXcEuoecGL6sYCixr/xeB9BPxEiTthH+0M8OY99qpIhz\nSmj41wdgQfzZi/6B8pIr77V/KywYKxJEmzw8Uy48aC/rZ8WsT8QdKwclo1aiNJhx\n79OvGbZFoeHD/w7igpx+ttpF/wIDAQABMA0GCSqGSIb3DQEBBQUAA4ICAQC3wWUs\nfXz+aSfFVz+O3mLFkr65NIgazbGAySgMgMNVuadheIkPL4k21atyflfpx4pg9FGv\n40vWCLMajpvynfz4oqah0BACnpqzQ8Dx6HYkmlXK8fLB+WtPrZBeUEsGPKuJYt4M\nd5TeY3VpNgWOPXmnE4lvxHZqh/8OwmOpjBfC9E3e2eqgwiwOkXnMaZEPgKP6JiWk\nEFaQ9jgMQqJZnNcv6NmiqqsZeI0/NNjBpkmEWQl+wLegVusHiQ0FMBMQ0taEo21r\nzUwHoNJR3h3wgGQiKxKOH1FUKHBV7hEqObLraD/hfG5xYucJfvvAAP1iH0ycPs+9\nhSccrn5/HY1c9AZnW8Kh7atp/wFP+sHjtECWK/lUmXfhASS293hprCpJk2n9pkmR\nziXKJhjwkxlC8NcHuiVfaxdfDa4+1Qta2gK7GEypbvLoEmIt/dsYUsxUg84lwJJ9\nnyC/pfZ5a8wFSf186JeVH4kHd3bnkzlQz460HndOMSJ/Xi1wSfuZlOVupFf8TVKl\np4j28MTLH2Wqx50NssKThdaX6hoCiMqreYa+EVaN1f/cIGQxZSCzdzMCKqdB8lKB\n3Eax+5zsIa/UyPwGxZcyXBRHAlz5ZnkjuRxInyiMkBWWz3IZXjTe6Fq8BNd2UWNc\nw35+2nO5n1LKXgR2+nzhZUOk8TPsi9WUywRluQ==\n-----END CERTIFICATE-----",
  ps_tok:
    "eyJhbGciOiAiUFMyNTYiLCAidHlwIjogIkpXVCJ9.eyJpc3MiOiAieHh4In0.iCePYnD1U13oBe_6ylhmojmkY_VZNYXqVszAej8RImMGv51OEqARmYFkRZYTiYCiVFober7vcDq_stOj1uAJCuttygGW_dpHiN-3EWsU2E2vCnXlygWe0ud38pOC-OVyEFbXxO9-m51vnS-3VmBjEO8G1UE8bLFXTeFOGkUIj9dqlefJSWh5wa8XA3g9mj0jqpuJi-7QgEIeVHk-JzhGpoFqI2f-Df_agVvc2x4V-6fJmj7wV2IsaFPRi36mVQmg8S-dkxu4AlaeCILhyNZl8ewjBHHBjJFRwzcy88L00mzdO51ZxEYsBdQav3ux2sc6vjT9PvvjAwzcthQxEoEaNA",
  rs_tok:
    "eyJhbGciOiAiUlMyNTYiLCAidHlwIjogIkpXVCJ9.eyJpc3MiOiAieHh4IiwgImV4cCI6IDMwMDB9.hqDP3AzshNhUZMI02U3nLPrj93QFrgs-74XFrF1Vry2bplrz-NKpdVdfTu8iY_bhmkWf2Om5DdwRZj2ZgpGahtnshnHaRq0RyqF-m3Y7oNj6JL_YMwgxsFIIHtBlagBqDU-gZK99iqSOSGqVhvxqX6gCqFgE7vnEGHeeDedtRM53coAJuwzy8rQV9m3TewoofPdPasGv-dBLQZ3qgmnibkSgb7SmFpjXBy8zL3xJXOZhAHYlgcmcEoFVaWlBguIcWA87WZlpCLYcdYTJzSZweC3QLUhZ4RLJW84-LMKp6xWLLPrp3OgnsduB2G9PYMmYw_qCkuY1KGwfH4PvCQbAzQ",
  aud_tok:
    "eyJhbGciOiAiUlMyNTYiLCAidHlwIjogIkpXVCJ9.eyJpc3MiOiAieHh4IiwgImF1ZCI6ICJmcmVkIn0.F-9m2Tx8r1tuQFirazsI4FK05bXX3uP4ut8M2FryJ07k3bQhy262fdwNDmuFcGx0NfL-c80agcwGoTzMWXkVEgZ2KTz0QSAdcdGk3ZWtUy-Mj2IilZ1dzkVvW8LsithYFTGcUtkelFDrJwtMQ0Kum7SXJpC_HCBk4PbftY0XD6jRgHLnQdeT9_J11L4sd19vCdpxxxm3_m_yvUV3ZynzB4vhQbS3CET4EClAVhi-m_gMh9mj85gY1ycIz6-FxWv8xM2Igm2SMeIdyJwAvEGnIauRS928P_OqVCZgCH2Pafnxtzy77Llpxy8XS0xu5PtPw3_azhg33GaXDCFsfz6GpA",
  aud_cert:
    "-----BEGIN CERTIFICATE-----\nMIIC/DCCAeSgAwIBAgIJAJRvYDU3ei3EMA0GCSqGSIb3DQEBCwUAMBMxETAPBgNV\nBAMMCHdoYXRldmVyMB4XDTE4MDgxMDEwMzgxNloXDTE4MDkwOTEwMzgxNlowEzER\nMA8GA1UEAwwId2hhdGV2ZXIwggEiMA0GCSqGSIb3DQEBAQUAA4IBDwAwggEKAoIB\nAQC4kCmzLMW/5jzkzkmN7Me8wPD+ymBUIjsGqliGfMrfFfDV2eTPVtZcYD3IXoB4\nAOUT7XJzWjOsBRFOcVKKEiCPjXiLcwLb/QWQ1x0Budft32r3+N0KQd1rgcRHTPNc\nJoeWCfOgDPp51RTzTT6HQuV4ud+CDhRJP7QMVMIgal9Nuzs49LLZaBPW8/rFsHjk\nJQ4kDujSrpcT6F2FZY3SmWsOJgP7RjVKk5BheYeFKav5ZV4p6iHn/TN4RVpvpNBh\n5z/XoHITJ6lpkHSDpbIaQUTpobU2um8N3biz+HsEAmD9Laa27WUpYSpiM6DDMSXl\ndBDJdumerVRJvXYCtfXqtl17AgMBAAGjUzBRMB0GA1UdDgQWBBRz74MkVzT2K52/\nFJC4mTa9coM/DTAfBgNVHSMEGDAWgBRz74MkVzT2K52/FJC4mTa9coM/DTAPBgNV\nHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4IBAQAD1ZE4IaIAetqGG+vt9oz1\nIx0j4EPok0ONyhhmiSsF6rSv8zlNWweVf5y6Z+AoTNY1Fym0T7dbpbqIox0EdKV3\nFLzniWOjznupbnqfXwHX/g1UAZSyt3akSatVhvNpGlnd7efTIAiNinX/TkzIjhZ7\nihMIZCGykT1P0ys1OaeEf57wAzviatD4pEMTIW0OOqY8bdRGhuJR1kKUZ/2Nm8Ln\ny7E0y8uODVbH9cAwGyzWB/QFc+bffNgi9uJaPQQc5Zxwpu9utlqyzFvXgV7MBYUK\nEYSLyxp4g4e5aujtLugaC8H6n9vP1mEBr/+T8HGynBZHNTKlDhhL9qDbpkkNB6/w\n-----END CERTIFICATE-----",
  mk_tok:
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWUsImlhdCI6MTUxNjIzOTAyMn0.ZcLZbBKpPFFz8YGD2jEbXzwHT7DWtqRVk1PTV-cAWUV8jr6f2a--Fw9SFR3vSbrtFif06AQ3aWY7PMM2AuxDjiUVGjItmHRz0sJBEijcE2QVkDN7MNK3Kk1fsM_hbEXzNCzChZpEkTZnLy9ijkJJFD0j6lBat4lO5Zc_LC2lXUftV_hU2aW9mQ7pLSgJjItzRymivnN0g-WUDq5IPK_M8b3yPy_N9iByj8B2FO0sC3TuOrXWbrYrX4ve4bAaSqOFOXiL5Z5BJfmmtT--xKdWDGJxnei8lbv7in7t223fVsUpsH-zmybp529Fya37BsaIlcgLrl38ghvoqy2sHu2wAA",
  mk_cert:
    '{\n  "keys": [\n    {\n      "kty": "EC",\n      "use": "sig",\n      "crv": "P-256",\n      "kid": "k1",\n      "x": "9Qq5S5VqMQoH-FOI4atcH6V3bua03C-5ZMZMG1rszwA",\n      "y": "LLbFxWkGBEBrTm1GMYZJy1OXCH1KLweJMCgIEPIsibU",\n      "alg": "ES256"\n    },\n    {\n      "kty": "RSA",\n      "e": "AQAB",\n      "use": "enc",\n      "kid": "k2",\n      "alg": "RS256",\n      "n": "sGu-fYVE2nq2dPxJlqAMI0Z8G3FD0XcWDnD8mkfO1ddKRGuUQZmfj4gWeZGyIk3cnuoy7KJCEqa3daXc08QHuFZyfn0rH33t8_AFsvb0q0i7R2FK-Gdqs_E0-sGpYMsRJdZWfCioLkYjIHEuVnRbi3DEsWqe484rEGbKF60jNRgGC4b-8pz-E538ZkssWxcqHrYIj5bjGEU36onjS3M_yrTuNvzv_8wRioK4fbcwmGne9bDxu8LcoSReWpPn0CnUkWnfqroRcMJnC87ZuJagDW1ZWCmU3psdsVanmFFh0DP6z0fsA4h8G2n9-qp-LEKFaWwo3IWlOsIzU3MHdcEiGw"\n    }\n  ]\n}',
  rsa_tok:
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJmb28iOiJiYXIiLCJuYmYiOjE0NDQ0Nzg0MDB9.N0-EVdv5pvUfZYFRzMGnsWpNLHgwMEgViPwpuLBEtt32682OgnOK-N4X-2gpQEjQIbUr0IFym8YsRQU9GZvqQP72Sd6yOQNGSNeE74DpUZCAjBa9SBIb1UlD2MxZB-e7YJiEyo7pZhimaqorXrgorlaXYGMvsCFWDYmBLzGaGYaGJyEpkZHzHb7ujsDrJJjdEtDV3kh13gTHzLPvqnoXuuxelXye_8LPIhvgDy52gT4shUEso71pJCMv_IqAR19ljVE17lJzoi6VhRn6ReNUE-yg4KfCO4Ypnuu-mcQr7XtmSYoWkX72L5UQ-EyWkoz-w0SYKoJTPzHkTL2thYStksVpeNkGuck25aUdtrQgmPbao0QOWBFlkg03e6mPCD2-aXOt1ofth9mZGjxWMHX-mUqHaNmaWM3WhRztJ73hWrmB1YOdYQtOEHejfvR_td5tqIw4W6ufRy2ScOypGQe7kNaUZxpgxZ1927ZGNiQgawIOAQwXOcFx1JNSEIeg55-cYJrHPxsXGOB9ZxW-qnswmFJp474iUVXjzGhLexJDXBwvKGs_O3JFjMsvyV9_hm7bnQU0vG_HgPYs5i9VOHRMujq1vFBcm52TFVOBGdWaGfb9RRdLLYvVkJLk0Poh19rsCWb7-Vc3mAaGGpvuk4Wv-PnGGNC-V-FQqIbijHDrn_g",
  rsa_pub:
    "-----BEGIN PUBLIC KEY-----\nMIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA7nJwME0QNM6g0Ou9SyljlcIY4cnBcs8oWVHe74bJ7JTgYmDOk2CA14RE3wJNkUKERP/cRdesKDA/BToJXJUroYvhjXxUYn+i3wK5vOGRY9WUtTF9paIIpIV4USUOwDh3ufhA9K3tyh+ZVsqn80em0Lj2ME0EgScuk6u0/UYjjNvcmnQl+uDmghG8xBZh7TZW2+aceMwlb4LJIP36VRhgjKQGIxg2rW8ROXgJaFbNRCbiOUUqlq9SUZuhHo8TNOARXXxp9R4Fq7Cl7ZbwWtNPwAtM1y+Z+iyu/i91m0YLlU2XBOGLu9IA8IZjPlbCnk/SygpV9NNwTY9DSQ0QfXcPTGlsbFwzRzTlhH25wEl3j+2Ub9w/NX7Yo+j/Ei9eGZ8cq0bcvEwDeIo98HeNZWrLUUArayRYvh8zutOlzqehw8waFk9AxpfEp9oWekSz8gZw9OL773EhnglYxxjkPHNzk66CufLuTEf6uE9NLE5HnlQMbiqBFirIyAWGKyU3v2tphKvcogxmzzWA51p0GY0lGZvlLNt2NrJv2oGecyl3BLqHnBi+rGAosa/8XgfQT8RIk7YR/tDPDmPfaqSIc0po+NcHYEH82Yv+gfKSK++1fyssGCsSRJs8PFMuPGgv62fFrE/EHSsHJaNWojSYce/Trxm2RaHhw/8O4oKcfrbaRf8CAwEAAQ==\n-----END PUBLIC KEY-----",
};

const jwkOf = (k: ReturnType<typeof generateKeyPairSync>["privateKey"]): Value =>
  fromJS(k.export({ format: "jwk" }) as Record<string, unknown>);
const pubJwkOf = (
  k: ReturnType<typeof generateKeyPairSync>["publicKey"],
  extra: Record<string, string> = {},
): string => JSON.stringify({ ...(k.export({ format: "jwk" }) as object), ...extra });

describe("io.jwt.decode", () => {
  it("decodes", () => {
    expect(
      js(
        "io.jwt.decode",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuZXciOiJJIGFtIGEgdXNlciBjcmVhdGVkIGZpZWxkIiwiaXNzIjoib3BhIn0.6UmjsclVDGD9jcmX_F8RJzVgHtUZuLu2pxkF_UEQCrE",
      ),
    ).toEqual([
      { alg: "HS256", typ: "JWT" },
      { iss: "opa", new: "I am a user created field" },
      "e949a3b1c9550c60fd8dc997fc5f112735601ed519b8bbb6a71905fd41100ab1",
    ]);
  });
  it("reports OPA's errors", () => {
    expect(
      callErr(
        "io.jwt.decode",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImVuYyI6ImJsYWgifQ.eyJuZXciOiJJIGFtIGEgdXNlciBjcmVhdGVkIGZpZWxkIiwiaXNzIjoib3BhIn0.McGUb1e-UviZKy6UyQErNNQzEUgeV25Buwk7OHOa8U8",
      ).message,
    ).toBe("io.jwt.decode: JWT is a JWE object, which is not supported");
    expect(
      callErr(
        "io.jwt.decode",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9eyJzdWIiOiIwIiwiaXNzIjoib3BhIn0XmVoLoHI3pxMtMO_WRONMSJzGUDP9pDjy8Jp0_tdRXY",
      ).message,
    ).toBe("io.jwt.decode: encoded JWT had no period separators");
    expect(callErr("io.jwt.decode", "a.b").message).toBe(
      "io.jwt.decode: encoded JWT must have 3 sections, found 2",
    );
    expect(callErr("io.jwt.decode", "e30.!!.x").message).toContain("JWT payload had invalid encoding");
    expect(callErr("io.jwt.decode", "W10.e30.x").message).toBe(
      "io.jwt.decode: bad JWT header: decoded JSON type was not an Object",
    );
    expect(callErr("io.jwt.decode", 1).code).toBe("eval_type_error");
  });
  it("keeps big numbers exact", () => {
    const tok = `e30.${Buffer.from('{"n":12345678901234567890123}').toString("base64url")}.`;
    const v = call("io.jwt.decode", tok) as any;
    expect(v[1].n.toString()).toBe("12345678901234567890123");
  });
});

describe("io.jwt.verify_*", () => {
  it("verifies HMAC", () => {
    expect(
      call(
        "io.jwt.verify_hs256",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiYWxpY2UiLCJhenAiOiJhbGljZSIsInN1Ym9yZGluYXRlcyI6W10sImhyIjpmYWxzZX0.rz3jTY033z-NrKfwrK89_dcLF7TN4gwCMj-fVBDyLoM",
        "secret",
      ),
    ).toBe(true);
    expect(
      call(
        "io.jwt.verify_hs384",
        "eyJhbGciOiJIUzM4NCJ9.eyJTY29wZXMiOlsiZm9vIiwiYmFyIl0sIm5iZiI6MTQ1MTYwNjQwMH0.g98lHYzuqINVppLMoEZT7jlpX0IBSo9zKGoN9DhQg7Ua3YjLXbJMjzESjIHXOGLB",
        "secret",
      ),
    ).toBe(true);
    expect(
      call(
        "io.jwt.verify_hs256",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiYWxpY2UiLCJhenAiOiJhbGljZSIsInN1Ym9yZGluYXRlcyI6W10sImhyIjpmYWxzZX0.rz3jTY033z-NrKfwrK89_dcLF7TN4gwCMj-fVBDyLoM",
        "wrong",
      ),
    ).toBe(false);
  });
  it("verifies RSA with a PEM public key or certificate", () => {
    expect(call("io.jwt.verify_rs256", FX.rsa_tok, FX.rsa_pub)).toBe(true);
    expect(call("io.jwt.verify_rs384", FX.rsa_tok, FX.rsa_pub)).toBe(false);
    expect(call("io.jwt.verify_rs256", FX.aud_tok, FX.aud_cert)).toBe(true);
    expect(call("io.jwt.verify_rs256", FX.rs_tok, FX.ps_cert)).toBe(false);
    expect(callErr("io.jwt.verify_rs256", FX.rsa_tok, FX.rsa_pub + "\n\nextra").message).toBe(
      "io.jwt.verify_rs256: extra data after a PEM certificate block",
    );
    expect(callErr("io.jwt.verify_rs256", FX.rsa_tok, "{").message).toContain(
      "failed to parse a JWK key (set)",
    );
  });
  it("verifies with JWK sets, honouring kid and alg", () => {
    expect(call("io.jwt.verify_rs256", FX.mk_tok, FX.mk_cert)).toBe(true);
    expect(call("io.jwt.verify_es256", FX.mk_tok, FX.mk_cert)).toBe(false);
  });
  it("round-trips every algorithm through encode_sign", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const ec = { ES256: "P-256", ES384: "P-384", ES512: "P-521" } as const;
    const ed = generateKeyPairSync("ed25519");
    const cases: [string, Value, string, string][] = [];
    for (const alg of ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]) {
      cases.push([alg, jwkOf(rsa.privateKey), pubJwkOf(rsa.publicKey), `io.jwt.verify_${alg.toLowerCase()}`]);
    }
    for (const [alg, crv] of Object.entries(ec)) {
      const k = generateKeyPairSync("ec", { namedCurve: crv });
      cases.push([alg, jwkOf(k.privateKey), pubJwkOf(k.publicKey), `io.jwt.verify_${alg.toLowerCase()}`]);
    }
    cases.push(["EdDSA", jwkOf(ed.privateKey), pubJwkOf(ed.publicKey), "io.jwt.verify_eddsa"]);
    for (const [alg, priv, pub, verify] of cases) {
      const tok = call("io.jwt.encode_sign", { alg }, { iss: "me", exp: 2e9 }, priv) as string;
      expect(call(verify, tok, pub), alg).toBe(true);
      const [ok, header, payload] = js("io.jwt.decode_verify", tok, { cert: pub, iss: "me" });
      expect(ok, alg).toBe(true);
      expect(header).toEqual({ alg });
      expect(payload).toEqual({ iss: "me", exp: 2e9 });
      expect(js("io.jwt.decode_verify", tok, { cert: pub, alg: "HS256" })[0]).toBe(false);
    }
    const hs = call(
      "io.jwt.encode_sign",
      { alg: "HS512" },
      { a: 1 },
      { kty: "oct", k: "c2VjcmV0" },
    ) as string;
    expect(call("io.jwt.verify_hs512", hs, "secret")).toBe(true);
    expect(js("io.jwt.decode_verify", hs, { secret: "secret" })[0]).toBe(true);
  });
});

describe("io.jwt.decode_verify", () => {
  it("passes OPA's conformance cases", () => {
    expect(js("io.jwt.decode_verify", FX.ps_tok, { cert: FX.ps_cert })).toEqual([false, {}, {}]);
    expect(js("io.jwt.decode_verify", FX.rs_tok, { cert: FX.ps_cert })).toEqual([false, {}, {}]);
    expect(js("io.jwt.decode_verify", FX.aud_tok, { cert: FX.aud_cert, aud: "fred" })).toEqual([
      true,
      { alg: "RS256", typ: "JWT" },
      { aud: "fred", iss: "xxx" },
    ]);
    expect(js("io.jwt.decode_verify", FX.aud_tok, { cert: FX.aud_cert })[0]).toBe(false); // aud without constraint
    expect(
      js("io.jwt.decode_verify", FX.mk_tok, { cert: FX.mk_cert, time: numFromBigInt(1574723450396363500n) }),
    ).toEqual([
      true,
      { alg: "RS256", typ: "JWT" },
      { admin: true, iat: 1516239022, name: "John Doe", sub: "1234567890" },
    ]);
    const t = numFromBigInt(1589385771123400000n);
    expect(
      js(
        "io.jwt.decode_verify",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJ4eHgiLCJuYmYiOjEuNTg5Mzg1NzcwMTIzNGUrMDl9.lvrsV1nam-BZr0SomWwsr4dBfu6BDrR2FzQ1iS_Xnrw",
        { secret: "secret", time: t },
      ),
    ).toEqual([true, { alg: "HS256", typ: "JWT" }, { iss: "xxx", nbf: 1589385770.1234 }]);
    expect(
      js(
        "io.jwt.decode_verify",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjEuNTg5Mzg1NzcxMTIzNGUrMDksImlzcyI6Inh4eCJ9.PZ2z6VfHt9YdvHHUbilkTnw4R9TK3_V0LV1h-q0k9xg",
        { secret: "secret", time: t },
      ),
    ).toEqual([false, {}, {}]);
  });
  it("rejects a non-numeric exp", () => {
    const tok = call(
      "io.jwt.encode_sign",
      { alg: "HS256" },
      { exp: null },
      { kty: "oct", k: Buffer.from("42").toString("base64url") },
    ) as string;
    expect(callErr("io.jwt.decode_verify", tok, { secret: "42" }).message).toBe(
      "io.jwt.decode_verify: exp value must be a number",
    );
  });
  it("checks constraints", () => {
    const name = "io.jwt.decode_verify";
    expect(callErr(name, "a.b.c", {}).message).toBe(`${name}: no key constraint`);
    expect(callErr(name, "a.b.c", { secret: "x", cert: FX.rsa_pub }).message).toBe(
      `${name}: duplicate key constraints`,
    );
    expect(callErr(name, "a.b.c", { secret: "x", foo: 1 }).message).toBe(
      `${name}: unknown token validation constraint: foo`,
    );
    expect(callErr(name, "a.b.c", { secret: "x", time: -1 }).message).toBe(
      `${name}: token time constraint: must not be negative`,
    );
    expect(callErr(name, "a.b.c", 1).code).toBe("eval_type_error");
  });
  it("uses the query time and handles nested tokens", () => {
    const key = { kty: "oct", k: Buffer.from("k").toString("base64url") };
    const expired = call("io.jwt.encode_sign", { alg: "HS256" }, { exp: 1500000000 }, key) as string;
    expect(js("io.jwt.decode_verify", expired, { secret: "k" })[0]).toBe(false);
    const inner = call("io.jwt.encode_sign", { alg: "HS256" }, { sub: "inner" }, key) as string;
    const outer = call(
      "io.jwt.encode_sign_raw",
      '{"alg":"HS256","cty":"JWT","typ":"JOSE"}',
      inner,
      JSON.stringify(key),
    ) as string;
    expect(js("io.jwt.decode_verify", outer, { secret: "k" })).toEqual([
      true,
      { alg: "HS256" },
      { sub: "inner" },
    ]);
    expect(js("io.jwt.decode", outer)[1]).toEqual({ sub: "inner" });
  });
});

describe("io.jwt.encode_sign(_raw)", () => {
  it("reproduces RFC 7515 A.1", () => {
    expect(
      call(
        "io.jwt.encode_sign",
        { alg: "HS256", typ: "JWT" },
        {
          aud: ["bob", "saul"],
          exp: 1300819380,
          "http://example.com/is_root": true,
          iss: "joe",
          privateParams: { private_one: "one", private_two: "two" },
        },
        {
          k: "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow",
          kty: "oct",
        },
      ),
    ).toBe(
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOlsiYm9iIiwic2F1bCJdLCJleHAiOjEzMDA4MTkzODAsImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlLCJpc3MiOiJqb2UiLCJwcml2YXRlUGFyYW1zIjp7InByaXZhdGVfb25lIjoib25lIiwicHJpdmF0ZV90d28iOiJ0d28ifX0.-Or2eol8bzly-Ztb0v7_7UkcKBkN_aNNpK33HK0MeOY",
    );
    expect(
      call(
        "io.jwt.encode_sign_raw",
        '{"typ":"JWT",\r\n "alg":"HS256"}',
        '{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}',
        '{\n"kty":"oct",\n"k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"\n}',
      ),
    ).toBe(
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    );
  });
  it("signs EdDSA deterministically", () => {
    expect(
      call(
        "io.jwt.encode_sign",
        { alg: "EdDSA", typ: "JWT" },
        {
          aud: ["bob", "saul"],
          exp: 1300819380,
          "http://example.com/is_root": true,
          iss: "joe",
          privateParams: { private_one: "one", private_two: "two" },
        },
        {
          kty: "OKP",
          alg: "EdDSA",
          crv: "Ed25519",
          x: "wEZFfoAj1rFKTLOOmjJjVZlCHwksuvMb2I5y_hg70E8",
          d: "9XI34uQzYUJfWhDZf_0nYsLMBRVu8a6dFsy60P8uugk",
        },
      ),
    ).toBe(
      "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJhdWQiOlsiYm9iIiwic2F1bCJdLCJleHAiOjEzMDA4MTkzODAsImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlLCJpc3MiOiJqb2UiLCJwcml2YXRlUGFyYW1zIjp7InByaXZhdGVfb25lIjoib25lIiwicHJpdmF0ZV90d28iOiJ0d28ifX0.T_X7SzKEehTnRdgYrDobpKO-EqZ0LW3Y-idx16wNHXCL5aiR24h2Ei0pWRHG2X2BYomwbvNwyxPcasgHqs_eBA",
    );
  });
  it("reports header errors", () => {
    const key =
      '{\n"kty":"oct",\n"k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"\n}';
    expect(callErr("io.jwt.encode_sign_raw", '{"typ:"JWT",\r\n "alg":"HS256"}', "{}", key).message).toContain(
      "io.jwt.encode_sign_raw: missing or invalid 'alg' header: cannot parse JSON",
    );
    expect(callErr("io.jwt.encode_sign_raw", '{"alg":"dummy"}', "{}", key).message).toBe(
      "io.jwt.encode_sign_raw: unknown JWS algorithm: dummy",
    );
    expect(callErr("io.jwt.encode_sign_raw", '{"alg":"HS256"}', "not json", key).message).toBe(
      "io.jwt.encode_sign_raw: type is JWT but payload is not JSON",
    );
    expect(call("io.jwt.encode_sign_raw", '{"alg":"HS256","typ":"text"}', "not json", key)).toMatch(/^ey/);
    expect(callErr("io.jwt.encode_sign_raw", '{"alg":"RS256"}', "{}", key).code).toBe("eval_builtin_error");
  });
});

describe("Go JSON", () => {
  it("marshals like json.Marshal", () => {
    expect(goJSONMarshal(fromJS({ b: "<&>\u2028", a: [1, 2.5, null] }))).toBe(
      '{"a":[1,2.5,null],"b":"\\u003c\\u0026\\u003e\\u2028"}',
    );
  });
  it("unmarshals exactly", () => {
    expect(toJS(parseGoJSON('{"a": 1, "a": 2, "x": [true, "\\u00e9"]}'))).toEqual({ a: 2, x: [true, "é"] });
    expect(() => parseGoJSON("{} x")).toThrow();
    expect(() => parseGoJSON("{'a': 1}")).toThrow("invalid character");
  });
});
