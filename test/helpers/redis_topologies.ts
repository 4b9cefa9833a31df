// Own Redis topologies for the tests: a Sentinel group (one master, one replica, one sentinel) and a
// three-master Cluster, each from the installed redis-server on free loopback ports in a temp dir, with
// no persistence. Every wait is bounded and says what it waited for; a process that exits early fails
// the wait with the tail of its log. stop() kills every process and removes the dir.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./redis.js";

/** How long any start-up or failover step may take before the helper gives up with a message. */
export const START_TIMEOUT_MS = 15_000;

/**
 * Why `suite` cannot run (no redis-server on the PATH), or undefined. One line; under CI=true a missing
 * redis-server is a failure, not a skip (as test/helpers/redis.ts does for the shared Redis).
 */
export function redisServerMissing(suite: string): string | undefined {
  const r = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (r.status === 0) return undefined;
  const why = `redis-server not runnable (${r.error?.message ?? `exit ${r.status}`})`;
  if (process.env.CI === "true") throw new Error(`${why}; CI=true requires it`);
  console.warn(`skipping ${suite}: ${why}`);
  return why;
}

interface Proc {
  name: string;
  child: ChildProcess;
  log: string;
}

/** Processes and a temp dir that go away together. */
class Group {
  readonly dir = mkdtempSync(join(tmpdir(), "portcullis-redis-topo-"));
  private readonly procs: Proc[] = [];

  /** Starts `redis-server args…` with its output in `<dir>/<name>.log`. */
  spawn(name: string, args: string[]): Proc {
    const log = join(this.dir, `${name}.log`);
    const fd = openSync(log, "a");
    try {
      const child = spawn("redis-server", args, { stdio: ["ignore", fd, fd], cwd: this.dir });
      child.on("error", () => {});
      const p = { name, child, log };
      this.procs.push(p);
      return p;
    } finally {
      closeSync(fd);
    }
  }

  /** Connects a short-lived admin client (no retries: the caller polls). */
  client(port: number): Redis {
    const c = new Redis({
      port,
      host: "127.0.0.1",
      lazyConnect: true,
      connectTimeout: 500,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    c.on("error", () => {});
    return c;
  }

  /** Runs one command against `port` (a fresh connection each time: a killed or restarted server is fine). */
  async command(port: number, args: string[]): Promise<unknown> {
    const c = this.client(port);
    try {
      await c.connect();
      return await c.call(args[0]!, ...args.slice(1));
    } finally {
      c.disconnect();
    }
  }

  /** Polls `check` until it returns true, failing after START_TIMEOUT_MS with `what` and the last error. */
  async until(what: string, check: () => Promise<boolean>, watch: Proc[] = this.procs): Promise<void> {
    const end = Date.now() + START_TIMEOUT_MS;
    let last = "";
    for (;;) {
      const dead = watch.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
      if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${tail(dead.log)}`);
      try {
        if (await check()) return;
      } catch (e) {
        last = e instanceof Error ? e.message : String(e);
      }
      if (Date.now() > end) {
        throw new Error(
          `timed out after ${START_TIMEOUT_MS} ms waiting for ${what}${last ? ` (last error: ${last})` : ""}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills the process named `name` (SIGKILL) and waits for it to be gone. */
  async kill(name: string): Promise<void> {
    const p = this.procs.find((q) => q.name === name);
    if (!p) throw new Error(`no process ${name}`);
    await killed(p.child);
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map(({ child }) => killed(child)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function killed(child: ChildProcess): Promise<unknown> | undefined {
  if (child.exitCode !== null || child.signalCode !== null) return undefined;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGCONT");
  child.kill("SIGKILL");
  return exited;
}

function tail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}

/** `INFO section` as a map. */
async function info(g: Group, port: number, section: string): Promise<Map<string, string>> {
  const text = String(await g.command(port, ["INFO", section]));
  const out = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const i = line.indexOf(":");
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** Options every data node gets: loopback, nothing written to disk. */
const NO_PERSISTENCE = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];

export interface SentinelTopology {
  /** The monitored master's name (`cache.redis.name`). */
  readonly name: string;
  /** `host:port` of the sentinel (`cache.redis.sentinels`). */
  readonly sentinels: string[];
  readonly sentinelPort: number;
  /** The data nodes' ports; which one is the master changes with failover(). */
  readonly ports: readonly [number, number];
  /** The port of the master as the sentinel names it. */
  master(): Promise<number>;
  /**
   * Forces a failover (SENTINEL FAILOVER) and waits until the sentinel names the other node and that
   * node says it is a master (`+switch-master`). Resolves to the new master's port. The old master is
   * not waited for: the sentinel turns it into a replica only at its next INFO poll, up to 10 s later,
   * and until then it still accepts writes from clients that have not moved.
   */
  failover(): Promise<number>;
  stop(): Promise<void>;
}

/** One master, one replica, one sentinel (quorum 1), the replica in sync before the sentinel starts. */
export async function startSentinel(name = "mymaster"): Promise<SentinelTopology> {
  const g = new Group();
  try {
    const [m, r, s] = [await freePort(), await freePort(), await freePort()];
    // No 5 s wait before a full sync (the default), neither now nor when failover re-points the old master.
    const node = (port: number) => [
      "--port",
      String(port),
      "--dir",
      g.dir,
      ...NO_PERSISTENCE,
      "--repl-diskless-sync-delay",
      "0",
    ];
    g.spawn(`master-${m}`, node(m));
    g.spawn(`replica-${r}`, [...node(r), "--replicaof", "127.0.0.1", String(m)]);
    await g.until(`replica ${r} in sync with master ${m}`, async () => {
      return (await info(g, r, "replication")).get("master_link_status") === "up";
    });
    // The sentinel rewrites its config file, so it gets one of its own. Short detection and failover
    // times keep a forced failover within a few seconds.
    const conf = join(g.dir, "sentinel.conf");
    writeFileSync(
      conf,
      [
        `port ${s}`,
        "bind 127.0.0.1",
        `dir ${g.dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${m} 1`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        "",
      ].join("\n"),
    );
    g.spawn(`sentinel-${s}`, [conf, "--sentinel"]);
    // Ready when it names the master and knows the replica (it learns it from the master's INFO).
    await g.until(`sentinel ${s} to monitor ${name} with its replica`, async () => {
      const addr = (await g.command(s, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name])) as string[] | null;
      if (addr?.[1] !== String(m)) return false;
      const replicas = (await g.command(s, ["SENTINEL", "REPLICAS", name])) as string[][];
      return replicas.some(
        (fields) => flags(fields) !== undefined && !/down|disconnected/.test(flags(fields)!),
      );
    });
    const master = async () => {
      const addr = (await g.command(s, ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name])) as string[];
      return Number(addr[1]);
    };
    return {
      name,
      sentinels: [`127.0.0.1:${s}`],
      sentinelPort: s,
      ports: [m, r],
      master,
      failover: async () => {
        const old = await master();
        const next = old === m ? r : m;
        await g.command(s, ["SENTINEL", "FAILOVER", name]);
        await g.until(`failover of ${name} from ${old} to ${next}`, async () => {
          if ((await master()) !== next) return false;
          return (await info(g, next, "replication")).get("role") === "master";
        });
        return next;
      },
      stop: () => g.stop(),
    };
  } catch (e) {
    await g.stop();
    throw e;
  }
}

/** The `flags` field of a SENTINEL REPLICAS entry (a flat name/value list). */
function flags(fields: string[]): string | undefined {
  const i = fields.indexOf("flags");
  return i >= 0 ? fields[i + 1] : undefined;
}

export interface ClusterTopology {
  /** `host:port` of every master (`cache.redis.cluster`). */
  readonly nodes: string[];
  readonly ports: number[];
  /** Kills the node on `port` (SIGKILL): its slots stay unserved, there are no replicas. */
  kill(port: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `masters` masters (no replicas) sharing the 16384 slots in even ranges, joined with CLUSTER MEET and
 * ready when every node reports `cluster_state:ok` and knows all the others. Each node's bus port is a
 * free port of its own (`cluster-port`), not port + 10000, which may be taken or out of range.
 */
export async function startCluster(masters = 3): Promise<ClusterTopology> {
  const g = new Group();
  try {
    const ports: number[] = [];
    const buses: number[] = [];
    for (let i = 0; i < masters; i++) {
      const [port, bus] = [await freePort(), await freePort()];
      ports.push(port);
      buses.push(bus);
      g.spawn(`cluster-${port}`, [
        "--port",
        String(port),
        "--dir",
        g.dir,
        ...NO_PERSISTENCE,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        join(g.dir, `nodes-${port}.conf`),
        "--cluster-port",
        String(bus),
        "--cluster-node-timeout",
        "2000",
      ]);
    }
    for (const port of ports) {
      await g.until(
        `cluster node ${port} to answer`,
        async () => (await g.command(port, ["PING"])) === "PONG",
      );
    }
    const per = Math.ceil(16384 / masters);
    for (let i = 0; i < masters; i++) {
      const last = Math.min(16383, (i + 1) * per - 1);
      await g.command(ports[i]!, ["CLUSTER", "ADDSLOTSRANGE", String(i * per), String(last)]);
    }
    // The bus port is named: without it MEET would assume port + 10000.
    for (let i = 1; i < masters; i++) {
      await g.command(ports[0]!, ["CLUSTER", "MEET", "127.0.0.1", String(ports[i]), String(buses[i])]);
    }
    await g.until(`cluster of ${masters} masters to reach cluster_state:ok`, async () => {
      for (const port of ports) {
        const text = String(await g.command(port, ["CLUSTER", "INFO"]));
        if (!text.includes("cluster_state:ok")) return false;
        if (!text.includes(`cluster_known_nodes:${masters}\r\n`)) return false;
        if (!text.includes("cluster_slots_assigned:16384\r\n")) return false;
      }
      return true;
    });
    return {
      nodes: ports.map((p) => `127.0.0.1:${p}`),
      ports,
      kill: (port) => g.kill(`cluster-${port}`),
      stop: () => g.stop(),
    };
  } catch (e) {
    await g.stop();
    throw e;
  }
}
