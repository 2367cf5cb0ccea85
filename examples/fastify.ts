/**
 * Fastify: the same routes as the Express example. Run: `npm run example:fastify` (port 3002).
 */
import Fastify from 'fastify';
import type { Baton } from 'baton-auth';
import type { AuthHandler } from 'baton-auth/http';
import { sessionCookies } from 'baton-auth/http';
import { autoRefresh, endpoints, requireAuth } from 'baton-auth/adapters/fastify';
import { checkDemo, demo, DEMO_API } from './demo.ts';

export async function createApp(baton: Baton, handler: AuthHandler, cookie = { secure: true }) {
  const app = Fastify();
  await app.register(endpoints(handler));
  app.get('/api/profile', { preHandler: requireAuth(baton, { audience: DEMO_API, scope: 'profile' }) }, async (request) => ({
    user: request.auth.sub,
    session: request.auth.sid,
  }));
  app.post('/api/transfer', { preHandler: requireAuth(baton, { audience: DEMO_API, oneTime: true, scope: 'transfer' }) }, async (request) => ({
    done: true,
    by: request.auth.sub,
  }));
  app.get('/api/admin', { preHandler: requireAuth(baton, { audience: DEMO_API, scope: 'admin' }) }, async () => ({ secret: 42 }));
  app.post('/bff/login', async (request, reply) => {
    const body = request.body as { username?: string; password?: string } | undefined;
    if (!checkDemo(body?.username, body?.password)) return reply.code(401).send({ error: 'invalid_grant' });
    const pair = await baton.login('user-demo', { scope: 'profile transfer', clientId: 'bff' });
    reply.header('set-cookie', sessionCookies(pair, cookie));
    return { ok: true };
  });
  app.get('/bff/profile', { preHandler: autoRefresh(baton, { ...cookie, clientId: 'bff' }) }, async (request) => ({ user: request.auth.sub }));
  return app;
}

if (import.meta.main) {
  const port = Number(process.env.PORT ?? 3002);
  const { baton, handler } = demo(`http://127.0.0.1:${port}`);
  const app = await createApp(baton, handler);
  await app.listen({ port, host: '127.0.0.1' });
  console.info(`Fastify example on http://127.0.0.1:${port} (user demo / demo-password)`);
}
