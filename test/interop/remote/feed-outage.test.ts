/**
 * A feed that is down: the outage is told to `onFeedState` with why; tokens keep being accepted
 * by default, and are refused with a 503-class error once `maxFeedOutageMs` has passed.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';
import { API, mockIssuer } from './mock-issuer.ts';

let issuer: Awaited<ReturnType<typeof mockIssuer>>;
beforeAll(async () => {
  issuer = await mockIssuer({ feed: (_req, res) => void res.writeHead(503).end() });
});
afterAll(() => issuer.close());

it('reports the outage, accepts tokens by default, and refuses them past maxFeedOutageMs', async () => {
  const states: string[] = [];
  const open = remoteIssuer({
    issuer: issuer.url,
    audience: API,
    introspection: { clientId: 'rs', clientSecret: 's' },
    onFeedState: (up, err) => states.push(`${up}:${err?.message ?? ''}`),
  });
  const strict = remoteIssuer({ issuer: issuer.url, audience: API, introspection: { clientId: 'rs', clientSecret: 's' }, maxFeedOutageMs: 0 });
  try {
    expect((await open.verify(await issuer.sign({ jti: 'a' }))).sub).toBe('ada');
    expect(states[0]).toBe('false:the revocation feed answered 503');
    await new Promise((r) => setTimeout(r, 5));
    await expect(strict.verify(await issuer.sign({ jti: 'b' }))).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
  } finally {
    open.close();
    strict.close();
  }
});
