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
    const res = await s.handler(
      new Request(`${config.issuer}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      { ip: '203.0.113.5' },
    );
    return { status: res.status, body: (await res.json()) as { scope?: string; error?: string } };
  };
  return { s, login };
}

describe("the default client (the service's own page and /auth/login naming no client)", () => {
  it('grants a user the scopes users add gave them, all of them when none is asked for, and refuses one they lack', async () => {
    const { s, login } = await service('fresh.sqlite');
    await users.add(s.store, 'alice', 'alice password 1', 'profile orders:read');
    expect(await login({ username: 'alice', password: 'alice password 1' })).toMatchObject({ status: 200, body: { scope: 'profile orders:read' } });
    expect(await login({ username: 'alice', password: 'alice password 1', scope: 'profile' })).toMatchObject({ status: 200, body: { scope: 'profile' } });
    expect(await login({ username: 'alice', password: 'alice password 1', scope: 'admin' })).toMatchObject({ status: 400, body: { error: 'invalid_scope' } });
  });

  it("an existing default client is never widened at start: one earlier versions made with no scope stays so, with a warning naming the command; an administrator's limit is kept", async () => {
    const lines: string[] = [];
    const { default: pino } = await import('pino');
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(line) });
    const file = join(dir, 'upgraded.sqlite');
    const config = loadConfig({ PORT: '0', BATON_STORE: `sqlite:${file}`, BATON_LOG_LEVEL: 'silent' });
    const first = await createService(config);
    await users.add(first.store, 'bob', 'bob password 1', 'profile');
    // As earlier versions made it (and as an administrator limiting it before this version left it).
    await first.store.putRecord('clients', 'default', JSON.stringify({ id: 'default', type: 'public', scopes: [] }));
    await first.close();
    const second = await createService(config, logger);
    open.push(second);
    const login = async () =>
      (await (
        await second.handler(
          new Request(`${config.issuer}/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ username: 'bob', password: 'bob password 1' }),
          }),
          { ip: '203.0.113.5' },
        )
      ).json()) as { scope?: string };
    expect((await login()).scope ?? '').toBe('');
    expect(lines.join('')).toContain('clients scopes default');
    // A client re-added with no scope on purpose is marked as the administrator's: no warning names it again.
    await clients.remove(second.store, 'default');
    await clients.add(second.store, 'default', { scopes: '' });
    expect(JSON.parse((await second.store.getRecord('clients', 'default')) as string)).toMatchObject({ scopes: [], scopesSet: true });
  });
});
