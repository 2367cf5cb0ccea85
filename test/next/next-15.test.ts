/**
 * Next.js 15.5 (`middleware.ts`): the same proxy with 15's `next/server` (the `next-15` alias of the
 * real package) in place of 16's — the new cookies on the response and on the forwarded request,
 * `Cache-Control: private, no-store` — with an in-process Baton.
 */
import { describe, expect, it, vi } from 'vitest';
import { NextRequest } from 'next-15/server.js';
import { makeBaton } from '../support/baton.ts';
import { header, jar } from './support.ts';

vi.mock('next/server.js', async () => await import('next-15/server.js'));

describe('the proxy on Next 15.5', () => {
  it('refreshes once and forwards the new cookies through 15’s request-header override', async () => {
    const { createBatonNext } = await import('baton-auth/next');
    const { baton, clock, events } = makeBaton({ accessTokenTtl: 60 });
    const next = createBatonNext({ baton, now: clock.now, cookies: { secure: false }, authenticate: async () => ({ userId: 'u1' }) });
    const { setCookies } = await next.core.signIn({ username: 'u', password: 'p' });
    clock.advance(61_000);
    const request = new NextRequest('http://localhost:3001/', { headers: { cookie: header(jar(setCookies)) } });
    const responses = await Promise.all(Array.from({ length: 10 }, () => next.proxy(request as never)));
    expect(events.filter((e) => e.type === 'refresh.rotated')).toHaveLength(1);
    for (const response of responses) {
      expect(response.headers.get('x-middleware-next')).toBe('1');
      expect(response.headers.get('x-middleware-override-headers')?.split(',')).toContain('cookie');
      const forwarded = response.headers.get('x-middleware-request-cookie') ?? '';
      expect(forwarded).toContain(`baton_at=${jar(response.headers.getSetCookie()).baton_at}`);
      expect(response.headers.get('cache-control')).toBe('private, no-store');
    }
    expect((await import('next/server.js')).NextResponse).toBe((await import('next-15/server.js')).NextResponse);
  });
});
