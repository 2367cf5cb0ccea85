/**
 * Start-up on a real socket: a request that arrives before the service is ready gets 503 rather
 * than hanging; an unreachable store stops `baton serve` within seconds with a sentence.
 */
import { spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig, startServer } from 'baton-auth-server';
import { useTestDatabase } from '../support/postgres-db.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/ports.ts';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const PG_URL = useTestDatabase('baton_startup');

/** A TCP gate in front of a server: connections are accepted and held until `open()`. */
async function startGate(target: { host: string; port: number }) {
  const held: { client: Socket; chunks: Buffer[] }[] = [];
  const sockets = new Set<Socket>();
  let open = false;
  const pipe = (client: Socket, chunks: Buffer[]) => {
    const upstream = createConnection(target);
    for (const chunk of chunks) upstream.write(chunk);
    client.removeAllListeners('data');
    client.pipe(upstream).pipe(client);
    sockets.add(upstream);
    for (const s of [client, upstream]) s.on('error', () => undefined).on('close', () => (s === client ? upstream : client).destroy());
  };
  const server = createServer((client) => {
    client.on('error', () => undefined);
    sockets.add(client);
    if (open) return pipe(client, []);
    const entry = { client, chunks: [] as Buffer[] };
    client.on('data', (chunk: Buffer) => entry.chunks.push(chunk));
    held.push(entry);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    open() {
      open = true;
      for (const { client, chunks } of held.splice(0)) pipe(client, chunks);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

describe('start-up', () => {
  it('answers 503 with Retry-After, never hangs, while the store is still connecting; then serves', async () => {
    const pg = new URL(PG_URL);
    const gate = await startGate({ host: pg.hostname, port: Number(pg.port || 5432) });
    const port = await freePort();
    const store = PG_URL.replace(`@${pg.host}/`, `@127.0.0.1:${gate.port}/`);
    const starting = startServer(
      loadConfig({ PORT: String(port), BATON_STORE: store, BATON_SECRET: 'startup-test-service-secret-of-32-chars', BATON_LOG_LEVEL: 'silent' }),
    );
    starting.catch(() => undefined);
    try {
      const url = `http://127.0.0.1:${port}/.well-known/oauth-authorization-server`;
      // The bound on a hang: the old service accepted the connection and never answered.
      const early = await eventually(
        () =>
          fetch(url, { signal: AbortSignal.timeout(2000) }).catch((err: Error) => {
            if (err.name === 'TimeoutError') throw new Error('the request hung while the service was starting');
            return undefined; // not listening yet
          }),
        { timeoutMs: 5000, what: 'the service to listen' },
      );
      expect(early.status).toBe(503);
      expect(early.headers.get('retry-after')).toBe('1');
      expect(await early.json()).toMatchObject({ error: 'temporarily_unavailable' });
      gate.open();
      const server = await starting;
      try {
        expect(server.url).toBe(`http://127.0.0.1:${port}`);
        expect((await fetch(url, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
      } finally {
        await server.stop();
      }
    } finally {
      gate.open();
      await gate.close();
    }
  }, 30_000);

  it('names the port PORT=0 bound in the default issuer', async () => {
    const server = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }));
    try {
      const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
      expect(meta.issuer).toBe(server.url);
      expect(server.url).not.toMatch(/:0$/);
    } finally {
      await server.stop();
    }
  });
});

describe('an unreachable store', () => {
  const serve = (store: string) =>
    new Promise<{ code: number | null; stderr: string; ms: number }>((resolve) => {
      const started = Date.now();
      const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, PORT: '0', BATON_STORE: store, BATON_LOG_LEVEL: 'silent' } });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      // The bound on a hang: the old service waited forever on an unreachable Redis.
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('close', (code) => {
        clearTimeout(kill);
        resolve({ code, stderr, ms: Date.now() - started });
      });
    });

  it('stops `baton serve` within seconds, non-zero, with a sentence naming BATON_STORE and no password', async () => {
    const [closedRedis, closedPg] = [await freePort(), await freePort()]; // nothing listens there
    const [redis, pg, secret] = await Promise.all([
      serve(`redis://127.0.0.1:${closedRedis}`),
      serve(`postgres://postgres@127.0.0.1:${closedPg}/x`),
      serve(`redis://user:hunter2-secret@127.0.0.1:${closedRedis}/0`),
    ]);
    expect(redis.stderr).toBe(`baton: Cannot reach the store at BATON_STORE=redis://127.0.0.1:${closedRedis} within 5 s: connection refused. Is it running?\n`);
    expect(pg.stderr).toBe(
      `baton: Cannot reach the store at BATON_STORE=postgres://postgres@127.0.0.1:${closedPg}/x within 5 s: connection refused. Is it running?\n`,
    );
    expect(secret.stderr).toContain(`BATON_STORE=redis://user:***@127.0.0.1:${closedRedis}/0`);
    expect(secret.stderr).not.toContain('hunter2');
    for (const run of [redis, pg, secret]) {
      expect(run.code).toBe(1);
      expect(run.ms).toBeLessThan(15_000); // a bound on a hang (the kill), not a speed measure
    }
  }, 45_000);
});

describe('mistakes at start-up, as sentences (#22)', () => {
  it('a port out of range names PORT and what it takes; a port in use says so and names the setting, not `listen EADDRINUSE`', async () => {
    expect(() => loadConfig({ PORT: '99999' })).toThrow(/PORT must be a port number from 1 to 65535, or 0 for a free one/);
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT must be a port number/);
    const first = await startServer(loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }));
    try {
      const port = new URL(first.url).port;
      await expect(startServer(loadConfig({ PORT: port, BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }))).rejects.toThrow(
        new RegExp(`^Port ${port} on 127\\.0\\.0\\.1 is already in use .*choose another with PORT\\.$`),
      );
    } finally {
      await first.stop();
    }
  });
});

describe('the command a message tells a person to type (#22)', () => {
  it("is `npm run baton --` through the repository's npm scripts, and `npx baton` wherever the package is installed", async () => {
    const { batonCommand } = await import('../../packages/baton-auth-server/src/cli/command.ts');
    expect(batonCommand({ npm_lifecycle_event: 'baton', npm_package_name: 'baton-monorepo' })).toBe('npm run baton --');
    expect(batonCommand({ npm_lifecycle_event: 'start', npm_package_name: 'baton-monorepo' })).toBe('npm run baton --');
    expect(batonCommand({})).toBe('npx baton');
    expect(batonCommand({ npm_lifecycle_event: 'start', npm_package_name: 'my-app' })).toBe('npx baton');
    // Under the test runner the service is "installed": its sentences name npx.
    expect(() => loadConfig({ BATON_SECRET: 'too short' })).toThrow(/make one with `npx baton secret generate`/);
  });
});

describe('npm start', () => {
  // npm forwards SIGTERM to its script's process; `sh -c "node …"` (dash) died of it and left the
  // service serving with nothing to stop it (newcomer, #22). The scripts `exec` node instead.
  it('SIGTERM to npm itself stops the service it started: the port closes and npm exits', async () => {
    const root = new URL('../..', import.meta.url).pathname;
    const npm = spawn('npm', ['start'], { cwd: root, env: { ...process.env, PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'warn' } });
    let out = '';
    npm.stdout.on('data', (d) => (out += d));
    npm.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => npm.once('exit', resolve));
    try {
      const url = await eventually(() => /listening on (http:\/\/\S+)/.exec(out)?.[1], { what: `npm start to listen (it said: ${out})`, timeoutMs: 60_000 });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      npm.kill('SIGTERM');
      await exited;
      await eventually(
        () =>
          fetch(`${url}/healthz`).then(
            () => false,
            () => true,
          ),
        { what: 'the service to stop listening', timeoutMs: 10_000 },
      );
    } finally {
      npm.kill('SIGKILL');
    }
  }, 90_000);
});
