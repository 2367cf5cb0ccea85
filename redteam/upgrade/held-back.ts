/**
 * Attempts while DPoP is held back (the handler's `dpop` option false, as on an instance beside one
 * with BATON_DPOP=off), with a session bound while it was on (another instance turned it on first):
 * a thief with the copied refresh token and access token but not the key. Expected: the bound
 * refresh token without a proof, with its `rtd_` prefix cut to `rt_`, with a proof by the thief's
 * key: all invalid_grant, nothing rotated; the bound access token as Bearer: 401; the owner's
 * refresh with its proof: 200, still DPoP. An unbound token dressed as bound (`rt_` → `rtd_`)
 * with a thief's proof: refused.
 */
import { randomBytes } from 'node:crypto';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { dpopKey, dpopProof } from '../../test/support/dpop.ts';
import type { DpopKey } from '../../test/support/dpop.ts';

const ISSUER = 'https://auth.test';
const TOKEN = `${ISSUER}/oauth/token`;
const LOGIN = `${ISSUER}/auth/login`;
let on = true;
const baton = createBaton({ issuer: ISSUER, keys: [generateKey('ES256', 'es')], refreshTokenSecret: randomBytes(32), store: memoryStore() });
const events: string[] = [];
baton.on('*', (e) => events.push(e.type));
const handler = createAuthHandler({
  baton,
  dpop: () => on,
  authenticate: async (u, p) => (p === 'pw' ? { userId: `id-${u}` } : null),
  clients: staticClients([{ id: 'default' }]),
});
const post = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  handler(
    new Request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    }),
    { ip: '203.0.113.9' },
  );
let nonce: string | undefined;
const withProof = async (key: DpopKey, url: string, fields: Record<string, string>) => {
  let res = await post(url, fields, { dpop: await dpopProof(key, 'POST', url, nonce === undefined ? {} : { nonce }) });
  if (res.status === 400 && res.headers.get('dpop-nonce') !== null) {
    nonce = res.headers.get('dpop-nonce') as string;
    res = await post(url, fields, { dpop: await dpopProof(key, 'POST', url, { nonce }) });
  }
  nonce = res.headers.get('dpop-nonce') ?? nonce;
  return res;
};
const show = async (what: string, res: Response) => console.info(`${what}: ${res.status} ${(await res.text()).slice(0, 150)}`);

const owner = await dpopKey();
const thief = await dpopKey();
const bound = (await (await withProof(owner, LOGIN, { username: 'alice', password: 'pw' })).json()) as {
  refresh_token: string;
  access_token: string;
  token_type: string;
};
console.info('bound while on:', bound.token_type, bound.refresh_token.slice(0, 4));
on = false; // held back from here
events.length = 0;
await show('held back: bound refresh token, no proof', await post(TOKEN, { grant_type: 'refresh_token', refresh_token: bound.refresh_token }));
await show(
  'held back: rtd_ cut to rt_, no proof',
  await post(TOKEN, { grant_type: 'refresh_token', refresh_token: bound.refresh_token.replace(/^rtd_/, 'rt_') }),
);
await show(
  'held back: rtd_ cut to rt_, a garbage DPoP header',
  await post(TOKEN, { grant_type: 'refresh_token', refresh_token: bound.refresh_token.replace(/^rtd_/, 'rt_') }, { dpop: 'x' }),
);
await show("held back: bound refresh token, thief's proof", await withProof(thief, TOKEN, { grant_type: 'refresh_token', refresh_token: bound.refresh_token }));
await show(
  'held back: bound access token as Bearer at /auth/me',
  await handler(new Request(`${ISSUER}/auth/me`, { headers: { authorization: `Bearer ${bound.access_token}` } }), {}),
);
await show(
  'held back: bound access token as DPoP without a proof',
  await handler(new Request(`${ISSUER}/auth/me`, { headers: { authorization: `DPoP ${bound.access_token}` } }), {}),
);
console.info("events after the thief's attempts:", JSON.stringify(events));
const ok = await withProof(owner, TOKEN, { grant_type: 'refresh_token', refresh_token: bound.refresh_token });
const okBody = (await ok.json()) as { token_type: string; refresh_token: string };
console.info('held back: owner refreshes with its proof:', ok.status, okBody.token_type);
// An unbound session (logged in while held back), its token dressed as bound.
const plain = (await (await post(LOGIN, { username: 'bob', password: 'pw' })).json()) as { refresh_token: string; token_type: string };
console.info('held back login:', plain.token_type, plain.refresh_token.slice(0, 3));
await show(
  "held back: unbound rt_ dressed as rtd_, thief's proof",
  await withProof(thief, TOKEN, { grant_type: 'refresh_token', refresh_token: plain.refresh_token.replace(/^rt_/, 'rtd_') }),
);
on = true;
await show(
  "turned on: unbound session refreshed with the thief's proof (binds it? RFC 9449 §5.8 says an unbound token stays unbound)",
  await withProof(thief, TOKEN, { grant_type: 'refresh_token', refresh_token: plain.refresh_token }),
);
