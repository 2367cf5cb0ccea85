/**
 * What every runtime of the matrix runs (Node, Bun, Deno, workerd): the resource-server path
 * (`remoteIssuer`, and `requireAuth` through Hono's Web `Request`) and the client SDK, against a
 * real Baton service the test started on Node. Written for the Web platform only: no `node:`
 * import here, no `process`, no `Buffer` — what the library needs beyond that is the finding.
 * Each step prints one JSON line; the test compares them with what Node prints.
 */
import { Hono } from 'hono';
import { requireAuth } from 'baton-auth/adapters/hono';
import type { BatonVariables } from 'baton-auth/adapters/hono';
import { remoteIssuer } from 'baton-auth/remote';
import { createTokenClient } from 'baton-auth-client';
import type { TokenClient } from 'baton-auth-client';

/** What the test tells the probe. */
export interface ProbeConfig {
  issuer: string;
  /** The API's resource URI: the Hono app answers it in-process. */
  api: string;
  username: string;
  password: string;
  /** The `resource-server` client's secret (introspection and the revocation feed). */
  introspectionSecret: string;
}

export type Line = Record<string, unknown> & { step: string };

const codeOf = (err: unknown): string => ((err as { code?: unknown }).code as string) ?? `no code: ${String(err)}`;
const claimsOf = (jwt: string): Record<string, unknown> =>
  JSON.parse(atob((jwt.split('.')[1] as string).replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, unknown>;

/** The same token with its payload changed (a wider scope) and the signature kept. */
function tamper(jwt: string): string {
  const [h, , s] = jwt.split('.') as [string, string, string];
  const widened = btoa(JSON.stringify({ ...claimsOf(jwt), scope: 'orders:read admin' }))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  return `${h}.${widened}.${s}`;
}

async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; !done() && Date.now() < end;) await new Promise((r) => setTimeout(r, 20));
  return done();
}

/** A Bearer access token for the API, by a plain login (no DPoP proof). */
async function bearerLogin(c: ProbeConfig): Promise<string> {
  const res = await fetch(`${c.issuer}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: c.username, password: c.password, resource: c.api, scope: 'orders:read' }),
  });
  const body = (await res.json()) as { access_token?: string; error_description?: string };
  if (body.access_token === undefined) throw new Error(`login: ${res.status} ${body.error_description}`);
  return body.access_token;
}

/** Runs `run` as one step: its result, or the code of what it threw, as one line. */
type Step = (name: string, run: () => Promise<Record<string, unknown>>) => Promise<void>;

/** The resource server: `remoteIssuer` following the issuer's feed, one with a clock an hour ahead, and a Hono API behind `requireAuth`. */
function resourceServer(c: ProbeConfig) {
  const revoked: string[] = [];
  const feed: boolean[] = [];
  const fetched: string[] = [];
  const verifier = remoteIssuer({
    issuer: c.issuer,
    audience: c.api,
    introspection: { clientId: 'resource-server', clientSecret: c.introspectionSecret },
    fetch: (input, init) => (fetched.push(new URL(input instanceof Request ? input.url : input).pathname), fetch(input, init)),
    onRevocation: (e) => revoked.push(`${e.kind}:${e.id}`),
    onFeedState: (up) => feed.push(up),
  });
  // A verifier whose clock is an hour ahead: a fresh token is expired to it.
  const later = remoteIssuer({ issuer: c.issuer, audience: c.api, revocations: false, now: () => Date.now() + 3_600_000 });
  const app = new Hono<{ Variables: BatonVariables }>();
  app.get('/orders', requireAuth(verifier, { audience: c.api, scope: 'orders:read' }), (ctx) => ctx.json({ sub: ctx.get('auth').sub }));
  return { verifier, later, app, revoked, feed, fetched };
}
type ResourceServer = ReturnType<typeof resourceServer>;

/** (1) A fresh token verified through the JWKS; (2) a tampered and an expired one refused, directly and through `requireAuth`. */
async function resourceServerSteps(c: ProbeConfig, rs: ResourceServer, step: Step): Promise<void> {
  let bearer = '';
  await step('verify', async () => {
    bearer = await bearerLogin(c);
    const claims = await rs.verifier.verify(bearer);
    return { sub: claims.sub, aud: claims.aud, scope: claims.scope, feedConnected: rs.feed.includes(true), fetched: rs.fetched };
  });
  await step('tampered', () => rs.verifier.verify(tamper(bearer)).then(() => ({ threw: 'nothing' })));
  await step('expired', () => rs.later.verify(bearer).then(() => ({ threw: 'nothing' })));
  await step('guard', async () => {
    const ok = await rs.app.request(`${c.api}/orders`, { headers: { authorization: `Bearer ${bearer}` } });
    const forged = await rs.app.request(`${c.api}/orders`, { headers: { authorization: `Bearer ${tamper(bearer)}` } });
    return {
      status: ok.status,
      body: await ok.json(),
      forged: forged.status,
      challenge: forged.headers.get('www-authenticate')?.match(/error="([a-z_]+)"/)?.[1],
    };
  });
}

/** (3) The client SDK: sign-in, a call to the API (DPoP-bound, checked by `requireAuth`), a rotation, a logout the feed brings back. */
async function clientSteps(c: ProbeConfig, rs: ResourceServer, client: TokenClient, step: Step): Promise<void> {
  await step('signIn', async () => {
    const t = await client.signIn(`${c.issuer}/auth/login`, { username: c.username, password: c.password, resource: c.api, scope: 'orders:read' });
    return { tokenType: t.tokenType ?? 'Bearer', refreshToken: typeof t.refreshToken, session: typeof t.sessionId };
  });
  await step('call', async () => {
    const res = await client.fetch(`${c.api}/orders`);
    return { status: res.status, body: await res.json() };
  });
  let sid = '';
  await step('refresh', async () => {
    const before = await client.getAccessToken();
    sid = String(claimsOf(before).sid);
    const t = await client.refresh(before);
    const res = await client.fetch(`${c.api}/orders`);
    return { rotated: t.accessToken !== before && claimsOf(t.accessToken).sid === sid, status: res.status };
  });
  await step('logout', async () => {
    const last = await client.getAccessToken();
    await client.logout();
    const heard = await until(() => rs.revoked.includes(`session:${sid}`), 5000);
    // The token was verified (it is in the cache): the feed's revocation refuses it from there too.
    const code = await rs.verifier.verify(last).then(() => 'accepted', codeOf);
    const signedOut = await client.getAccessToken().then(() => 'still signed in', codeOf);
    return { heard, code, signedOut };
  });
}

export async function probe(c: ProbeConfig, print: (line: Line) => void): Promise<void> {
  const step: Step = async (name, run) => {
    try {
      print({ step: name, ...(await run()) });
    } catch (err) {
      print({ step: name, threw: codeOf(err), message: (err as Error).message });
    }
  };
  const rs = resourceServer(c);
  // The client's requests to the API go to the Hono app in this runtime; the rest to the network.
  const routed: typeof fetch = (input, init) => {
    const request = new Request(input, init);
    return request.url.startsWith(`${c.api}/`) ? Promise.resolve(rs.app.fetch(request)) : fetch(request);
  };
  const client = createTokenClient({ issuer: c.issuer, clientId: 'default', allowedOrigins: [c.api], fetch: routed });
  try {
    await resourceServerSteps(c, rs, step);
    await clientSteps(c, rs, client, step);
  } finally {
    client.close();
    rs.verifier.close();
    rs.later.close();
  }
}
