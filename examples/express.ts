/**
 * Express: the token endpoints, a protected `/api/profile`, a one-time `/api/transfer`, and a
 * backend-for-frontend `/bff/*` whose tokens live in HttpOnly cookies and refresh transparently.
 * Run: `npm run example:express` (port 3001).
 */
import express from 'express';
import type { Baton } from 'baton-auth';
import type { AuthHandler } from 'baton-auth/http';
import { sessionCookies } from 'baton-auth/http';
import { autoRefresh, endpoints, requireAuth } from 'baton-auth/adapters/express';
import { checkDemo, demo, DEMO_API } from './demo.ts';

export function createApp(baton: Baton, handler: AuthHandler, cookie = { secure: true }) {
  const app = express();
  app.use(endpoints(handler)); // before any body parser: the handler reads its own bodies
  app.get('/api/profile', requireAuth(baton, { audience: DEMO_API, scope: 'profile' }), (req, res) => {
    res.json({ user: req.auth.sub, session: req.auth.sid });
  });
  app.post('/api/transfer', requireAuth(baton, { audience: DEMO_API, oneTime: true, scope: 'transfer' }), (req, res) => {
    res.json({ done: true, by: req.auth.sub });
  });
  app.get('/api/admin', requireAuth(baton, { audience: DEMO_API, scope: 'admin' }), (_req, res) => res.json({ secret: 42 }));
  app.post('/bff/login', express.json(), async (req, res) => {
    if (!checkDemo(req.body?.username, req.body?.password)) return void res.status(401).json({ error: 'invalid_grant' });
    const pair = await baton.login('user-demo', { scope: 'profile transfer', clientId: 'bff' });
    for (const c of sessionCookies(pair, cookie)) res.append('Set-Cookie', c);
    res.json({ ok: true });
  });
  app.get('/bff/profile', autoRefresh(baton, { ...cookie, clientId: 'bff' }), (req, res) => res.json({ user: req.auth.sub }));
  return app;
}

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 3001);
  const { baton, handler } = demo(`http://127.0.0.1:${port}`);
  createApp(baton, handler).listen(port, '127.0.0.1', () => console.info(`Express example on http://127.0.0.1:${port} (user demo / demo-password)`));
}
