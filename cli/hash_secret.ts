// `portcullis hash-secret`: the stored form of an API key, password or pre-shared secret, for the files
// the api_key, basic and psk authenticators read. The secret comes from stdin, never argv, so it stays
// out of shell history and the process list.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { hashScrypt, hashSha256 } from "../gateway/authn/secrets.js";
import { UsageError, type ExitCode, type IO } from "./io.js";

export const hashSecretUsage = `Usage: portcullis hash-secret [--scrypt | --sha256] [--generate]

Prints the stored form of a secret for an api_key keys file, a basic users file
or a psk secrets file. The secret is the first line of standard input.

Options:
      --scrypt    scrypt$N$r$p$salt$hash (the default): for passwords and any secret a person chose
      --sha256    sha256:<hex>: only for random machine secrets of 128 bits or more (API keys, PSKs),
                  where a slow hash adds nothing
      --generate  make a random 256-bit secret instead of reading one; prints the secret, then its
                  hash (sha256 unless --scrypt is given)

Example:
  printf '%s\\n' "$PASSWORD" | portcullis hash-secret
  portcullis hash-secret --generate
`;

/** Longest secret accepted, as at request time (lib/hashed_header_secret.ts). */
const MAX_SECRET = 1024;

/** The first line of stdin; stops reading there, so an interactive user only presses Enter. */
export function readFirstLine(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const done = () => {
      stream.off("data", onData);
      stream.off("end", done);
      stream.off("error", reject);
      stream.pause();
      resolve(text.split("\n")[0]);
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.includes("\n") || text.length > MAX_SECRET + 2) done();
    };
    stream.on("data", onData);
    stream.once("end", done);
    stream.once("error", reject);
  });
}

export async function runHashSecret(
  argv: string[],
  io: IO,
  // Destroyed after the first line: a paused but open stdin pipe would keep the process alive.
  readSecret: () => Promise<string> = () => readFirstLine().finally(() => process.stdin.destroy()),
): Promise<ExitCode> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scrypt: { type: "boolean" },
      sha256: { type: "boolean" },
      generate: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.out(hashSecretUsage);
    return 0;
  }
  if (values.scrypt && values.sha256) throw new UsageError("--scrypt and --sha256 exclude each other");
  if (values.sha256 && !values.generate) {
    io.err("portcullis hash-secret: sha256 is only safe for random secrets of 128 bits or more\n");
  }
  const secret = values.generate
    ? randomBytes(32).toString("base64url")
    : (await readSecret()).replace(/\r$/, "");
  if (secret.length === 0) throw new UsageError("no secret on standard input");
  if (secret.length > MAX_SECRET) throw new UsageError(`secret longer than ${MAX_SECRET} characters`);
  const sha = values.sha256 || (values.generate && !values.scrypt);
  const hash = sha ? hashSha256(secret) : await hashScrypt(secret);
  io.out(values.generate ? `${secret}\n${hash}\n` : `${hash}\n`);
  return 0;
}
