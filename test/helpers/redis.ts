// Redis for the tests: the shared one (PORTCULLIS_TEST_REDIS_URL, default redis://127.0.0.1:6379) under a
// random key prefix, or an own redis-server the fault tests may stop, kill and restart.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, type AddressInfo } from "node:net";
import { Redis } from "ioredis";

export const TEST_REDIS_URL = process.env.PORTCULLIS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

async function reachable(url: string): Promise<string | undefined> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on("error", () => {});
  try {
    await r.connect();
    await r.ping();
    return undefined;
  } catch (e) {
    return `Redis at ${url} unreachable (${e instanceof Error ? e.message : String(e)})`;
  } finally {
    r.disconnect();
  }
}

/**
 * Why `suite` cannot run (Redis unreachable), or undefined. Says so in one line; under CI=true a missing
 * Redis is a failure, not a skip.
 */
export async function redisUnavailable(suite: string): Promise<string | undefined> {
  const why = await reachable(TEST_REDIS_URL);
  if (why !== undefined) {
    if (process.env.CI === "true") throw new Error(`${why}; CI=true requires it`);
    console.warn(`skipping ${suite}: ${why}`);
  }
  return why;
}

/** A key prefix no other test (or run) shares. */
export const testKeyPrefix = (): string => `pctest:${randomBytes(6).toString("hex")}:`;

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** An own redis-server (no persistence) on `port`, ready when it answers PING. */
export async function startRedis(port: number): Promise<ChildProcess> {
  const p = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore",
    },
  );
  const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null });
  probe.on("error", () => {});
  try {
    const end = Date.now() + 5000;
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        return p;
      } catch (e) {
        if (Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    probe.disconnect();
  }
}

/** Kills an own redis-server, also when a test left it stopped (SIGSTOP). */
export async function stopRedis(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGCONT");
  p.kill("SIGKILL");
  await exited;
}
