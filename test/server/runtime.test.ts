/**
 * The runtime file through which `baton` commands find the running service's store: trusted only
 * as the store's own files are. A file another user could have planted or read — another owner,
 * open to others, in a folder others may write in, a symbolic link, naming another user's
 * process — is refused with a sentence, and nothing is written to the store it names; every
 * command says which store it acts on; two services never take each other's file.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'baton-runtime-'));
chmodSync(root, 0o755); // the case run as another user must reach its folder
afterAll(() => rmSync(root, { recursive: true, force: true }));
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `baton <args>` with its own runtime file and no BATON_STORE: what it acts on comes from the file. */
function baton(args: string[], env: Record<string, string>, options: { uid?: number; input?: string } = {}): Promise<Run> {
  const { BATON_STORE: _unused, ...inherited } = process.env;
  return new Promise((resolve) => {
    const ids = options.uid === undefined ? {} : { uid: options.uid, gid: options.uid };
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...inherited, BATON_LOG_LEVEL: 'silent', ...env }, ...ids });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/** `baton serve` on a free port; resolves with its URL once it listens, or with what it said if it exits first. */
function serve(env: Record<string, string>): { child: ChildProcess; output: () => string; listening: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', BATON_LOG_LEVEL: 'silent', ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  listening.catch(() => undefined);
  return { child, output: () => out, listening, exited };
}

async function stop(s: ReturnType<typeof serve>): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill('SIGTERM');
  await s.exited;
}

/** A process's start time as the service records it (`/proc/<pid>/stat` field 22; none without /proc). */
const startOf = (pid: number): string | undefined => {
  if (!existsSync(`/proc/${pid}/stat`)) return undefined;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};

let n = 0;
/** A fresh case: a private folder holding a runtime file that names `store` and a live process (its uid and start time, as a service writes them). */
function plant(store: string, pid = process.pid) {
  const dir = join(root, `case-${++n}`);
  mkdirSync(dir, { mode: 0o700 });
  const file = join(dir, 'baton-service.json');
  writeFileSync(
    file,
    JSON.stringify({
      pid,
      uid: process.getuid?.(),
      started: startOf(pid),
      nonce: 'planted',
      url: 'http://127.0.0.1:1',
      issuer: 'https://attacker.example',
      store,
    }),
    { mode: 0o600 },
  );
  return { dir, file };
}

/** Whether this test may choose the next pid (root, Linux: /proc/sys/kernel/ns_last_pid). */
const choosesPids =
  asRoot &&
  (() => {
    try {
      writeFileSync('/proc/sys/kernel/ns_last_pid', readFileSync('/proc/sys/kernel/ns_last_pid', 'utf8'));
      return true;
    } catch {
      return false;
    }
  })();

/** A `sleep` that holds `pid` (freed before), run as `uid`: the next pid is chosen through ns_last_pid, retried while other processes of the machine take it first. */
function sleepAt(pid: number, uid?: number): ChildProcess {
  for (let attempt = 0; attempt < 50; attempt++) {
    writeFileSync('/proc/sys/kernel/ns_last_pid', String(pid - 1));
    const child = spawn('sleep', ['60'], uid === undefined ? {} : { uid, gid: uid });
    if (child.pid === pid) return child;
    child.kill('SIGKILL');
  }
  throw new Error(`pid ${pid} could not be taken`);
}

describe('a runtime file another user could have planted or read', () => {
  const attacker = join(root, 'attacker');
  mkdirSync(attacker, { mode: 0o700 });
  const attackerStore = `sqlite:${join(attacker, 'baton.sqlite')}`;

  const refused = async (env: Record<string, string>, sentence: string | RegExp, options: { uid?: number } = {}) => {
    const run = await baton(['users', 'add', 'carol', '--password-stdin'], env, { ...options, input: 'carol password 1\n' });
    expect(run.code, run.stderr).toBe(1);
    if (typeof sentence === 'string') expect(run.stderr).toBe(`baton: ${sentence}\n`);
    else expect(run.stderr).toMatch(sentence);
    expect(run.stdout).toBe('');
    expect(existsSync(join(attacker, 'baton.sqlite')), 'carol written to the store the file names').toBe(false);
  };

  it('is refused when open to others, naming the chmod', async () => {
    for (const mode of [0o644, 0o640, 0o666]) {
      const { file } = plant(attackerStore);
      chmodSync(file, mode);
      await refused({ BATON_RUNTIME_FILE: file }, `${file} is open to other users (mode ${mode.toString(8)}): \`chmod 600 ${file}\`.`);
    }
  });

  it('is refused in a folder others may write in (not sticky), naming the chmod', async () => {
    const { dir, file } = plant(attackerStore);
    chmodSync(dir, 0o777);
    await refused({ BATON_RUNTIME_FILE: file }, `${dir} is open to other users (mode 777): \`chmod 700 ${dir}\`.`);
  });

  it('is refused when it is a symbolic link, even to a private file of ours', async () => {
    const { dir, file } = plant(attackerStore);
    const link = join(dir, 'link.json');
    symlinkSync(file, link);
    await refused({ BATON_RUNTIME_FILE: link }, `${link} is a symbolic link: Baton reads it only as a file of its own. Remove the link (\`rm ${link}\`).`);
  });

  it.runIf(asRoot)('is refused when another user owns it or its folder, naming the chown', async () => {
    const { dir, file } = plant(attackerStore);
    chownSync(file, NOBODY, NOBODY);
    await refused(
      { BATON_RUNTIME_FILE: file },
      `${file} belongs to another user (uid ${NOBODY}, not 0): whoever owns it can read or replace what Baton keeps there. Run Baton as its owner, or \`chown 0 ${file}\`.`,
    );
    chownSync(file, 0, 0);
    chownSync(dir, NOBODY, NOBODY);
    await refused(
      { BATON_RUNTIME_FILE: file },
      `${dir} belongs to another user (uid ${NOBODY}, not 0): whoever owns it can read or replace what Baton keeps there. Run Baton as its owner, or \`chown 0 ${dir}\`.`,
    );
  });

  it.runIf(asRoot)('is refused when it names a process of another user (EPERM is not ours): stale or planted', async () => {
    // Run as nobody, with a file and folder of nobody's naming pid 1 (root's): signal 0 fails with EPERM.
    const { dir, file } = plant(attackerStore, 1);
    chownSync(dir, NOBODY, NOBODY);
    chownSync(file, NOBODY, NOBODY);
    chownSync(attacker, NOBODY, NOBODY);
    await refused(
      { BATON_RUNTIME_FILE: file },
      `${file} names process 1, which belongs to another user, not to a Baton service of yours: the file is stale or planted, and is not used. Remove it (\`rm ${file}\`), or point BATON_RUNTIME_FILE elsewhere.`,
      { uid: NOBODY },
    );
  });

  it('is used when private to this user, and every command says on standard error which store it acts on', async () => {
    const store = `sqlite:${join(root, 'ours', 'baton.sqlite')}`;
    mkdirSync(join(root, 'ours'), { mode: 0o700 });
    const { file } = plant(store);
    const line = `baton: store ${store} (announced in ${file} by the service running as process ${process.pid})\n`;
    const added = await baton(['users', 'add', 'carol', '--password-stdin'], { BATON_RUNTIME_FILE: file }, { input: 'carol password 1\n' });
    expect([added.code, added.stderr]).toEqual([0, line]);
    expect(added.stdout).toMatch(/^Created user carol/); // standard output stays the answer
    for (const args of [
      ['users', 'list'],
      ['clients', 'list'],
      ['keys', 'list'],
      ['sessions', 'list', 'carol'],
      ['sessions', 'revoke', '--user', 'carol'],
      ['limits', 'reset', 'carol'],
    ]) {
      const run = await baton(args, { BATON_RUNTIME_FILE: file });
      expect([args.join(' '), run.code, run.stderr]).toEqual([args.join(' '), 0, line]);
    }
    const named = await baton(['users', 'list'], { BATON_RUNTIME_FILE: join(root, 'none.json'), BATON_STORE: store });
    expect(named.stderr).toBe(`baton: store ${store} (BATON_STORE)\n`);
  }, 60_000);
});

describe('a leftover runtime file whose pid another process now holds', () => {
  it.runIf(choosesPids)(
    "is not the service: another user's process is refused even for root (no EPERM), one of ours started later is a stale file",
    async () => {
      const dir = join(root, 'reused');
      const file = join(dir, 'baton-service.json');
      const store = `sqlite:${join(dir, 'baton.sqlite')}`;
      // The service dies uncleanly (kill -9): its file stays, naming its pid.
      const service = serve({ BATON_STORE: store, BATON_RUNTIME_FILE: file });
      await service.listening;
      const pid = service.child.pid as number;
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid, uid: process.getuid?.(), started: expect.stringMatching(/^\d+$/) });
      service.child.kill('SIGKILL');
      await service.exited;

      // Another user's process now holds the pid: refused, nothing written to the store the file names.
      const theirs = sleepAt(pid, NOBODY);
      try {
        const run = await baton(['users', 'add', 'carol', '--password-stdin'], { BATON_RUNTIME_FILE: file }, { input: 'carol password 1\n' });
        expect([run.code, run.stdout, run.stderr]).toEqual([
          1,
          '',
          `baton: ${file} names process ${pid}, which belongs to another user, not to a Baton service of yours: the file is stale or planted, and is not used. Remove it (\`rm ${file}\`), or point BATON_RUNTIME_FILE elsewhere.\n`,
        ]);
      } finally {
        theirs.kill('SIGKILL');
        await new Promise((r) => theirs.once('exit', r));
      }

      // A process of this user that started later holds it: the file is stale, no service is announced.
      const later = sleepAt(pid);
      try {
        const elsewhere = `sqlite:${join(dir, 'elsewhere.sqlite')}`;
        const run = await baton(['users', 'list'], { BATON_RUNTIME_FILE: file, BATON_STORE: elsewhere });
        expect([run.code, run.stderr]).toEqual([0, `baton: store ${elsewhere} (BATON_STORE)\n`]);
      } finally {
        later.kill('SIGKILL');
        await new Promise((r) => later.once('exit', r));
      }
    },
    60_000,
  );
});

describe('a runtime file in a shared (sticky) folder', () => {
  it('is refused at start with a sentence: another user could take its name first', async () => {
    const dir = join(root, 'sticky');
    mkdirSync(dir);
    chmodSync(dir, 0o1777);
    const file = join(dir, 'baton-service.json');
    const service = serve({ BATON_STORE: `sqlite:${join(root, 'sticky-store', 'baton.sqlite')}`, BATON_RUNTIME_FILE: file });
    try {
      expect(await Promise.race([service.exited, service.listening.then(() => 'listening')])).toBe(1);
    } finally {
      await stop(service);
    }
    expect(service.output()).toBe(
      `baton: ${dir} is a shared folder (sticky, like /tmp): another user could create baton-service.json there first. Point BATON_RUNTIME_FILE to a private folder (the default ./data is one).\n`,
    );
    expect(existsSync(file)).toBe(false);
  }, 30_000);
});

describe('two services with one runtime file', () => {
  it("the second never takes the first's file: it refuses to start for another store or issuer, runs unannounced for the same, and leaves the file to the first", async () => {
    const dir = join(root, 'shared');
    const file = join(dir, 'baton-service.json');
    const store = `sqlite:${join(dir, 'baton.sqlite')}`;
    const first = serve({ BATON_STORE: store, BATON_RUNTIME_FILE: file, BATON_ISSUER: 'https://first.runtime.test' });
    try {
      await first.listening;
      const announced = readFileSync(file, 'utf8');
      expect(JSON.parse(announced)).toMatchObject({ pid: first.child.pid, issuer: 'https://first.runtime.test', store });

      // Another store and issuer (as a new user would start it: the default, on its own port): refused, the file untouched.
      // (On the same store, the default issuer is refused before: test/multi/upgrade.test.ts.)
      const other = serve({ BATON_STORE: `sqlite:${join(dir, 'other.sqlite')}`, BATON_RUNTIME_FILE: file });
      expect(await other.exited).toBe(1);
      expect(other.output()).toMatch(
        new RegExp(
          `^baton: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} already names the Baton service running as process ${first.child.pid} \\(store ${store.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, issuer https://first\\.runtime\\.test\\); this one serves .* as http://127\\.0\\.0\\.1:\\d+, and \`baton\` commands would not know which to act on\\. Give this one its own BATON_RUNTIME_FILE, or stop process ${first.child.pid} first\\.\\n$`,
        ),
      );
      expect(readFileSync(file, 'utf8')).toBe(announced);

      // Another instance of the same store and issuer: it runs, unannounced, and its exit leaves the first's file.
      const twin = serve({ BATON_STORE: store, BATON_RUNTIME_FILE: file, BATON_ISSUER: 'https://first.runtime.test' });
      await twin.listening;
      await eventually(() => twin.output().includes(`Process ${first.child.pid}, an instance of the same store and issuer, is the one announced in ${file}`), {
        timeoutMs: 5000,
        what: 'the twin saying which instance is announced',
      });
      await stop(twin);
      expect(readFileSync(file, 'utf8')).toBe(announced);
      const run = await baton(['users', 'list'], { BATON_RUNTIME_FILE: file });
      expect(run.stderr).toBe(`baton: store ${store} (announced in ${file} by the service running as process ${first.child.pid})\n`);
    } finally {
      await stop(first);
    }
    expect(existsSync(file)).toBe(false); // the first removes its own on exit

    // A stale file (its process gone) is replaced by the next start.
    writeFileSync(
      file,
      JSON.stringify({ pid: 2 ** 22 + 12345, nonce: 'old', url: 'http://127.0.0.1:1', issuer: 'https://old.example', store: 'sqlite:/elsewhere.sqlite' }),
      { mode: 0o600 },
    );
    const next = serve({ BATON_STORE: store, BATON_RUNTIME_FILE: file });
    try {
      await next.listening;
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: next.child.pid, store });
    } finally {
      await stop(next);
    }
  }, 60_000);
});
