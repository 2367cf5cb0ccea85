/**
 * #22: the scopes `users add --scopes` gives a user are what a login through the service's own
 * default client grants — before, that client could grant nothing (`scopes: []`), so every token
 * had scope "" and asking for `profile` was "not granted" until `clients scopes default …`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createService, loadConfig, users } from 'baton-auth-server';
import type { Service } from 'baton-auth-server';
import { clients } from '../../packages/baton-auth-server/src/server/clients.ts';

const dir = mkdtempSync(join(tmpdir(), 'baton-default-client-'));
const open: Service[] = [];
afterAll(async () => {
  for (const s of open) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

async function service(file: string) {
  const config = loadConfig({ PORT: '0', BATON_STORE: `sqlite:${join(dir, file)}`, BATON_LOG_LEVEL: 'silent' });
  const s = await createService(config);
  open.push(s);
  const login = async (body: Record<string, string>) => {
    const res = await s.handler(new Request(`${config.issuer}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }), { ip: '203.0.113.5' });
    return { status: res.status, body: (await res.json()) as { scope?: string; error?: string } };
  };
  return { s, login };
}

describe('the default client (the service\'s own page and /auth/login naming no client)', () => {
  it('grants a user the scopes users add gave them, all of them when none is asked for, and refuses one they lack', async () => {
    const { s, login } = await service('fresh.sqlite');
    await users.add(s.store, 'alice', 'alice password 1', 'profile orders:read');
    expect(await login({ username: 'alice', password: 'alice password 1' })).toMatchObject({ status: 200, body: { scope: 'profile orders:read' } });
    expect(await login({ username: 'alice', password: 'alice password 1', scope: 'profile' })).toMatchObject({ status: 200, body: { scope: 'profile' } });
    expect(await login({ username: 'alice', password: 'alice password 1', scope: 'admin' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
  });

  it('a store whose default client an earlier start made with no scope is mended at start; scopes an administrator set are kept', async () => {
    const first = await service('upgraded.sqlite');
    await users.add(first.s.store, 'bob', 'bob password 1', 'profile');
    // As earlier versions made it.
    await first.s.store.putRecord('clients', 'default', JSON.stringify({ id: 'default', type: 'public', scopes: [] }));
    await first.s.close();
    const second = await service('upgraded.sqlite');
    expect(await second.login({ username: 'bob', password: 'bob password 1' })).toMatchObject({ status: 200, body: { scope: 'profile' } });
    // An administrator's choice stays: the default client may ask for nothing.
    await clients.setScopes(second.s.store, 'default', '');
    await second.s.close();
    const third = await service('upgraded.sqlite');
    const limited = await third.login({ username: 'bob', password: 'bob password 1' });
    expect(limited.status).toBe(200);
    expect(limited.body.scope ?? '').toBe('');
  });
});
