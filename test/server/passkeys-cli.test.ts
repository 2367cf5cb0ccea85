/**
 * `baton users passkeys <user>` as an administrator runs it, in child processes on a SQLite store:
 * the list (id, name, when added and last used), `rename` and `delete` by an id or a unique start
 * of one, each change in the audit trail; a wrong action, an unknown id, a missing name, a user
 * without passkeys each a sentence. The passkeys are laid in the store as `baton-auth/passkeys`
 * keeps them (what a Chromium registration makes is tested in test/e2e/passkeys.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, users } from 'baton-auth-server';
import { baton } from '../support/baton-cli.ts';

const root = mkdtempSync(join(tmpdir(), 'baton-passkeys-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const audit = join(root, 'audit.log');
const env: Record<string, string> = {
  BATON_STORE: `sqlite:${join(root, 'baton.sqlite')}`,
  BATON_RUNTIME_FILE: join(root, 'baton-service.json'),
  BATON_LOG_LEVEL: 'silent',
  BATON_AUDIT_LOG: audit,
};
const LAPTOP = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const PHONE = 'AAAAAAAABBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';

describe('baton users passkeys', () => {
  let userId: string;
  beforeAll(async () => {
    const added = await baton(['users', 'add', 'alice', '--password-stdin'], env, 'alice password 1');
    expect(added.code, added.stderr).toBe(0);
    expect((await baton(['users', 'add', 'bob', '--password-stdin'], env, 'bob password 12')).code).toBe(0);
    const store = await openStore(env.BATON_STORE as string);
    try {
      userId = (await users.get(store, 'alice'))?.id as string;
      const key = { publicKey: 'pQECAyYgASFYIA', counter: 3, transports: ['internal'], backedUp: false };
      await store.putRecord(
        `passkeys:${userId}`,
        LAPTOP,
        JSON.stringify({ id: LAPTOP, name: 'Laptop', createdAt: Date.UTC(2026, 11, 1), lastUsedAt: Date.UTC(2026, 11, 5), ...key }),
      );
      await store.putRecord(
        `passkeys:${userId}`,
        PHONE,
        JSON.stringify({ id: PHONE, name: 'Phone', createdAt: Date.UTC(2026, 11, 2), ...key, backedUp: true }),
      );
    } finally {
      await store.close();
    }
  }, 60_000);

  it('lists, renames and deletes, by an id or a unique start of one, and audits each change', async () => {
    const list = await baton(['users', 'passkeys', 'alice'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\n')).toEqual([
      `${LAPTOP}\tLaptop\tadded 2026-12-01T00:00:00.000Z\tlast used 2026-12-05T00:00:00.000Z`,
      `${PHONE}\tPhone\tadded 2026-12-02T00:00:00.000Z\tnever used\tsynced`,
    ]);

    const renamed = await baton(['users', 'passkeys', 'alice', 'rename', 'AAAAAAAAB', 'Work phone'], env);
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(renamed.stdout).toContain('to Work phone');
    expect((await baton(['users', 'passkeys', 'alice', 'list'], env)).stdout).toContain(`${PHONE}\tWork phone\t`);

    const deleted = await baton(['users', 'passkeys', 'alice', 'delete', LAPTOP], env);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(deleted.stdout).toContain('Deleted the passkey Laptop');
    const after = await baton(['users', 'passkeys', 'alice'], env);
    expect(after.stdout.trim().split('\n')).toHaveLength(1);
    expect(after.stdout).not.toContain(LAPTOP);

    const events = readFileSync(audit, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => String(e.type).startsWith('passkey.'));
    expect(events).toMatchObject([
      { type: 'passkey.renamed', user: userId, username: 'alice', credential: PHONE },
      { type: 'passkey.removed', user: userId, username: 'alice', credential: LAPTOP },
    ]);
    expect(events[0]?.actor).toMatch(/^cli:/);
  });

  it('says what is wrong: an action, an unknown id or too short a start of one, a missing name, a user without passkeys, an unknown user', async () => {
    const wrong = await baton(['users', 'passkeys', 'alice', 'remove', PHONE], env);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain('takes list, rename <id> <new-name> or delete <id>');
    const unknown = await baton(['users', 'passkeys', 'alice', 'delete', 'ZZZZZZZZZZ'], env);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('alice has no passkey ZZZZZZZZZZ');
    const short = await baton(['users', 'passkeys', 'alice', 'delete', 'AAAA'], env);
    expect(short.stderr).toContain('has no passkey AAAA');
    const noName = await baton(['users', 'passkeys', 'alice', 'rename', PHONE], env);
    expect(noName.stderr).toContain('Give the new name');
    const none = await baton(['users', 'passkeys', 'bob'], env);
    expect(none.stdout.trim()).toBe('bob has no passkey.');
    const nobody = await baton(['users', 'passkeys', 'carol'], env);
    expect(nobody.code).not.toBe(0);
    expect(nobody.stderr).toContain('There is no user carol');
  });

  it('a removed user’s passkeys go with the user', async () => {
    expect((await baton(['users', 'remove', 'alice'], env)).code).toBe(0);
    const store = await openStore(env.BATON_STORE as string);
    try {
      expect(await store.listRecords(`passkeys:${userId}`)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
