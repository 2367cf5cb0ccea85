/**
 * `baton backup` and `baton restore` on a real `baton serve` over SQLite (#22, "Operations:
 * Backups"): a plain copy of the live database file misses what is still in its -wal (users,
 * sessions); the command copies one point in time while the service answers refreshes, privately
 * and whole, and a restore into a fresh folder with the same secret brings the users and the keys
 * back (old access tokens verify). What a restore means for sessions issued or ended since the
 * backup is shown, with --keep-sessions and --revoke-sessions. And a database that is missing or
 * empty beside an existing secret file stops the start with a sentence (#22, "Storage failures
 * are invisible": such a start silently lost every user).
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it, onTestFinished } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { baton, serve } from '../support/baton-cli.ts';

const root = mkdtempSync(join(tmpdir(), 'baton-backup-'));
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** The environment of a case living in `dir`: its store, its runtime file, plain-http cookies. */
const envOf = (dir: string): Record<string, string> => ({
  BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`,
  BATON_RUNTIME_FILE: join(dir, 'baton-service.json'),
  BATON_COOKIE_SECURE: 'false',
  BATON_LOG_LEVEL: 'silent',
  BATON_REFRESH_RATE: 'off',
  // One issuer across restarts on new ports: tokens name it.
  BATON_ISSUER: 'http://127.0.0.1:3999',
});

interface Pair {
  access_token: string;
  refresh_token: string;
  session_id: string;
}

async function login(url: string, username: string): Promise<Pair> {
  const res = await fetch(`${url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: `${username} password 1` }),
  });
  expect(res.status).toBe(200);
  return res.json() as Promise<Pair>;
}

function refresh(url: string, token: string): Promise<Response> {
  return fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
  });
}

const me = (url: string, access: string): Promise<number> => fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${access}` } }).then((r) => r.status);

/** The users a database file holds, read as it is on disk (no -wal beside it: a plain copy). */
function usersIn(file: string): number {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return Number((db.prepare("SELECT count(*) AS n FROM baton_records WHERE kind = 'users'").get() as { n: number }).n);
  } catch {
    return 0; // a copy taken before the tables left the -wal has none
  } finally {
    db.close();
  }
}

let n = 0;
function caseDir(): string {
  const dir = join(root, `case-${++n}`);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

describe('baton backup and restore', () => {
  it('copies a serving database at one point in time, WAL included (a plain cp misses the users), and restores it into a fresh folder where users log in and old tokens verify', async () => {
    const live = caseDir();
    const env = envOf(live);
    const service = await serve(env);
    for (const name of ['alice', 'bob', 'carol']) expect((await baton(['users', 'add', name, '--password-stdin'], env, `${name} password 1`)).code).toBe(0);
    const alice = await login(service.url, 'alice');
    const rotated = (await (await refresh(service.url, alice.refresh_token)).json()) as Pair;
    const carol = await login(service.url, 'carol'); // logged out after the backup
    let bob = await login(service.url, 'bob');

    // The naive way: the database file alone, while the service runs. The users are in its -wal.
    const naive = join(caseDir(), 'naive.sqlite');
    copyFileSync(join(live, 'baton.sqlite'), naive);
    const naiveUsers = usersIn(naive);
    console.info(`plain cp of the live database: ${naiveUsers} user(s) of 3`);
    expect(naiveUsers).toBeLessThan(3);

    // The command, while bob's client keeps refreshing.
    let refreshing = true;
    let refreshes = 0;
    const loop = (async () => {
      while (refreshing) {
        const res = await refresh(service.url, bob.refresh_token);
        expect(res.status).toBe(200);
        bob = (await res.json()) as Pair;
        refreshes++;
      }
    })();
    const vault = caseDir();
    const file = join(vault, 'baton-backup.sqlite');
    while (refreshes < 3) await new Promise((r) => setTimeout(r, 5));
    const made = await baton(['backup', file], env);
    const during = refreshes;
    refreshing = false;
    await loop;
    console.info(`baton backup: ${made.stdout.trim()} (bob refreshed ${during} times meanwhile)`);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain(`Wrote ${file}`);
    expect(made.stdout).toMatch(/3 user\(s\)/);
    expect(made.stdout).toContain(`back up the secret file ${join(live, 'baton.secret')} apart`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(vault)).toEqual(['baton-backup.sqlite']); // one file: no -wal, no temp left

    expect(usersIn(file)).toBe(3); // the file alone holds them
    // Never over an existing file, unless --force.
    const again = await baton(['backup', file], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${file} exists already: choose a new name, or add --force to replace it.`);
    expect((await baton(['backup', file, '--force'], env)).code).toBe(0);

    // After the backup: alice rotates again, a new session starts, carol logs out.
    const rotatedAgain = (await (await refresh(service.url, rotated.refresh_token)).json()) as Pair;
    const later = await login(service.url, 'alice');
    expect((await baton(['sessions', 'revoke', carol.session_id], env)).code).toBe(0);
    expect((await refresh(service.url, carol.refresh_token)).status).toBe(400);

    // Refused while the service runs on the store: named by its runtime file, or found holding the file open.
    const unannounced = await baton(['restore', file, '--keep-sessions'], { ...env, BATON_RUNTIME_FILE: join(vault, 'elsewhere.json') });
    expect(unannounced.code).toBe(1);
    expect(unannounced.stderr).toMatch(/baton\.sqlite is open in process \d+ \(a service or a command\): stop it first/);
    const busy = await baton(['restore', file, '--keep-sessions'], env);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(/The service running as process \d+ serves .*: stop it first/);
    await service.stop();

    // A fresh folder with the same secret (backed up apart).
    const fresh = caseDir();
    copyFileSync(join(live, 'baton.secret'), join(fresh, 'baton.secret'));
    const restored = await baton(['restore', file, '--keep-sessions'], envOf(fresh));
    console.info(`baton restore --keep-sessions: ${restored.stdout.trim()}`);
    expect(restored.code).toBe(0);
    expect(statSync(join(fresh, 'baton.sqlite')).mode & 0o777).toBe(0o600);
    let back = await serve(envOf(fresh));
    for (const name of ['alice', 'bob', 'carol']) await login(back.url, name);
    expect(await me(back.url, alice.access_token)).toBe(200); // the keys came back: an access token from before verifies
    // Rotated since the backup: unknown to it, signed out (not taken for reuse).
    expect((await refresh(back.url, rotatedAgain.refresh_token)).status).toBe(400);
    // Created since the backup: gone.
    expect((await refresh(back.url, later.refresh_token)).status).toBe(400);
    // Ended since the backup: active again with --keep-sessions (the documented cost).
    expect((await refresh(back.url, carol.refresh_token)).status).toBe(200);
    await back.stop();

    // --revoke-sessions: no session of the backup comes back, and its access tokens stop verifying.
    const revoked = await baton(['restore', file, '--revoke-sessions'], envOf(fresh));
    console.info(`baton restore --revoke-sessions: ${revoked.stdout.trim()}`);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/The database it replaced is kept as .*baton\.sqlite\.before-restore-/);
    back = await serve(envOf(fresh));
    expect((await refresh(back.url, carol.refresh_token)).status).toBe(400);
    expect((await refresh(back.url, rotated.refresh_token)).status).toBe(400);
    expect(await me(back.url, alice.access_token)).toBe(401);
    await login(back.url, 'alice');
    await back.stop();
  }, 60_000);

  it("a copy restored into another folder starts beside the service it came from, on its own default issuer: the backup holds no live instance's registration (newcomer, #22)", async () => {
    const defaultIssuer = (dir: string): Record<string, string> => {
      const { BATON_ISSUER: _issuer, ...env } = envOf(dir);
      return env;
    };
    const live = caseDir();
    const service = await serve(defaultIssuer(live));
    try {
      const file = join(live, 'copy.sqlite');
      expect((await baton(['backup', file], defaultIssuer(live))).code).toBe(0);
      const copy = new DatabaseSync(file, { readOnly: true });
      expect(copy.prepare("SELECT count(*) AS n FROM baton_records WHERE kind = 'instance'").get()).toEqual({ n: 0 });
      copy.close();
      const fresh = caseDir();
      copyFileSync(join(live, 'baton.secret'), join(fresh, 'baton.secret'));
      expect((await baton(['restore', file, '--revoke-sessions'], defaultIssuer(fresh))).code).toBe(0);
      const other = await serve(defaultIssuer(fresh));
      expect(other.url).not.toBe(service.url);
      await other.stop();
    } finally {
      await service.stop();
    }
  }, 60_000);

  it('restore refuses, with a sentence and nothing changed: no choice about sessions, another secret, a newer schema, a file that is not a Baton database; backup on PostgreSQL or Redis says which tool', async () => {
    const live = caseDir();
    const service = await serve(envOf(live));
    expect((await baton(['users', 'add', 'dora', '--password-stdin'], envOf(live), 'dora password 1')).code).toBe(0);
    const file = join(live, 'copy.sqlite');
    expect((await baton(['backup', file], envOf(live))).code).toBe(0);
    await service.stop();

    const target = caseDir();
    const unchosen = await baton(['restore', file], envOf(target));
    expect(unchosen.stderr).toContain('Say what happens to the sessions in the backup: --revoke-sessions');

    writeFileSync(join(target, 'baton.secret'), 'another-secret-another-secret-another-secret\n', { mode: 0o600 });
    const other = await baton(['restore', file, '--revoke-sessions'], envOf(target));
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(
      `${file} was sealed with another secret than ${join(target, 'baton.secret')}: put back the secret that was backed up with it`,
    );
    expect(existsSync(join(target, 'baton.sqlite'))).toBe(false);

    const newer = join(target, 'newer.sqlite');
    copyFileSync(file, newer);
    const db = new DatabaseSync(newer);
    db.exec('PRAGMA user_version = 99');
    db.close();
    expect((await baton(['restore', newer, '--keep-sessions'], envOf(target))).stderr).toMatch(
      /newer\.sqlite has schema version 99, written by a newer Baton than this one \(\d+\)/,
    );

    const junk = join(target, 'junk.sqlite');
    writeFileSync(junk, 'not a database at all, just some text that is long enough to be read as a header'.repeat(20));
    expect((await baton(['restore', junk, '--keep-sessions'], envOf(target))).stderr).toContain(`${junk} is not a SQLite database Baton can read`);

    const pg = await baton(['backup', join(target, 'x')], { ...envOf(target), BATON_STORE: 'postgres://baton@127.0.0.1:1/baton' }); // never reached, as below
    expect(pg.stderr).toContain('pg_dump --format=custom --file=baton.dump "$BATON_STORE"');
    const redis = await baton(['backup', join(target, 'x')], { ...envOf(target), BATON_STORE: 'redis://127.0.0.1:1' }); // never reached: the command says how to back it up
    expect(redis.stderr).toContain('redis-cli -u "$BATON_STORE" --rdb baton.rdb');
  }, 60_000);

  it('a missing or empty database beside an existing secret file stops the start with a sentence; --fresh-start starts afresh on purpose', async () => {
    const dir = caseDir();
    const env = envOf(dir);
    const first = await serve(env);
    expect((await baton(['users', 'add', 'erin', '--password-stdin'], env, 'erin password 1')).code).toBe(0);
    await first.stop();
    const db = join(dir, 'baton.sqlite');
    const sentence = `${db} holds no Baton data (missing, empty or never set up), but ${join(dir, 'baton.secret')} exists: this looks like an install whose database was lost. Restore it from a backup`;
    for (const lose of [() => writeFileSync(db, ''), () => rmSync(db)]) {
      lose();
      rmSync(`${db}-wal`, { force: true });
      const refused = await serve(env).then(
        async (s) => {
          await s.stop();
          return s.output();
        },
        (err: Error) => err.message,
      );
      expect(refused).not.toMatch(/listening on/);
      expect(refused).toContain(sentence);
      expect(refused).toContain('restore <file> --revoke-sessions` or `--keep-sessions`'); // a command that runs as written
    }
    const afresh = await serve(env, ['--fresh-start']);
    await eventually(() => afresh.output().includes('No users yet'), { what: 'the fresh start' });
    await afresh.stop();
    // Once set up again, it starts as any other.
    const after = await serve(env);
    await after.stop();
  }, 60_000);
  it("restore refuses a backup that holds anything beyond Baton's schema: a planted trigger would undo --revoke-sessions and every later revocation", async () => {
    // Whoever could write the backup file (not the secret) plants a trigger that un-revokes every session.
    const live = caseDir();
    const env = envOf(live);
    const service = await serve(env);
    expect((await baton(['users', 'add', 'fay', '--password-stdin'], env, 'fay password 1')).code).toBe(0);
    const fay = await login(service.url, 'fay');
    const file = join(live, 'copy.sqlite');
    expect((await baton(['backup', file], env)).code).toBe(0);
    await service.stop();
    for (const planted of [
      'CREATE TRIGGER keep_alive AFTER UPDATE OF revoked_at ON baton_sessions WHEN NEW.revoked_at IS NOT NULL BEGIN UPDATE baton_sessions SET revoked_at = NULL, revoke_reason = NULL WHERE id = NEW.id; END',
      'CREATE VIEW baton_view AS SELECT * FROM baton_sessions',
      'CREATE TABLE extra (x)',
    ]) {
      const crafted = join(live, 'crafted.sqlite');
      copyFileSync(file, crafted);
      const db = new DatabaseSync(crafted);
      db.exec(planted);
      db.close();
      const restored = await baton(['restore', crafted, '--revoke-sessions'], env);
      console.info(
        `restore of a backup with ${planted.split(' ').slice(0, 3).join(' ')}: exit ${restored.code}: ${(restored.stderr || restored.stdout).trim()}`,
      );
      expect(restored.code).toBe(1);
      expect(restored.stderr).toContain(`${crafted} holds what a Baton database never has`);
      rmSync(crafted);
    }
    // The sound backup restores, and its session is revoked for good.
    expect((await baton(['restore', file, '--revoke-sessions'], env)).code).toBe(0);
    const back = await serve(env);
    expect((await refresh(back.url, fay.refresh_token)).status).toBe(400);
    await back.stop();
  }, 60_000);
  it('restore refuses a service or command that opened the database while it staged the copy, rather than rename the backup under it', async () => {
    const dir = caseDir();
    const env = envOf(dir);
    const service = await serve(env);
    expect((await baton(['users', 'add', 'gus', '--password-stdin'], env, 'gus password 1')).code).toBe(0);
    await login(service.url, 'gus');
    const file = join(dir, 'copy.sqlite');
    expect((await baton(['backup', file], env)).code).toBe(0);
    await service.stop();
    // A large backup (20,000 sessions): staging it and revoking each user's sessions takes a while, as for a real one.
    const copy = new DatabaseSync(file);
    const cols = (copy.prepare('PRAGMA table_info(baton_sessions)').all() as { name: string }[])
      .map((c) => c.name)
      .filter((c) => c !== 'id' && c !== 'user_id');
    copy.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
      INSERT INTO baton_sessions (id, user_id, ${cols.join(', ')}) SELECT 'x' || i || id, 'u' || i, ${cols.join(', ')} FROM baton_sessions, n`);
    copy.close();
    const db = join(dir, 'baton.sqlite');
    const restoring = baton(['restore', file, '--revoke-sessions'], env);
    // Once the restore has made its checks and stages the copy (its temp file appears), another process opens the database.
    await eventually(() => readdirSync(dir).some((f) => f.endsWith('.tmp')), { intervalMs: 5, what: 'the restore to stage its copy' });
    const holder = spawn(process.execPath, [
      '-e',
      `const db = new (require('node:sqlite').DatabaseSync)(${JSON.stringify(db)}); db.prepare('SELECT count(*) FROM baton_records').get(); console.log('open'); setInterval(() => {}, 1000);`,
    ]);
    onTestFinished(() => void holder.kill('SIGKILL'));
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    const restored = await restoring;
    console.info(
      `restore while process ${holder.pid} opened the database during staging: exit ${restored.code}: ${(restored.stdout || restored.stderr).trim().split('\n').pop()}`,
    );
    const open = readdirSync(`/proc/${holder.pid}/fd`).map((fd) => {
      try {
        return readlinkSync(`/proc/${holder.pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    holder.kill('SIGKILL');
    expect(open.filter((l) => l.includes('(deleted)'))).toEqual([]);
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain(`${db} is open in process ${holder.pid}`);
  }, 60_000);
  it('restore refuses a backup another user could have written: writable by others, or theirs (every row of it is trusted)', async () => {
    const dir = caseDir();
    const env = envOf(dir);
    const service = await serve(env);
    expect((await baton(['users', 'add', 'hal', '--password-stdin'], env, 'hal password 1')).code).toBe(0);
    const file = join(dir, 'copy.sqlite');
    expect((await baton(['backup', file], env)).code).toBe(0);
    await service.stop();
    chmodSync(file, 0o666);
    const open = await baton(['restore', file, '--revoke-sessions'], env);
    console.info(`restore of a backup with mode 666: exit ${open.code}: ${open.stderr.trim().split('\n').pop()}`);
    expect(open.code).toBe(1);
    expect(open.stderr).toContain(`${file} is open to other users (mode 666)`);
    chmodSync(file, 0o600);
    if (process.getuid?.() === 0) {
      chownSync(file, 65534, 65534);
      const theirs = await baton(['restore', file, '--revoke-sessions'], env);
      expect(theirs.code).toBe(1);
      expect(theirs.stderr).toContain(`${file} belongs to another user (uid 65534, not 0)`);
      chownSync(file, 0, 0);
    }
    expect((await baton(['restore', file, '--revoke-sessions'], env)).code).toBe(0);
  }, 60_000);
});
