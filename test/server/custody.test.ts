/**
 * Key custody: a copy of the store mints nothing. The keys are sealed under a service secret
 * that never enters the store; the embedded default keeps it in a 0600 file of its own; a wrong
 * or missing secret stops the start with a sentence, never a silent new key; the secret rotates.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { KeyInput } from 'baton-auth';
import { clients, createService, loadConfig, openStore, users } from 'baton-auth-server';
import { startRedis } from '../support/redis-servers.ts';

const CLI = new URL('../../packages/baton-auth-server/src/cli/main.ts', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'baton-custody-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `case-${++n}`, 'data', 'baton.sqlite');
const quiet = { BATON_LOG_LEVEL: 'silent', PORT: '0' };

async function service(env: Record<string, string>) {
  return createService(loadConfig({ ...quiet, ...env }));
}

function cli(args: string[], env: Record<string, string>, input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // umask 022, as on most machines: the files must still come out private.
    const child = spawn('sh', ['-c', 'umask 022 && exec "$0" "$@"', process.execPath, CLI, ...args], { env: { ...process.env, ...quiet, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** Every secret of a ring, as it would appear in a file: private JWK members and base64url secrets. */
function secretsOf(ring: KeyInput[]): string[] {
  return ring
    .flatMap((k) => [typeof k.secret === 'string' ? k.secret.replace('base64url:', '') : undefined, (k.privateKey as { d?: string } | undefined)?.d])
    .filter((s): s is string => s !== undefined);
}

describe('a copy of the store', () => {
  it('holds no key material: nothing in the database files opens or mints anything', async () => {
    const path = fresh();
    const s = await service({ BATON_STORE: `sqlite:${path}` });
    await users.add(s.store, 'alice', 'alice password 1');
    const { secret: clientSecret } = await clients.add(s.store, 'reports', { confidential: true });
    const pair = await s.baton.login('alice', { clientId: 'reports' });
    const secrets = [
      ...secretsOf(s.custody.ring.export()),
      clientSecret as string,
      pair.refresh_token,
      pair.refresh_token.split('.')[2] as string,
      'alice password 1',
    ];
    expect(secrets.length).toBeGreaterThanOrEqual(8);
    // While the database is open its journal files exist: private too.
    for (const p of [path, `${path}-wal`, `${path}-shm`]) expect((statSync(p).mode & 0o777).toString(8), p).toBe('600');
    await s.close();
    const raw = Buffer.concat([path, `${path}-wal`].filter(existsSync).map((p) => readFileSync(p)));
    for (const secret of secrets) expect(raw.includes(secret), 'a key, a client secret, a refresh token or a password in the database').toBe(false);

    // The copy alone, elsewhere (no secret file beside it): refuses to start, and says why.
    const copy = fresh();
    await cli(['users', 'list'], { BATON_STORE: `sqlite:${copy}` }); // creates the folder
    copyFileSync(path, copy);
    await expect(service({ BATON_STORE: `sqlite:${copy}` })).rejects.toThrow(
      /holds keys sealed by a service secret, but .*baton\.secret is missing.*Restore it from your backup/,
    );
    expect(existsSync(join(copy, '..', 'baton.secret'))).toBe(false); // and no new secret was made
    // The copy with any other secret: refused as well.
    await expect(service({ BATON_STORE: `sqlite:${copy}`, BATON_SECRET: 'x'.repeat(40) })).rejects.toThrow(
      /sealed with another service secret .* than BATON_SECRET/,
    );
  });

  it('a networked store never starts without an explicit secret', async () => {
    const redis = await startRedis(); // a Redis of this test's own, reachable: the refusal is the secret's
    try {
      await expect(service({ BATON_STORE: `${redis.url}/7` })).rejects.toThrow(/set BATON_SECRET or BATON_SECRET_FILE .*secret generate/);
    } finally {
      await redis.stop();
    }
  }, 30_000);
});

describe('files', () => {
  it('the data folder is 0700, the database, its journal and the secret 0600, under umask 022', async () => {
    const path = fresh();
    const out = await cli(['keys', 'list'], { BATON_STORE: `sqlite:${path}` });
    expect(out.code, out.stderr).toBe(0);
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect(mode(join(path, '..'))).toBe('700');
    for (const p of [path, join(path, '..', 'baton.secret'), `${path}-wal`, `${path}-shm`].filter(existsSync)) expect(mode(p), p).toBe('600');
    expect(readFileSync(join(path, '..', 'baton.secret'), 'utf8').trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('files another user could read or replace stop the start with the command that fixes them', async () => {
    const path = fresh();
    const made = await service({ BATON_STORE: `sqlite:${path}` });
    await made.close();
    const dir = join(path, '..');
    const secretFile = join(dir, 'baton.secret');
    const refused = async (what: string, fix: () => void, undo: () => void, message: RegExp) => {
      fix();
      await expect(service({ BATON_STORE: `sqlite:${path}` }), what).rejects.toThrow(message);
      undo();
      await (await service({ BATON_STORE: `sqlite:${path}` })).close(); // and it starts again once mended
    };
    await refused(
      'a readable secret',
      () => chmodSync(secretFile, 0o640),
      () => chmodSync(secretFile, 0o600),
      /baton\.secret is open to other users \(mode 640\): `chmod 600 /,
    );
    await refused(
      'a writable folder',
      () => chmodSync(dir, 0o777),
      () => chmodSync(dir, 0o700),
      /data is open to other users \(mode 777\): `chmod 700 /,
    );
    await refused(
      'a writable database',
      () => chmodSync(path, 0o666),
      () => chmodSync(path, 0o600),
      /baton\.sqlite is open to other users \(mode 666\)/,
    );
    if (process.getuid?.() === 0) {
      await refused(
        'a database of another user',
        () => chownSync(path, 4242, 4242),
        () => chownSync(path, 0, 0),
        /belongs to another user \(uid 4242, not 0\)/,
      );
    }
    // A sticky folder open to all (like /tmp) is fine: no one can replace the files in it, which are checked one by one.
    chmodSync(dir, 0o1777);
    await (await service({ BATON_STORE: `sqlite:${path}` })).close();
  });
});

describe('secret rotation', () => {
  it('re-seals the embedded default under a new secret file; tokens keep working; the old secret opens nothing', async () => {
    const path = fresh();
    const env = { BATON_STORE: `sqlite:${path}` };
    const before = await service(env);
    const pair = await before.baton.login('u');
    await before.close();
    const secretFile = join(path, '..', 'baton.secret');
    const old = readFileSync(secretFile, 'utf8').trim();
    const out = await cli(['secret', 'rotate'], env);
    expect(out.stdout).toMatch(/Re-sealed the keys; the new secret is in .*baton\.secret/);
    expect(readFileSync(secretFile, 'utf8').trim()).not.toBe(old);
    expect((statSync(secretFile).mode & 0o777).toString(8)).toBe('600');
    const after = await service(env);
    await after.baton.verify(pair.access_token);
    await after.baton.refresh(pair.refresh_token);
    await after.close();
    await expect(service({ ...env, BATON_SECRET: old })).rejects.toThrow(/sealed with another service secret/);
  });

  it('with BATON_SECRET: takes the new one from standard input, never argv', async () => {
    const path = fresh();
    const oldSecret = 'old-service-secret-of-at-least-32-chars';
    const newSecret = 'new-service-secret-of-at-least-32-chars';
    expect((await cli(['keys', 'list'], { BATON_STORE: `sqlite:${path}`, BATON_SECRET: oldSecret })).code).toBe(0);
    const refused = await cli(['secret', 'rotate'], { BATON_STORE: `sqlite:${path}`, BATON_SECRET: oldSecret });
    expect(refused.stderr).toMatch(/--new-secret-file <path> or --new-secret-stdin/);
    const out = await cli(['secret', 'rotate', '--new-secret-stdin'], { BATON_STORE: `sqlite:${path}`, BATON_SECRET: oldSecret }, `${newSecret}\n`);
    expect(out.stdout).toMatch(/Restart every instance with it/);
    expect((await cli(['keys', 'list'], { BATON_STORE: `sqlite:${path}`, BATON_SECRET: newSecret })).code).toBe(0);
    const stale = await cli(['keys', 'list'], { BATON_STORE: `sqlite:${path}`, BATON_SECRET: oldSecret });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/sealed with another service secret/);
  });
});

describe('stores of earlier versions, and stores that lost their keys', () => {
  it('keys kept in the clear are refused until `keys seal-legacy` adopts them on purpose; sessions made under them keep refreshing', async () => {
    const path = fresh();
    const env = { BATON_STORE: `sqlite:${path}`, BATON_SECRET: 'service-secret-of-at-least-32-characters' };
    const store = await openStore(env.BATON_STORE);
    const keys = [generateKey('EdDSA'), { ...generateKey('EdDSA'), status: 'next' as const }];
    const refreshSecret = Buffer.alloc(32, 7).toString('base64url');
    await store.putRecord('config', 'keys', JSON.stringify(keys));
    await store.putRecord('config', 'refresh-secret', refreshSecret);
    const legacy = createBaton({ issuer: 'http://127.0.0.1:0', keys, refreshTokenSecret: Buffer.from(refreshSecret, 'base64url'), store });
    const pair = await legacy.login('u');
    await legacy.close();
    await store.close();

    // Planted or left over, keys in the clear are never taken silently.
    await expect(service(env)).rejects.toThrow(/holds signing keys in the clear .* `npx baton keys seal-legacy`/);
    const sealed = await cli(['keys', 'seal-legacy'], env);
    expect(sealed.stdout).toMatch(/^Sealed 4 keys\./); // two signing keys, the refresh secret, a next refresh key
    const s = await service(env);
    try {
      expect(await s.store.getRecord('config', 'keys')).toBeNull();
      expect(await s.store.getRecord('config', 'refresh-secret')).toBeNull();
      await s.baton.refresh(pair.refresh_token);
    } finally {
      await s.close();
    }
  });

  it('a store whose sealed ring went missing refuses to start rather than sign everyone out; `keys reset --yes` starts over', async () => {
    const path = fresh();
    const env = { BATON_STORE: `sqlite:${path}` };
    const first = await service(env);
    await first.store.deleteRecord('config', 'keyring');
    await first.close();
    await expect(service(env)).rejects.toThrow(/its sealed key ring \(config\/keyring\) is missing: restore it from a backup/);
    expect((await cli(['keys', 'reset'], env)).stderr).toMatch(/Run again with --yes/);
    expect((await cli(['keys', 'reset', '--yes'], env)).code).toBe(0);
    await (await service(env)).close();
  });
});

describe('the signing algorithm', () => {
  it('a BATON_ALG that differs from the stored keys is said at start, and `keys rotate --alg` switches', async () => {
    const path = fresh();
    const env = { BATON_STORE: `sqlite:${path}` };
    const first = await service(env);
    const old = await first.baton.login('u');
    await first.close();
    const mismatch = await service({ ...env, BATON_ALG: 'ES256' });
    expect(mismatch.custody.warnings.join('\n')).toMatch(/BATON_ALG is ES256, but the store's signing key is EdDSA: run `npx baton keys rotate --alg ES256`/);
    await mismatch.close();
    const out = await cli(['keys', 'rotate', '--alg', 'ES256'], { ...env, BATON_ALG: 'ES256' });
    expect(out.code, out.stderr).toBe(0);
    const after = await service({ ...env, BATON_ALG: 'ES256' });
    try {
      expect(after.custody.warnings).toEqual([]);
      const pair = await after.baton.login('u');
      expect(JSON.parse(Buffer.from(pair.access_token.split('.')[0] as string, 'base64url').toString()).alg).toBe('ES256');
      await after.baton.verify(old.access_token); // the retired EdDSA key verifies until its tokens expire
    } finally {
      await after.close();
    }
  });
});
