/**
 * Red-team regression (#21, finding 17; failed before): `remoteIssuer` dropped a revocation that
 * arrived while its own clock was ahead (`expiresAt <= now()`), so after a forward step of the
 * resource server's wall clock, undone later, a logged-out access token was accepted again until
 * it expired. Here: a Baton service on a real socket, a resource server following its feed with a
 * clock an hour ahead while the user logs out, then back: the token must stay refused.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton } from 'baton-auth';
import { toNodeListener } from 'baton-auth/adapters/node';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { remoteIssuer } from 'baton-auth/remote';
import { memoryStore } from 'baton-auth/stores/memory';

const SECRET = 'resource-server-secret-of-32-characters';
const HOUR = 3_600_000;
let server: Server;
let baton: Baton;
let issuer = '';

beforeAll(async () => {
  server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  baton = createBaton({ issuer, keys: [generateKey('ES256', 'es')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
  const handler = createAuthHandler({ baton, authenticate: async () => null, clients: staticClients([{ id: 'rs', secret: SECRET, introspect: true }]) });
  server.on('request', toNodeListener(handler, { origin: issuer }));
});

afterAll(async () => {
  baton.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'accepted',
    (e: { code?: string }) => e.code ?? String(e),
  );

it("a revocation that arrives while the resource server's clock is an hour ahead still refuses the token once the clock is back", async () => {
  let step = 0;
  const heard: string[] = [];
  let told: (() => void) | undefined;
  const rs = remoteIssuer({
    issuer,
    audience: issuer,
    introspection: { clientId: 'rs', clientSecret: SECRET },
    now: () => Date.now() + step,
    onRevocation: (event) => {
      heard.push(event.kind);
      told?.();
    },
  });
  try {
    const pair = await baton.login('ada');
    expect(await outcome(rs.verify(pair.access_token))).toBe('accepted'); // the feed followed
    step = HOUR; // the resource server's wall clock steps forward
    // Told of the revocation; the code before this fix dropped it unheard (the wait then ends on its own).
    const arrived = new Promise<void>((r) => {
      told = r;
      setTimeout(r, 5000).unref();
    });
    await baton.revoke(pair.refresh_token); // the user logs out meanwhile
    await arrived;
    expect.soft(heard).toContain('session');
    expect(await outcome(baton.verify(pair.access_token))).toBe('ERR_SESSION_REVOKED');
    step = 0; // corrected
    expect(await outcome(rs.verify(pair.access_token))).toBe('ERR_SESSION_REVOKED');
  } finally {
    rs.close();
  }
});
