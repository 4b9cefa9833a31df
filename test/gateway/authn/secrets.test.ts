import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ApiKeyAuthenticator } from "../../../gateway/authn/api_key.js";
import { BasicAuthenticator } from "../../../gateway/authn/basic.js";
import { PskAuthenticator } from "../../../gateway/authn/psk.js";
import { hashScrypt, hashSha256, parseStoredHash } from "../../../gateway/authn/secrets.js";
import type { AuthnResult } from "../../../gateway/authn/types.js";
import { facts } from "./helpers.js";

const code = (r: AuthnResult) => (r.kind === "error" ? r.error.code : r.kind);
const basicHeader = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;

describe("api_key", () => {
  const a = new ApiKeyAuthenticator({
    header: "X-Api-Key",
    keys: [
      { hash: hashSha256("key-one"), subject: "svc:one", client_id: "one", scopes: ["r"] },
      { hash: hashSha256("key-two"), subject: "svc:two" },
    ],
  });

  it("right key → identity with subject, client_id, scopes", async () => {
    const r = await a.authenticate(facts({ "x-api-key": "key-one" }));
    expect(r.kind === "ok" && r.identity).toMatchObject({
      method: "api_key",
      subject: "svc:one",
      clientId: "one",
      scopes: ["r"],
    });
    const r2 = await a.authenticate(facts({ "x-api-key": "key-two" }));
    expect(r2.kind === "ok" && r2.identity.subject).toBe("svc:two");
  });

  it("wrong key → invalid_token; absent → none; repeated header → invalid_request", async () => {
    expect(code(await a.authenticate(facts({ "x-api-key": "key-three" })))).toBe("invalid_token");
    expect(code(await a.authenticate(facts({})))).toBe("none");
    expect(code(await a.authenticate(facts({ "x-api-key": ["key-one", "key-two"] })))).toBe(
      "invalid_request",
    );
    expect(code(await a.authenticate(facts({ "x-api-key": "x".repeat(2000) })))).toBe("invalid_request");
  });

  it("loads a keys file and accepts scrypt hashes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "authn-"));
    const file = join(dir, "keys.yaml");
    writeFileSync(
      file,
      `keys:\n  - hash: "${await hashScrypt("slow-key", { N: 1024 })}"\n    subject: svc:slow\n`,
    );
    const b = new ApiKeyAuthenticator({ keys_file: file });
    expect(code(await b.authenticate(facts({ "x-api-key": "slow-key" })))).toBe("ok");
    expect(code(await b.authenticate(facts({ "x-api-key": "slow-key" })))).toBe("ok");
    expect(code(await b.authenticate(facts({ "x-api-key": "slow-kez" })))).toBe("invalid_token");
  });

  it("rejects unusable hash formats at start-up", () => {
    expect(() => parseStoredHash("md5:abc")).toThrow();
    expect(() => parseStoredHash("scrypt$1048577$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA==")).toThrow();
    expect(() => new ApiKeyAuthenticator({ keys: [] })).toThrow();
  });
});

describe("basic", async () => {
  const a = new BasicAuthenticator({
    users: [
      { username: "alice", hash: await hashScrypt("correct horse", { N: 1024 }), scopes: ["reports:read"] },
    ],
  });

  it("right password → identity", async () => {
    const r = await a.authenticate(facts({ authorization: basicHeader("alice", "correct horse") }));
    expect(r.kind === "ok" && r.identity).toMatchObject({
      method: "basic",
      subject: "alice",
      scopes: ["reports:read"],
    });
    expect(code(await a.authenticate(facts({ authorization: basicHeader("alice", "correct horse") })))).toBe(
      "ok",
    );
  });

  it("wrong password or unknown user → invalid_token", async () => {
    expect(code(await a.authenticate(facts({ authorization: basicHeader("alice", "wrong") })))).toBe(
      "invalid_token",
    );
    expect(
      code(await a.authenticate(facts({ authorization: basicHeader("mallory", "correct horse") }))),
    ).toBe("invalid_token");
  });

  it("malformed credentials → invalid_request; Bearer → none", async () => {
    expect(code(await a.authenticate(facts({ authorization: "Basic !!!" })))).toBe("invalid_request");
    expect(
      code(
        await a.authenticate(facts({ authorization: `Basic ${Buffer.from("nocolon").toString("base64")}` })),
      ),
    ).toBe("invalid_request");
    expect(code(await a.authenticate(facts({ authorization: "Basic YWxpY2U6eA" })))).toBe("invalid_request");
    expect(code(await a.authenticate(facts({ authorization: "Bearer abc" })))).toBe("none");
  });
});

describe("psk", () => {
  const a = new PskAuthenticator({ secrets: [{ id: "door-7", hash: hashSha256("s3cret-psk") }] });
  it("right secret → psk:<id>; wrong → invalid_token; absent → none", async () => {
    const r = await a.authenticate(facts({ "x-psk": "s3cret-psk" }));
    expect(r.kind === "ok" && r.identity.subject).toBe("psk:door-7");
    expect(code(await a.authenticate(facts({ "x-psk": "s3cret-psK" })))).toBe("invalid_token");
    expect(code(await a.authenticate(facts({})))).toBe("none");
  });
});
