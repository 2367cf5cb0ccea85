/**
 * The service's authorization settings and parts: the page, registration and metadata-host
 * settings (a mistake is a sentence naming the variable), registration kept in the store under its
 * cap, consents as records per user, the `preferred_username` claim.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { isBatonError } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { sqliteStore } from 'baton-auth/stores/sqlite';
import { loadConfig, users } from 'baton-auth-server';
import { clients, storeClients } from '../../packages/baton-auth-server/src/server/clients.ts';
import { forgetConsents, storeConsents } from '../../packages/baton-auth-server/src/server/consents.ts';
import { serviceClaims } from '../../packages/baton-auth-server/src/server/authorization.ts';
import { startTestService } from '../support/service.ts';

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(isBatonError(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('settings', () => {
  it('read into the page, registration and metadata hosts', () => {
    const c = loadConfig({
      BATON_PAGE_TITLE: 'Acme sign-in',
      BATON_PAGE_LOGO: 'https://cdn.acme.example/logo.svg',
      BATON_PAGE_THEME: '--baton-accent:#0a7; --baton-radius:8px',
      BATON_CLIENT_REGISTRATION: 'open',
      BATON_CLIENT_REGISTRATION_MAX: '50',
      BATON_CLIENT_METADATA_HOSTS: 'apps.acme.example, tools.example:8443',
    });
    expect(c.page).toEqual({
      title: 'Acme sign-in',
      logoUrl: 'https://cdn.acme.example/logo.svg',
      theme: { '--baton-accent': '#0a7', '--baton-radius': '8px' },
    });
    expect(c.registration).toEqual({ maxClients: 50 });
    expect(c.clientMetadataHosts).toEqual(['apps.acme.example', 'tools.example:8443']);
  });

  it('off by default', () => {
    const c = loadConfig({});
    expect(c.registration).toBeUndefined();
    expect(c.clientMetadataHosts).toEqual([]);
    expect(c.page).toEqual({});
  });

  it.each([
    [{ BATON_PAGE_LOGO: 'http://cdn.example/logo.svg' }, /BATON_PAGE_LOGO must be an https URL/],
    [{ BATON_PAGE_THEME: 'color:red' }, /BATON_PAGE_THEME must be CSS variables/],
    [{ BATON_PAGE_THEME: '--baton-accent:red}</style><script>' }, /BATON_PAGE_THEME/],
    [{ BATON_PAGE_TITLE: 't'.repeat(101) }, /BATON_PAGE_TITLE must be a string of at most 100/],
    [{ BATON_CLIENT_REGISTRATION: 'yes' }, /BATON_CLIENT_REGISTRATION must be 'off' or 'open'/],
    [{ BATON_CLIENT_REGISTRATION_MAX: '0' }, /BATON_CLIENT_REGISTRATION_MAX must be a whole number/],
    [{ BATON_CLIENT_METADATA_HOSTS: '*.example.com' }, /wildcards are not allowed/],
    [{ BATON_CLIENT_METADATA_HOSTS: 'https://apps.example.com' }, /not a host name/],
  ])('%o is refused with a sentence', (env, sentence) => {
    expect(refusal(env)).toMatch(sentence);
  });
});

describe('the hosted pages in the service', () => {
  it('carry BATON_PAGE_TITLE, BATON_PAGE_LOGO and BATON_PAGE_THEME', async () => {
    const s = await startTestService({
      BATON_PAGE_TITLE: 'Acme sign-in',
      BATON_PAGE_LOGO: 'https://cdn.acme.example/logo.svg',
      BATON_PAGE_THEME: '--baton-accent:#0a7',
    });
    try {
      await clients.add(s.server.service.store, 'web', { redirectUris: ['https://app.acme.example/cb'], firstParty: true });
      const q = new URLSearchParams({
        client_id: 'web',
        redirect_uri: 'https://app.acme.example/cb',
        response_type: 'code',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGrSKxwrR0',
        code_challenge_method: 'S256',
      });
      const page = await fetch(`${s.url}/oauth/authorize?${q}`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('Acme sign-in');
      expect(html).toContain('https://cdn.acme.example/logo.svg');
      expect(html).toMatch(/--baton-accent:\s*#0a7/);
    } finally {
      await s.stop();
    }
  });
});

describe('registration in the service', () => {
  const WEB = { redirect_uris: ['https://notes.example/cb'], token_endpoint_auth_method: 'none' };
  const register = (url: string) =>
    fetch(`${url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(WEB) });

  it('off by default: 404, no registration_endpoint', async () => {
    const s = await startTestService({});
    try {
      expect((await register(s.url)).status).toBe(404);
      expect(await (await fetch(`${s.url}/.well-known/oauth-authorization-server`)).json()).not.toHaveProperty('registration_endpoint');
    } finally {
      await s.stop();
    }
  });

  it('open: clients kept in the store up to BATON_CLIENT_REGISTRATION_MAX; removing one frees its place', async () => {
    const s = await startTestService({ BATON_CLIENT_REGISTRATION: 'open', BATON_CLIENT_REGISTRATION_MAX: '2' });
    try {
      const meta = await (await fetch(`${s.url}/.well-known/oauth-authorization-server`)).json();
      expect(meta.registration_endpoint).toBe(`${s.url}/oauth/register`);
      const answers = await Promise.all([1, 2, 3, 4].map(() => register(s.url)));
      expect(answers.map((r) => r.status).sort()).toEqual([201, 201, 400, 400]);
      const ids = await Promise.all(answers.filter((r) => r.status === 201).map(async (r) => (await r.json()).client_id as string));
      const store = s.server.service.store;
      const kept = await clients.list(store);
      for (const id of ids) expect(kept.find((c) => c.id === id)).toMatchObject({ type: 'public', firstParty: false, redirectUris: WEB.redirect_uris });
      // A registered client is a client of the authorization endpoint at once.
      const q = new URLSearchParams({
        client_id: ids[1] as string,
        redirect_uri: WEB.redirect_uris[0] as string,
        response_type: 'code',
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGrSKxwrR0',
        code_challenge_method: 'S256',
      });
      expect((await fetch(`${s.url}/oauth/authorize?${q}`)).status).toBe(200);
      expect(await clients.remove(store, ids[0] as string)).toBe(true);
      expect((await register(s.url)).status).toBe(201);
      expect((await register(s.url)).status).toBe(400);
    } finally {
      await s.stop();
    }
  });

  it('storeClients.register never passes the cap, however many race', async () => {
    const store = memoryStore();
    const registry = storeClients(store);
    const kept = await Promise.all(
      Array.from({ length: 20 }, (_, i) => registry.register?.({ id: `dyn_${i}`, type: 'public', redirectUris: ['https://x.example/cb'] }, { maxClients: 5 })),
    );
    expect(kept.filter(Boolean)).toHaveLength(5);
    expect((await store.listRecords('clients')).length).toBe(5);
  });
});

describe('consents in the store', () => {
  it('per user, newest first, replaced by put, deleted, gone with the user', async () => {
    const store = memoryStore();
    const consents = storeConsents(store);
    await consents.put('usr_a', 'notes', ['profile'], 1000);
    await consents.put('usr_a', 'mail', ['email'], 2000);
    await consents.put('usr_b', 'notes', ['openid'], 3000);
    await consents.put('usr_a', 'notes', ['profile', 'openid'], 4000);
    expect(await consents.list('usr_a')).toEqual([
      { clientId: 'notes', scope: ['profile', 'openid'], at: 4000 },
      { clientId: 'mail', scope: ['email'], at: 2000 },
    ]);
    expect(await consents.get('usr_b', 'notes')).toEqual({ scope: ['openid'], at: 3000 });
    expect(await consents.get('usr_b', 'mail')).toBeNull();
    expect(await consents.delete('usr_a', 'mail')).toBe(true);
    expect(await consents.delete('usr_a', 'mail')).toBe(false);
    await forgetConsents(store, 'usr_a');
    expect(await consents.list('usr_a')).toEqual([]);
    expect(await consents.list('usr_b')).toHaveLength(1);
  });

  it('a user’s listing reads only that user’s kind of record (the stores key records by kind: a map, a hash, the primary key)', async () => {
    const store = memoryStore();
    const kinds: string[] = [];
    const listRecords = store.listRecords.bind(store);
    store.listRecords = async (kind) => {
      kinds.push(kind);
      return listRecords(kind);
    };
    const consents = storeConsents(store);
    for (let u = 0; u < 50; u++) await consents.put(`usr_${u}`, 'notes', ['profile'], u);
    kinds.length = 0;
    expect(await consents.list('usr_7')).toEqual([{ clientId: 'notes', scope: ['profile'], at: 7 }]);
    expect(kinds).toEqual(['consents:usr_7']);
  });

  it('in SQLite, a user’s listing is a search of the (kind, key) primary key, never a scan of every record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'baton-consents-'));
    const path = join(dir, 'baton.sqlite');
    const store = sqliteStore({ path });
    try {
      const consents = storeConsents(store);
      for (let u = 0; u < 20; u++) await consents.put(`usr_${u}`, 'notes', ['profile'], u);
      expect(await consents.list('usr_3')).toEqual([{ clientId: 'notes', scope: ['profile'], at: 3 }]);
      const db = new DatabaseSync(path, { readOnly: true });
      const plan = db.prepare('EXPLAIN QUERY PLAN SELECT key, value FROM baton_records WHERE kind = ? ORDER BY key').all('consents:usr_3');
      db.close();
      expect(JSON.stringify(plan)).toMatch(/SEARCH baton_records USING (PRIMARY KEY|INDEX sqlite_autoindex_baton_records_1) \(kind=\?\)/);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a user keeps at most 100 (the oldest forgotten: asked again, never granted more)', async () => {
    const consents = storeConsents(memoryStore());
    for (let i = 0; i < 105; i++) await consents.put('usr_a', `c${i}`, ['profile'], i);
    const list = await consents.list('usr_a');
    expect(list).toHaveLength(100);
    expect(await consents.get('usr_a', 'c0')).toBeNull();
    expect(await consents.get('usr_a', 'c104')).not.toBeNull();
  });

  it('GET /auth/consents lists the signed-in user’s consents, DELETE forgets one', async () => {
    const s = await startTestService({});
    try {
      const { access_token } = await s.login();
      const auth = { authorization: `Bearer ${access_token}` };
      const me = await (await fetch(`${s.url}/auth/me`, { headers: auth })).json();
      const consents = storeConsents(s.server.service.store);
      await consents.put(me.sub, 'default', ['profile'], 5000);
      await consents.put('usr_someone_else', 'default', ['profile'], 5000);
      const listed = await (await fetch(`${s.url}/auth/consents`, { headers: auth })).json();
      expect(listed.consents).toEqual([{ client_id: 'default', scope: 'profile', at: 5000 }]);
      const removed = await fetch(`${s.url}/auth/consents/default`, { method: 'DELETE', headers: auth });
      expect(removed.status).toBeLessThan(300);
      expect(await consents.list(me.sub)).toEqual([]);
      expect(await consents.list('usr_someone_else')).toHaveLength(1);
    } finally {
      await s.stop();
    }
  });
});

describe('claims', () => {
  it('preferred_username with the profile scope only', async () => {
    const store = memoryStore();
    const user = await users.add(store, 'alice', 'alice password 1');
    const claims = serviceClaims(store);
    expect(await claims(user.id, ['openid', 'profile'])).toEqual({ preferred_username: 'alice' });
    expect(await claims(user.id, ['openid'])).toEqual({});
  });
});
