/**
 * Private Redis servers for tests: single nodes (with or without AOF) and a 3-master cluster,
 * on loopback ports, in temporary directories, stopped by the test that started them.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually } from './eventually.ts';

const run = promisify(execFile);

export interface RedisServer {
  port: number;
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
  const ping = () => run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping']).then(({ stdout }) => stdout.trim() === 'PONG', () => false);
  await eventually(ping, { ...SLOW_START, what: `redis on ${port}` });
}

/** Starts `redis-server` on `port` with the given extra arguments. */
export async function startRedis(port: number, extra: string[] = []): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), `baton-redis-${port}-`));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--daemonize', 'no', '--loglevel', 'warning', ...extra];
  const server: RedisServer = {
    port,
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
  await answering(port);
  return server;
}

/** Starts three masters with cluster mode on and joins them into one cluster. */
export async function startCluster(ports: [number, number, number]): Promise<RedisServer[]> {
  const nodes = await Promise.all(ports.map((p) => startRedis(p, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${p}.conf`, '--cluster-node-timeout', '2000'])));
  await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
  await eventually(async () => {
    const states = await Promise.all(ports.map((p) => run('redis-cli', ['-p', String(p), 'cluster', 'info']).then((r) => r.stdout, () => '')));
    return states.every((s) => s.includes('cluster_state:ok'));
  }, { ...SLOW_START, what: 'the cluster to be ok' });
  return nodes;
}
