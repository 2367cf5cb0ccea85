/**
 * Red team: open registration's cap taken by one subscriber. Registrations were counted per IPv6
 * /64, but a home connection is given a /56 (256 /64s) and a free tunnel broker a /48 (65,536):
 * one subscriber registered 10 clients an hour from each /64 and filled `maxClients` (1,000 by
 * default, kept forever) within minutes, after which nobody could register. Registrations are now
 * counted per /48 of IPv6 (a site's whole allocation); IPv4 stays per address.
 */
import { describe, expect, it } from 'vitest';
import { createAuthHandler } from 'baton-auth/http';
import type { ClientRecord, ClientRegistry } from 'baton-auth/http';
import { ISSUER, makeBaton } from '../support/baton.ts';

function setup() {
  const kept: ClientRecord[] = [];
  const clients: ClientRegistry = {
    get: async () => null,
    register: async (r, { maxClients }) => (kept.length >= maxClients ? false : (kept.push(r), true)),
  };
  const handler = createAuthHandler({
    baton: makeBaton().baton,
    authenticate: async () => null,
    clients,
    authorization: { registration: { maxClients: 1000 } },
  });
  const register = (ip: string) =>
    handler(
      new Request(`${ISSUER}/oauth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://notes.example/cb'], token_endpoint_auth_method: 'none' }),
      }),
      { ip },
    );
  return { register, kept };
}

describe('open registration from one IPv6 allocation', () => {
  it('256 /64s of one /56 (a home connection) register 10 clients an hour in all, not 2,560', async () => {
    const { register, kept } = setup();
    const statuses: number[] = [];
    for (let net = 0; net < 256; net++) for (let i = 0; i < 2; i++) statuses.push((await register(`2001:db8:0:${net.toString(16)}::${i + 1}`)).status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(kept).toHaveLength(10);
  });

  it('another /48 and an IPv4 address keep their own budget; an IPv4-mapped address counts as the IPv4 one', async () => {
    const { register } = setup();
    for (let i = 0; i < 10; i++) expect((await register(`2001:db8:0:${i}::1`)).status).toBe(201);
    expect((await register('2001:db8:0:ff::1')).status).toBe(429);
    expect((await register('2001:db8:1::1')).status).toBe(201);
    for (let i = 0; i < 10; i++) expect((await register('198.51.100.4')).status).toBe(201);
    expect((await register('::ffff:198.51.100.4')).status).toBe(429);
  });
});
