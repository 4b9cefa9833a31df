// bundle.tar.gz reading and writing: round trips, interoperability with GNU tar, and every archive
// trick an attacker or a careless tool can produce (path traversal, absolute names, links, devices,
// duplicates, gzip bombs, oversized and truncated entries), built by hand in the test.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BundleError,
  DEFAULT_LIMITS,
  readArchive,
  readDirectory,
  writeArchive,
  type BundleFile,
} from "../../../pdp/bundle/index.js";
import { rawTar, rawTarGz, removeTree, tempDir, writeTree } from "./helpers.js";

let root: string;
beforeAll(() => {
  root = tempDir();
});
afterAll(() => removeTree(root));

async function refused(gz: Buffer, pattern: RegExp, limits = DEFAULT_LIMITS): Promise<BundleError> {
  const e = await readArchive(gz, limits).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(BundleError);
  expect((e as BundleError).kind).toBe("archive");
  expect((e as BundleError).message).toMatch(pattern);
  return e as BundleError;
}

const files = (list: Record<string, string>): BundleFile[] =>
  Object.entries(list).map(([path, s]) => ({ path, bytes: Buffer.from(s) }));

describe("writeArchive / readArchive", () => {
  it("round-trips files, including names longer than ustar's 100 bytes", async () => {
    const long = `${"deep/".repeat(40)}policy.rego`; // 211 bytes: needs the prefix field
    const longer = `${"x".repeat(120)}/${"y".repeat(120)}.rego`; // no ustar split: PAX path
    const input = files({
      ".manifest": '{"revision":"r1"}',
      "a/data.json": '{"x": 1}',
      [long]: "package deep",
      [longer]: "package x",
      "ünï/cödé.rego": "package u",
    });
    const out = await readArchive(writeArchive(input));
    expect(out.map((f) => f.path).sort()).toEqual(input.map((f) => f.path).sort());
    for (const f of input) expect(out.find((o) => o.path === f.path)!.bytes.equals(f.bytes)).toBe(true);
  });

  it("is deterministic: fixed order (.manifest first), mtime 0, same bytes for the same files", () => {
    const a = writeArchive(files({ "b.rego": "package b", ".manifest": "{}", "a.rego": "package a" }));
    const b = writeArchive(files({ "a.rego": "package a", "b.rego": "package b", ".manifest": "{}" }));
    expect(a.equals(b)).toBe(true);
    const listing = execFileSync("tar", ["-tvzf", "-"], {
      input: a,
      stdio: ["pipe", "pipe", "ignore"],
    }).toString();
    expect(
      listing
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(/\s+/).pop()),
    ).toEqual(["/.manifest", "/a.rego", "/b.rego"]);
    expect(listing).toMatch(/1970-01-01 00:00/);
  });

  it("writes archives GNU tar extracts to the same tree", () => {
    const gz = writeArchive(files({ "x/y/data.json": "{}", [`${"n".repeat(150)}.rego`]: "package n" }));
    const dir = join(root, "extract");
    mkdirSync(dir);
    execFileSync("tar", ["-xzf", "-", "-C", dir], { input: gz, stdio: ["pipe", "ignore", "ignore"] });
    expect(readFileSync(join(dir, "x/y/data.json"), "utf8")).toBe("{}");
    expect(readFileSync(join(dir, `${"n".repeat(150)}.rego`), "utf8")).toBe("package n");
  });

  it("reads archives written by GNU tar (./ names, directory entries, GNU long names)", async () => {
    const src = writeTree(join(root, "gnu-src"), {
      ".manifest": '{"revision":"gnu"}',
      "authz/policy.rego": "package authz",
      [`${"l".repeat(130)}/data.json`]: '{"a": 1}',
    });
    const gz = execFileSync("tar", ["--format=gnu", "-czf", "-", "-C", src, "."]);
    const out = await readArchive(gz);
    expect(out.map((f) => f.path).sort()).toEqual([
      ".manifest",
      "authz/policy.rego",
      `${"l".repeat(130)}/data.json`,
    ]);
    const pax = execFileSync("tar", ["--format=pax", "-czf", "-", "-C", src, "."]);
    expect((await readArchive(pax)).length).toBe(3);
  });
});

describe("archive tricks are refused", () => {
  it("`..` path segments", async () => {
    await refused(rawTarGz([{ name: "../evil.rego", data: "package x" }]), /"\.\." path segment/);
    await refused(rawTarGz([{ name: "a/../../evil.rego", data: "package x" }]), /"\.\." path segment/);
    await refused(
      rawTarGz([{ name: "evil.rego", prefix: "a/../..", data: "package x" }]),
      /"\.\." path segment/,
    );
  });

  it("absolute names beyond the bundle root, drive letters, backslashes, control characters", async () => {
    await refused(rawTarGz([{ name: "//etc/passwd", data: "x" }]), /absolute path/);
    await refused(rawTarGz([{ name: "C:/evil.rego", data: "x" }]), /drive letter/);
    await refused(rawTarGz([{ name: "a\\..\\evil.rego", data: "x" }]), /backslash/);
    await refused(rawTarGz([{ name: "a\u0001.rego", data: "x" }]), /control character/);
  });

  it("accepts the single leading / that opa build writes, as the bundle root", async () => {
    const out = await readArchive(rawTarGz([{ name: "/authz/policy.rego", data: "package authz" }]));
    expect(out.map((f) => f.path)).toEqual(["authz/policy.rego"]);
  });

  it("symbolic links, hard links, devices", async () => {
    await refused(rawTarGz([{ name: "data.json", type: "2", linkname: "/etc/passwd" }]), /symbolic link/);
    await refused(rawTarGz([{ name: "data.json", type: "1", linkname: "other" }]), /hard link/);
    await refused(rawTarGz([{ name: "dev", type: "3" }]), /device or FIFO/);
    await refused(rawTarGz([{ name: "weird", type: "S" }]), /unsupported type/);
  });

  it("a symbolic link made by GNU tar", async () => {
    const src = writeTree(join(root, "link-src"), { "authz/policy.rego": "package authz" });
    symlinkSync("/etc/hostname", join(src, "authz", "data.json"));
    const gz = execFileSync("tar", ["-czf", "-", "-C", src, "."]);
    await refused(gz, /symbolic link/);
  });

  it("duplicate entries, also when spelled differently", async () => {
    await refused(
      rawTarGz([
        { name: "data.json", data: '{"a":1}' },
        { name: "data.json", data: '{"a":2}' },
      ]),
      /duplicate archive entry "data.json"/,
    );
    await refused(
      rawTarGz([
        { name: "/a/data.json", data: "{}" },
        { name: "./a/data.json", data: "{}" },
      ]),
      /duplicate/,
    );
  });

  it("a gzip bomb stops at the bundle limit", async () => {
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024)); // 64 MiB of zeros in ~64 KiB
    expect(bomb.length).toBeLessThan(200_000);
    await refused(bomb, /expands past the limit of 1048576 bytes/, {
      ...DEFAULT_LIMITS,
      maxBundleBytes: 1024 * 1024,
    });
  });

  it("entries larger than the file limit, more entries than allowed", async () => {
    await refused(rawTarGz([{ name: "data.json", data: "x".repeat(5000) }]), /exceeds the limit of 4096/, {
      ...DEFAULT_LIMITS,
      maxFileBytes: 4096,
    });
    const many = Array.from({ length: 6 }, (_, i) => ({ name: `p${i}.rego`, data: "package p" }));
    await refused(rawTarGz(many), /more than 5 files/, { ...DEFAULT_LIMITS, maxFiles: 5 });
  });

  it("corrupt archives: not gzip, bad checksum, truncated entry, missing end", async () => {
    await refused(Buffer.from("not a bundle"), /not gzip data/);
    await refused(gzipSync(Buffer.from("x")).subarray(0, 12), /corrupt archive/);
    await refused(
      rawTarGz([{ name: "a.rego", data: "package a", badChecksum: true }]),
      /bad header checksum/,
    );
    await refused(
      gzipSync(rawTar([{ name: "a.rego", data: "package a", size: 4096 }], false)),
      /truncated entry/,
    );
    await refused(gzipSync(Buffer.alloc(100, 1)), /corrupt archive/);
  });
});

describe("readDirectory", () => {
  it("reads bundle files only, skipping hidden entries but the root .manifest and .signatures.json", async () => {
    const dir = writeTree(join(root, "dir1"), {
      ".manifest": "{}",
      ".signatures.json": "{}",
      ".git/config": "x",
      "authz/.hidden.rego": "package h",
      "authz/policy.rego": "package authz",
      "authz/data.yaml": "a: 1",
      "authz/README.md": "docs",
      "node_modules/x/y.rego": "package y",
      "wasm/policy.wasm": Buffer.from([0, 97, 115, 109]),
    });
    const out = await readDirectory(dir);
    expect(out.map((f) => f.path)).toEqual([
      ".manifest",
      ".signatures.json",
      "authz/data.yaml",
      "authz/policy.rego",
      "wasm/policy.wasm",
    ]);
  });

  it("refuses symbolic links and oversized files", async () => {
    const dir = writeTree(join(root, "dir2"), { "authz/policy.rego": "package authz" });
    symlinkSync(join(dir, "authz", "policy.rego"), join(dir, "authz", "linked.rego"));
    await expect(readDirectory(dir)).rejects.toThrow(/symbolic link/);
    const big = writeTree(join(root, "dir3"), { "data.json": "1".repeat(2000) });
    await expect(readDirectory(big, { ...DEFAULT_LIMITS, maxFileBytes: 1000 })).rejects.toThrow(
      /exceeds the limit/,
    );
    writeFileSync(join(root, "plain-file"), "x");
    await expect(readDirectory(join(root, "plain-file"))).rejects.toThrow(/not a directory/);
  });
});
