/**
 * RFC 7591 dynamic client registration at `POST /oauth/register`: off unless configured, public
 * and confidential clients (the secret shown once, kept hashed), redirect URIs checked, nothing
 * first-party from outside, the §3.2.2 errors, and every cost bounded (clients kept, registrations
 * per address, the body).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatonConfigError } from 'baton-auth';
import { checkClientSecret, createAuthHandler, staticClients } from 'baton-auth/http';
import type { ClientRecord, ClientRegistry, RegistrationOptions } from 'baton-auth/http';
import { ISSUER, makeBaton } from '../support/baton.ts';
import { keepingClients } from '../support/authz.ts';

/** A registry in memory that keeps registrations, as a store-backed one does (the cap checked and taken in one step). */
const keeping = () => keepingClients(staticClients([{ id: 'default' }]));

function setup(registration: RegistrationOptions | null = { maxClients: 100 }) {
  const { baton } = makeBaton();
  const clients = keeping();
  const handler = createAuthHandler({
    baton,
    authenticate: async () => null,
    clients,
    ...(registration ? { authorization: { registration } } : {}),
  });
  const register = (body: unknown, o: { ip?: string; headers?: Record<string, string>; raw?: string } = {}) =>
    handler(
      new Request(`${ISSUER}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...o.headers },
        body: o.raw ?? JSON.stringify(body),
      }),
      { ip: o.ip ?? '203.0.113.9' },
    );
  const metadata = async () => (await handler(new Request(`${ISSUER}/.well-known/oauth-authorization-server`))).json();
  return { register, metadata, clients };
}

const WEB = { redirect_uris: ['https://notes.example/cb'], token_endpoint_auth_method: 'none', client_name: 'Notes' };

describe('on and off', () => {
  it('is off by default: no endpoint, nothing in the metadata', async () => {
    const { register, metadata } = setup(null);
    expect((await register(WEB)).status).toBe(404);
    expect(await metadata()).not.toHaveProperty('registration_endpoint');
  });

  it('on: the metadata names the endpoint (RFC 8414 §2)', async () => {
    expect(await setup().metadata()).toMatchObject({ registration_endpoint: `${ISSUER}/oauth/register` });
  });

  it('needs a registry that keeps clients and a sane cap', () => {
    const { baton } = makeBaton();
    const make = (registration: RegistrationOptions, clients: ClientRegistry = keeping()) =>
      createAuthHandler({ baton, authenticate: async () => null, clients, authorization: { registration } });
    expect(() => make({ maxClients: 10 }, staticClients([{ id: 'web' }]))).toThrow(/keeps registered clients/);
    expect(() => make({ maxClients: 0 })).toThrow(BatonConfigError);
    expect(() => make({ maxClients: 10, perAddress: { max: 0, windowMs: 1000 } })).toThrow(/perAddress/);
  });
});

describe('registering', () => {
  it('a public client: 201, its metadata back, no secret; kept public and third-party', async () => {
    const { register, clients } = setup();
    const res = await register(WEB);
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = await res.json();
    expect(body).toMatchObject({ ...WEB, grant_types: ['authorization_code'], response_types: ['code'] });
    expect(body).not.toHaveProperty('client_secret');
    expect(typeof body.client_id_issued_at).toBe('number');
    expect(clients.kept.get(body.client_id)).toEqual({
      id: body.client_id,
      type: 'public',
      firstParty: false,
      redirectUris: WEB.redirect_uris,
      name: 'Notes',
    });
  });

  it('a confidential client (the RFC default method): the secret once, kept only as a hash', async () => {
    const { register, clients } = setup();
    for (const method of [undefined, 'client_secret_basic', 'client_secret_post']) {
      const body = await (await register({ redirect_uris: ['https://srv.example/cb'], token_endpoint_auth_method: method })).json();
      expect(body).toMatchObject({ token_endpoint_auth_method: method ?? 'client_secret_basic', client_secret_expires_at: 0 });
      const kept = clients.kept.get(body.client_id) as ClientRecord;
      expect(kept.type).toBe('confidential');
      expect(JSON.stringify(kept)).not.toContain(body.client_secret);
      expect(checkClientSecret(body.client_secret, kept.secretHash)).toBe(true);
    }
  });

  it('no first-party flag, introspection or extra grant from outside', async () => {
    const { register, clients } = setup();
    const body = await (await register({ ...WEB, firstParty: true, first_party: true, introspect: true, requirePar: false })).json();
    const kept = clients.kept.get(body.client_id) as ClientRecord;
    expect(kept.firstParty).toBe(false);
    expect(kept).not.toHaveProperty('introspect');
    expect(body).not.toHaveProperty('firstParty');
    const cc = await register({ ...WEB, grant_types: ['client_credentials'] });
    expect(await cc.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });
});

describe('refusals (RFC 7591 §3.2.2)', () => {
  const redirects: [string, unknown][] = [
    ['missing', undefined],
    ['empty', []],
    ['not a list', 'https://notes.example/cb'],
    ['plain http elsewhere', ['http://notes.example/cb']],
    ['javascript:', ['javascript:alert(1)']],
    ['a fragment', ['https://notes.example/cb#x']],
    ['userinfo', ['https://user@notes.example/cb']],
    ['relative', ['/cb']],
    ['too many', Array.from({ length: 21 }, (_, i) => `https://notes.example/${i}`)],
  ];
  it.each(redirects)('redirect_uris %s → invalid_redirect_uri', async (_, redirect_uris) => {
    const { register, clients } = setup();
    const res = await register({ ...WEB, redirect_uris });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_redirect_uri' });
    expect(clients.kept.size).toBe(0);
  });

  const metadata: [string, Record<string, unknown>][] = [
    ['private_key_jwt', { token_endpoint_auth_method: 'private_key_jwt' }],
    ['the token response type', { response_types: ['token'] }],
    ['the password grant', { grant_types: ['password'] }],
    ['no grant at all', { grant_types: [] }],
    ['grant_types not a list', { grant_types: 'authorization_code' }],
    ['a long client_name', { client_name: 'n'.repeat(101) }],
    ['a client_name that is not a string', { client_name: 7 }],
    ['a scope with a quote', { scope: 'profile "x' }],
  ];
  it.each(metadata)('%s → invalid_client_metadata', async (_, extra) => {
    const { register, clients } = setup();
    const res = await register({ ...WEB, ...extra });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_client_metadata' });
    expect(clients.kept.size).toBe(0);
  });

  it('a body that is not a JSON object, or not JSON at all', async () => {
    const { register } = setup();
    expect(await (await register(null, { raw: '[1]' })).json()).toMatchObject({ error: 'invalid_client_metadata' });
    expect(await (await register(null, { raw: '{"redirect_uris":' })).json()).toMatchObject({ error: 'invalid_client_metadata' });
    const form = await register(null, { raw: 'redirect_uris=https://x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form.status).toBe(400);
    expect(await form.json()).toMatchObject({ error: 'invalid_request' });
  });
});

describe('bounds', () => {
  it('at most maxClients are kept, also when registrations race', async () => {
    const { register, clients } = setup({ maxClients: 3, perAddress: { max: 100, windowMs: 60_000 } });
    const answers = await Promise.all(Array.from({ length: 10 }, () => register(WEB)));
    expect(answers.filter((r) => r.status === 201)).toHaveLength(3);
    expect(clients.kept.size).toBe(3);
    const refused = answers.find((r) => r.status === 400) as Response;
    expect(await refused.json()).toMatchObject({ error: 'invalid_client_metadata', error_description: expect.stringMatching(/no more registrations/) });
  });

  it('registrations per address are limited (an IPv6 /64 is one address), failed ones counted too', async () => {
    const { register } = setup({ maxClients: 100, perAddress: { max: 2, windowMs: 60_000 } });
    expect((await register({ redirect_uris: [] })).status).toBe(400); // counted
    expect((await register(WEB)).status).toBe(201);
    const third = await register(WEB);
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await register(WEB, { ip: '198.51.100.1' })).status).toBe(201);
    expect((await register(WEB, { ip: '2001:db8::1' })).status).toBe(201);
    expect((await register(WEB, { ip: '2001:db8::2' })).status).toBe(201);
    expect((await register(WEB, { ip: '2001:db8::3' })).status).toBe(429);
  });

  it('known limit: one holder of many networks (many IPv6 /48s) fills the cap, and then no one registers (SECURITY.md)', async () => {
    const { register, clients } = setup({ maxClients: 100, perAddress: { max: 10, windowMs: 3_600_000 } });
    for (let net = 0; net < 10; net++) {
      for (let i = 0; i < 10; i++) expect((await register(WEB, { ip: `2001:db8:${(net + 0x70).toString(16)}::${i + 1}` })).status).toBe(201);
    }
    expect(clients.kept.size).toBe(100);
    const latecomer = await register(WEB, { ip: '198.51.100.77' });
    expect(latecomer.status).toBe(400);
    expect(await latecomer.json()).toMatchObject({ error: 'invalid_client_metadata' });
  });

  it('a body past the handler bound is 413, and a cross-site page is refused before anything', async () => {
    const { register, clients } = setup();
    expect((await register({ ...WEB, client_uri: 'x'.repeat(20_000) })).status).toBe(413);
    expect((await register(WEB, { headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect(clients.kept.size).toBe(0);
  });
});

describe('law: nothing in the body makes a client first-party or widens what it may do', () => {
  it('holds for any extra members', async () => {
    const { register, clients } = setup({ maxClients: 100_000, perAddress: { max: 100_000, windowMs: 60_000 } });
    const names = fc.constantFrom(
      'firstParty',
      'first_party',
      'introspect',
      'grantTypes',
      'requirePar',
      'dpop',
      'secretHash',
      'type',
      'id',
      'scopes',
      'resources',
      'client_id',
    );
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.oneof(names, fc.string({ maxLength: 12 })), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }), async (extra) => {
        const res = await register({ ...extra, ...WEB });
        expect(res.status).toBe(201);
        const body = await res.json();
        const kept = clients.kept.get(body.client_id) as ClientRecord;
        expect(kept.id).toMatch(/^dyn_/);
        expect(kept).toEqual({ id: body.client_id, type: 'public', firstParty: false, redirectUris: WEB.redirect_uris, name: 'Notes' });
      }),
      { numRuns: 200 },
    );
  });
});
