/**
 * Issue #25: the hostile `redirect_uri` corpus (./redirect-corpus.ts) against the live
 * authorization endpoint, the handler called with `Request`s. For a redirect URI that is not
 * registered the endpoint must answer with an error page, never a redirect (RFC 6749 §4.1.2.1,
 * RFC 9700 §4.11.1: an open redirector otherwise) — for a request that would succeed, for one
 * whose only other fault would be redirected back (an unsupported `response_type`), by GET and by
 * POST. The controls show the same requests with a registered URI do redirect, so a missing
 * `Location` means the value was refused, not that nothing ever redirects. Nothing the attacker
 * sent reaches the log.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler, staticClients } from 'baton-auth/http';
import type { StaticClient } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { REGISTERED, hostileRedirectUris, show } from './redirect-corpus.ts';

const ISSUER = 'https://auth.test';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'; // RFC 7636 Appendix B
const logged: string[] = [];
const capture = (obj: object, msg?: string) => logged.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
const handler = createAuthHandler({
  baton: createBaton({ issuer: ISSUER, keys: [generateKey('EdDSA', 'ed')], refreshTokenSecret: randomBytes(32), store: memoryStore() }),
  authenticate: async () => null,
  clients: staticClients([{ id: 'app', redirectUris: [...REGISTERED], firstParty: true } as StaticClient]),
  logger: { info: capture, warn: capture, error: capture },
});

const params = (redirectUri: string, responseType = 'code') =>
  new URLSearchParams({
    response_type: responseType,
    client_id: 'app',
    redirect_uri: redirectUri,
    code_challenge: CHALLENGE,
    code_challenge_method: 'S256',
    state: 'st4te',
    scope: 'openid',
  });
const get = (redirectUri: string, responseType?: string) =>
  handler(new Request(`${ISSUER}/oauth/authorize?${params(redirectUri, responseType)}`), { ip: '203.0.113.9' });
const post = (redirectUri: string, responseType?: string) =>
  handler(
    new Request(`${ISSUER}/oauth/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: params(redirectUri, responseType).toString(),
    }),
    { ip: '203.0.113.9' },
  );

// Fail at once, with a sentence, when the endpoint is not there yet (H1a, branch authorize).
const probe = await get(REGISTERED[0], 'token');
if (probe.status === 404) throw new Error('GET /oauth/authorize answers 404: the authorization endpoint (authz/authorize.ts, branch authorize) is missing');

describe('the hostile redirect_uri corpus against the live authorization endpoint', () => {
  const corpus = hostileRedirectUris();

  it('controls: a registered URI (and the loopback one on any port) gets its error redirected back, with state and iss', async () => {
    for (const uri of [...REGISTERED, 'http://127.0.0.1:51234/cb']) {
      for (const send of [get, post]) {
        const res = await send(uri, 'token');
        expect(res.status, uri).toBe(303);
        const location = res.headers.get('location') as string;
        expect(location.startsWith(`${uri}?`), location).toBe(true);
        expect(Object.fromEntries(new URL(location).searchParams)).toMatchObject({ error: 'unsupported_response_type', state: 'st4te', iss: ISSUER });
      }
    }
  });

  it('never answers a hostile value with a Location: an error page (4xx) each time, GET and POST, valid request or not', async () => {
    const redirected: string[] = [];
    let pages = 0;
    for (const uri of corpus) {
      for (const [how, res] of [
        ['GET', await get(uri)],
        ['GET response_type=token', await get(uri, 'token')],
        ['POST', await post(uri)],
      ] as const) {
        const body = await res.text();
        if (res.headers.has('location') || res.status < 400 || res.status >= 500)
          redirected.push(`${how} ${show(uri)}: ${res.status} ${res.headers.get('location') ?? ''}`);
        else if (/<script>alert|javascript:alert/i.test(body)) redirected.push(`${how} ${show(uri)}: reflected into the page`);
        else pages++;
      }
    }
    console.info(
      `redirect corpus (live endpoint): ${corpus.length} hostile redirect_uri values, ${pages} requests answered with an error page, ${redirected.length} otherwise`,
    );
    expect(redirected).toEqual([]);
  }, 120_000);

  it('logs none of the values it refused (the request is never logged with its query)', () => {
    const text = logged.join('\n');
    const leaked = corpus.filter((v) => v.trim().length >= 10 && text.includes(v));
    console.info(`redirect corpus (live endpoint): ${logged.length} log lines written, ${leaked.length} with a refused value`);
    expect(leaked.map(show)).toEqual([]);
  });
});
