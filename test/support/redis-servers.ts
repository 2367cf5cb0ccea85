/**
 * Private Redis servers for tests: single nodes (with or without AOF) and a 3-master cluster,
 * on free loopback ports chosen at run time, in temporary directories, stopped by the test that
 * started them. A test's Redis is its own: nothing of a Redis it did not start (127.0.0.1:6379, a
 * second run's) is ever read, written or flushed.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from './eventually.ts';
import { freePort } from './ports.ts';

const run = promisify(execFile);

export interface RedisServer {
  port: number;
  /** redis://127.0.0.1:port */
  url: string;
  dir: string;
  process: ChildProcess;
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const SLOW_START = { timeoutMs: 15_000, intervalMs: 50 };

/** Resolves once the server on `port` answers PING (a refused connection counts as "not yet"). */
async function answering(port: number): Promise<void> {
  const ping = () =>
    run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping']).then(
      ({ stdout }) => stdout.trim() === 'PONG',
      () => false,
    );
  await eventually(ping, { ...SLOW_START, what: `redis on ${port}` });
}

/** Starts `redis-server` on a free port with the given extra arguments. */
export async function startRedis(extra: string[] = []): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startRedisOn(port, extra);
    } catch (err) {
      // Another process took the port between the probe and redis-server's bind: another port.
      if (attempt === 3) throw err;
    }
  }
}

async function startRedisOn(port: number, extra: string[]): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), `baton-redis-${port}-`));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--loglevel', 'warning', ...extra];
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    process: spawn('redis-server', args, { stdio: 'ignore' }),
    async kill() {
      const exited = new Promise((r) => server.process.once('exit', r));
      server.process.kill('SIGKILL');
      await exited;
    },
    async restart() {
      server.process = spawn('redis-server', args, { stdio: 'ignore' });
      await answering(port);
    },
    async stop() {
      if (server.process.exitCode === null && server.process.signalCode === null) await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const exited = new Promise<never>((_, reject) =>
    server.process.once('exit', (code) => reject(new Error(`redis-server on ${port} exited (${code}) before answering`))),
  );
  exited.catch(() => undefined);
  try {
    await Promise.race([answering(port), exited]);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

/** Starts three masters with cluster mode on (data and bus ports all free ones) and joins them into one cluster. */
export async function startCluster(): Promise<RedisServer[]> {
  const busPorts = [await freePort(), await freePort(), await freePort()];
  const nodes = await Promise.all(
    busPorts.map((bus) =>
      startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${bus}.conf`, '--cluster-node-timeout', '2000', '--cluster-port', String(bus)]),
    ),
  );
  const ports = nodes.map((n) => n.port);
  try {
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    await eventually(
      async () => {
        const states = await Promise.all(
          ports.map((p) =>
            run('redis-cli', ['-p', String(p), 'cluster', 'info']).then(
              (r) => r.stdout,
              () => '',
            ),
          ),
        );
        return states.every((s) => s.includes('cluster_state:ok'));
      },
      { ...SLOW_START, what: 'the cluster to be ok' },
    );
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
  return nodes;
}

/** The redis+cluster:// URL of a cluster's nodes. */
export function clusterUrl(nodes: RedisServer[]): string {
  return `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
}
