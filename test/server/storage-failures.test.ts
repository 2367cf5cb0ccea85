/**
 * Storage failures made visible (#22, "Reliability: Storage failures are invisible"): a full disk
 * answered 503 forever while `/readyz` said ready and nothing was logged. Here the disk fills for
 * real (a small tmpfs under `baton serve`, as root) and the service says so: 503 with
 * Retry-After, `/readyz` not ready with a reason a person can act on, one error line; space
 * freed, it is ready again (the WAL that filled the volume gives its space back), after a
 * restart too. Redis out of memory is said the same way. A corrupted page stops the start with a
 * sentence (`PRAGMA quick_check`).
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, statfsSync, writeSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { startRedis } from '../support/redis-servers.ts';
import { baton, serve } from '../support/baton-cli.ts';

const root = mkdtempSync(join(tmpdir(), 'baton-storage-'));
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) execFileSync('umount', ['-l', m]);
  rmSync(root, { recursive: true, force: true });
});

/** A tmpfs of `size` mounted in `root`, or undefined where this process may not mount (not root). */
function smallVolume(size: string): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const dir = mkdtempSync(join(root, 'volume-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  mounts.push(dir);
  return dir;
}
const volume = smallVolume('1m'); // whether this process may mount one at all; each case mounts its own

const envOf = (dir: string): Record<string, string> => ({
  // The runtime file off the small volume: the service writes it at start.
  BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`,
  BATON_RUNTIME_FILE: join(root, `${dir.replace(/\W/g, '_')}.json`),
  BATON_COOKIE_SECURE: 'false',
  BATON_REFRESH_RATE: 'off',
  BATON_LOG_LEVEL: 'info',
  BATON_ISSUER: 'http://127.0.0.1:3998',
});

interface Pair {
  access_token: string;
  refresh_token: string;
}
const USER = { username: 'fern', password: 'fern password 1' };

const refresh = (url: string, token: string): Promise<Response> =>
  fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
  });
const readyz = async (url: string): Promise<{ status: number; body: { status: string; reason?: string } }> => {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
};
/** The log lines of one event. */
const lines = (output: string, event: string): { level: number; msg: string; code: string }[] =>
  output
    .split('\n')
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l) as { level: number; msg: string; code: string });

const login = async (url: string): Promise<Pair> => {
  const res = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(USER) });
  expect(res.status).toBe(200);
  return res.json() as Promise<Pair>;
};
const walSize = (dir: string): number => (existsSync(join(dir, 'baton.sqlite-wal')) ? statSync(join(dir, 'baton.sqlite-wal')).size : 0);

/** Waits until the service's output (piped, so a line may trail the answer it explains) holds one line of `event`, and says that it holds one only. */
async function logged(output: () => string, event: string): Promise<void> {
  await eventually(() => lines(output(), event).length > 0, { what: event });
  await new Promise((r) => setTimeout(r, 100));
  expect(lines(output(), event)).toHaveLength(1);
}

/** Fills the volume but for `leave` bytes. */
function fill(dir: string, leave: number): void {
  const { bavail, bsize } = statfsSync(dir);
  writeFileSync(join(dir, 'filler'), Buffer.alloc(Math.max(0, bavail * bsize - leave)));
}

/** Refreshes until the store is full: the last good pair, and the answer that said so. */
async function refreshUntilFull(url: string, pair: Pair): Promise<{ pair: Pair; refused: Response }> {
  for (let i = 0; i < 5000; i++) {
    const res = await refresh(url, pair.refresh_token);
    if (res.status !== 200) return { pair, refused: res };
    pair = (await res.json()) as Pair;
  }
  throw new Error('the volume never filled');
}

describe('storage failures', () => {
  it.skipIf(volume === undefined)(
    'a WAL that filled a small volume (a 6 MB tmpfs) gives its space back: 503 with Retry-After meanwhile, one error line, then it writes again without a restart',
    async () => {
      const disk = smallVolume('6m') as string;
      const dir = join(disk, 'heal');
      mkdirSync(dir, { mode: 0o700 });
      const env = envOf(dir);
      let service = await serve(env);
      expect((await baton(['users', 'add', USER.username, '--password-stdin'], env, USER.password)).code).toBe(0);
      let pair = await login(service.url);
      // Restarted: the clean close folds the WAL into the database, and rotations then rewrite pages it has.
      await service.stop();
      service = await serve(env);
      fill(disk, 256 * 1024);
      const full = await refreshUntilFull(service.url, pair);
      pair = full.pair;
      console.info(`WAL filled the volume: refresh ${full.refused.status}, retry-after ${full.refused.headers.get('retry-after')}`);
      expect(full.refused.status).toBe(503);
      expect(full.refused.headers.get('retry-after')).not.toBeNull();
      // Nothing freed by hand: the checkpoint the failure started folds the WAL in and truncates it.
      await eventually(async () => (await refresh(service.url, pair.refresh_token)).status === 200, { what: 'writing again' });
      await logged(service.output, 'store.failing');
      expect(lines(service.output(), 'store.failing')).toMatchObject([
        { level: 50, code: 'SQLITE_FULL', msg: 'the store cannot write: disk full (SQLITE_FULL)' },
      ]);
      await logged(service.output, 'store.recovered');
      expect(walSize(dir)).toBeLessThan(64 * 1024);
      await service.stop();
      rmSync(join(disk, 'filler'));
    },
    120_000,
  );

  it.skipIf(volume === undefined)(
    'a full disk: 503, /readyz not ready with the reason, one error line however many requests fail; space freed, ready again',
    async () => {
      const disk = smallVolume('6m') as string;
      const dir = join(disk, 'full');
      mkdirSync(dir, { mode: 0o700 });
      const env = envOf(dir);
      const service = await serve(env);
      expect((await baton(['users', 'add', USER.username, '--password-stdin'], env, USER.password)).code).toBe(0);
      const pair = await login(service.url);
      expect((await readyz(service.url)).status).toBe(200);
      fill(disk, 0);
      const refused = await refresh(service.url, pair.refresh_token);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).not.toBeNull();
      for (let i = 0; i < 5; i++) expect((await refresh(service.url, pair.refresh_token)).status).toBe(503);
      const unready = await readyz(service.url);
      console.info(`full disk: refresh ${refused.status}, /readyz ${unready.status} ${JSON.stringify(unready.body)}`);
      expect(unready.status).toBe(503);
      expect(unready.body.reason).toBe('storage: the store cannot write: disk full (SQLITE_FULL); free space on its volume');
      expect((await readyz(service.url)).status).toBe(503);
      await logged(service.output, 'store.failing');
      const failing = lines(service.output(), 'store.failing');
      expect(failing).toHaveLength(1); // once, not once per request
      expect(failing[0]).toMatchObject({ level: 50, code: 'SQLITE_FULL', msg: 'the store cannot write: disk full (SQLITE_FULL)' });

      rmSync(join(disk, 'filler'));
      await eventually(async () => (await readyz(service.url)).status === 200, { what: 'ready again' });
      await logged(service.output, 'store.recovered');
      expect(lines(service.output(), 'store.failing')).toHaveLength(1);
      expect((await refresh(service.url, pair.refresh_token)).status).toBe(200);
      await service.stop();
    },
    120_000,
  );

  it.skipIf(volume === undefined)(
    'a full disk stays one error line through logins: a write that changes nothing (deleting no failure counter) is not taken for the store writing again',
    async () => {
      const disk = smallVolume('6m') as string;
      const dir = join(disk, 'flap');
      mkdirSync(dir, { mode: 0o700 });
      const env = envOf(dir);
      const service = await serve(env);
      expect((await baton(['users', 'add', USER.username, '--password-stdin'], env, USER.password)).code).toBe(0);
      fill(disk, 0);
      const answers: number[] = [];
      const ready: number[] = [];
      for (let i = 0; i < 6; i++) {
        answers.push(
          (await fetch(`${service.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(USER) })).status,
        );
        ready.push((await readyz(service.url)).status);
      }
      await logged(service.output, 'store.failing').catch(() => undefined);
      console.info(
        `6 logins on a full disk: ${answers.join(' ')}; /readyz ${ready.join(' ')}; store.failing ×${lines(service.output(), 'store.failing').length}, store.recovered ×${lines(service.output(), 'store.recovered').length}`,
      );
      expect(answers).toEqual(Array(6).fill(503));
      expect(ready).toEqual(Array(6).fill(503));
      expect(lines(service.output(), 'store.failing')).toHaveLength(1);
      expect(lines(service.output(), 'store.recovered')).toHaveLength(0);
      rmSync(join(disk, 'filler'));
      await eventually(async () => (await readyz(service.url)).status === 200, { what: 'ready again' });
      await logged(service.output, 'store.recovered');
      await service.stop();
    },
    120_000,
  );

  it.skipIf(volume === undefined)(
    'a WAL left filling the volume by a process that died (no clean close) recovers when the service restarts on it',
    async () => {
      const disk = smallVolume('6m') as string;
      const dir = join(disk, 'restart');
      mkdirSync(dir, { mode: 0o700 });
      const env = envOf(dir);
      let service = await serve(env);
      expect((await baton(['users', 'add', USER.username, '--password-stdin'], env, USER.password)).code).toBe(0);
      const pair = await login(service.url);
      await service.stop();
      // Another writer rewrites one record until the WAL fills the volume (a reader holds checkpoints
      // back), then dies without closing: its WAL stays, and the volume stays full.
      fill(disk, 512 * 1024);
      const writer = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `
      import { DatabaseSync } from 'node:sqlite';
      const db = new DatabaseSync(${JSON.stringify(join(dir, 'baton.sqlite'))});
      const reader = new DatabaseSync(${JSON.stringify(join(dir, 'baton.sqlite'))});
      db.prepare("INSERT OR REPLACE INTO baton_records VALUES ('scratch', 'x', hex(randomblob(1500)))").run();
      db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
      reader.exec('BEGIN'); reader.prepare('SELECT count(*) FROM baton_records').get();
      try { for (;;) db.prepare("UPDATE baton_records SET value = hex(randomblob(1500)) WHERE kind = 'scratch'").run(); }
      catch (err) { console.log('writer stopped:', err.errcode); }
      process.kill(process.pid, 'SIGKILL');`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let said = '';
      writer.stdout.on('data', (d) => (said += d));
      await new Promise((resolve) => writer.once('exit', resolve));
      console.info(`${said.trim()}; WAL ${walSize(dir)} bytes, volume free ${statfsSync(disk).bavail * statfsSync(disk).bsize} bytes`);
      expect(said).toContain('writer stopped: 13');
      service = await serve(env);
      await eventually(async () => (await refresh(service.url, pair.refresh_token)).status === 200, { what: 'the restarted service writing' });
      expect((await readyz(service.url)).status).toBe(200);
      expect(walSize(dir)).toBeLessThan(64 * 1024);
      await service.stop();
      rmSync(join(disk, 'filler'));
    },
    120_000,
  );

  it('Redis out of memory (maxmemory, noeviction): 503, /readyz not ready with the reason, one error line; memory given back, ready again', async () => {
    const redis = await startRedis();
    try {
      const dir = mkdtempSync(join(root, 'redis-'));
      const env = { ...envOf(dir), BATON_STORE: redis.url, BATON_SECRET: 'a-test-secret-of-at-least-32-characters' };
      expect((await baton(['store', 'init'], env)).code).toBe(0); // a new Redis is set up on purpose, once
      const service = await serve(env);
      expect((await baton(['users', 'add', USER.username, '--password-stdin'], env, USER.password)).code).toBe(0);
      const pair = await login(service.url);
      expect((await readyz(service.url)).status).toBe(200);
      execFileSync('redis-cli', ['-p', String(redis.port), 'config', 'set', 'maxmemory', '1']);
      const refused = await refresh(service.url, pair.refresh_token);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).not.toBeNull();
      const unready = await readyz(service.url);
      console.info(`Redis OOM: refresh ${refused.status}, /readyz ${unready.status} ${JSON.stringify(unready.body)}`);
      expect(unready.status).toBe(503);
      expect(unready.body.reason).toBe('storage: the store cannot write: Redis is out of memory (OOM, maxmemory)');
      for (let i = 0; i < 3; i++) await refresh(service.url, pair.refresh_token);
      await logged(service.output, 'store.failing');
      expect(lines(service.output(), 'store.failing')).toMatchObject([{ level: 50, code: 'OOM' }]);
      execFileSync('redis-cli', ['-p', String(redis.port), 'config', 'set', 'maxmemory', '0']);
      await eventually(async () => (await readyz(service.url)).status === 200, { what: 'ready again' });
      expect((await refresh(service.url, pair.refresh_token)).status).toBe(200);
      await logged(service.output, 'store.recovered');
      await service.stop();
    } finally {
      await redis.stop();
    }
  }, 60_000);

  it('a corrupted page stops the start with a sentence (PRAGMA quick_check)', async () => {
    const dir = mkdtempSync(join(root, 'corrupt-'));
    const env = envOf(dir);
    const service = await serve(env);
    expect((await baton(['users', 'add', USER.username, '--password-stdin'], env, USER.password)).code).toBe(0);
    for (let i = 0; i < 30; i++)
      await fetch(`${service.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(USER) });
    await service.stop();
    const db = join(dir, 'baton.sqlite');
    const pages = statSync(db).size / 4096;
    const fd = openSync(db, 'r+');
    for (let page = Math.floor(pages / 3); page < Math.floor((2 * pages) / 3); page++) writeSync(fd, randomBytes(4096), 0, 4096, page * 4096);
    closeSync(fd);
    const refused = await serve(env).then(
      async (s) => {
        await s.stop();
        return s.output();
      },
      (err: Error) => err.message,
    );
    console.info(`start on a corrupted database: ${refused.slice(0, 400)}`);
    expect(refused).not.toMatch(/listening on/);
    expect(refused).toContain(`${db} is damaged (SQLite's quick_check:`);
    expect(refused).toMatch(
      /restore it from a backup \(`(npm run baton --|npx baton) restore <file> --revoke-sessions` or `--keep-sessions`, docs\/backups\.md\)/,
    );
    // With BATON_WORKERS the primary checks the database once, before any worker starts on it.
    const cluster = await serve({ ...env, BATON_WORKERS: '2' }).then(
      async (s) => {
        await s.stop();
        return s.output();
      },
      (err: Error) => err.message,
    );
    expect(cluster).not.toMatch(/listening on/);
    expect(cluster).toContain(`${db} is damaged (SQLite's quick_check:`);
  }, 60_000);
});
