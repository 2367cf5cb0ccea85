/**
 * Red team, `baton-auth/ssr`: the cost of a junk refresh cookie. Each distinct one is a call to the
 * token service (its answer remembered, so a repeat is free); a refresh cookie longer than any
 * refresh token the library accepts from the service (4096 characters) cannot be one of ours, and is
 * refused here, without a call — cheap checks before expensive ones.
 */
import { describe, expect, it } from 'vitest';
import { createServerSession } from 'baton-auth/ssr';

describe('a refresh cookie that cannot be a refresh token', () => {
  it('longer than 4096 characters: signed out and cleared, no call to the service', async () => {
    let calls = 0;
    const fetcher: typeof fetch = async () => {
      calls++;
      return new Response(JSON.stringify({ error: 'invalid_grant' }), { status: 400, headers: { 'content-type': 'application/json' } });
    };
    const session = createServerSession({ issuer: 'http://127.0.0.1:9', clientId: 'web', fetch: fetcher });
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => session.refresh(`__Host-baton_rt=${String(i).padStart(5000, 'a')}`)));
    const fits = await session.refresh(`__Host-baton_rt=${'b'.repeat(4096)}`);
    session.close();
    expect(calls).toBe(1); // only the one that fits
    expect(fits.state.status).toBe('signed-out');
    for (const o of outcomes) {
      expect(o.state.status).toBe('signed-out');
      expect(o.setCookies.some((s) => s.startsWith('__Host-baton_rt=;'))).toBe(true);
    }
  });
});
