/**
 * Hono: the same routes as the Express example. Run: `npm run example:hono` (port 3003).
 */
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono } from 'hono';
import type { Baton } from 'baton-auth';
import type { AuthHandler } from 'baton-auth/http';
import { sessionCookies } from 'baton-auth/http';
import { autoRefresh, endpoints, requireAuth } from 'baton-auth/adapters/hono';
import type { BatonVariables } from 'baton-auth/adapters/hono';
import { checkDemo, demo, DEMO_API } from './demo.ts';

export function createApp(baton: Baton, handler: AuthHandler, cookie = { secure: true }) {
  const app = new Hono<{ Variables: BatonVariables }>();
  app.use(endpoints(handler, { getConnInfo })); // the client's address, for login protection
  app.get('/api/profile', requireAuth(baton, { audience: DEMO_API, scope: 'profile' }), (c) => c.json({ user: c.get('auth').sub, session: c.get('auth').sid }));
  app.post('/api/transfer', requireAuth(baton, { audience: DEMO_API, oneTime: true, scope: 'transfer' }), (c) => c.json({ done: true, by: c.get('auth').sub }));
  app.get('/api/admin', requireAuth(baton, { audience: DEMO_API, scope: 'admin' }), (c) => c.json({ secret: 42 }));
  app.post('/bff/login', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { username?: string; password?: string };
    if (!checkDemo(body.username, body.password)) return c.json({ error: 'invalid_grant' }, 401);
    const pair = await baton.login('user-demo', { scope: 'profile transfer', clientId: 'bff' });
    for (const v of sessionCookies(pair, cookie)) c.header('set-cookie', v, { append: true });
    return c.json({ ok: true });
  });
  app.get('/bff/profile', autoRefresh(baton, { ...cookie, clientId: 'bff' }), (c) => c.json({ user: c.get('auth').sub }));
  return app;
}

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 3003);
  const { baton, handler } = demo(`http://127.0.0.1:${port}`);
  serve({ fetch: createApp(baton, handler).fetch, port, hostname: '127.0.0.1' });
  console.info(`Hono example on http://127.0.0.1:${port} (user demo / demo-password)`);
}
