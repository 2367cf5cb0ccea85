/**
 * Traces (issue #26): the spans an app's OpenTelemetry SDK receives from the handler — a SERVER
 * span per request continuing the caller's trace, the refresh with its outcome, the store's calls
 * and the verifications that missed the cache as their children — for a login, a refresh, a
 * retry within the grace window, a reuse (the session revoked) and a revocation; 429s and 503s;
 * and none for a verification the cache answered.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { generateKey } from 'baton-auth';
import { memoryStore } from 'baton-auth/stores/memory';
import { sqliteStore } from 'baton-auth/stores/sqlite';
import { setup } from '../support/authz.ts';
import { childrenOf, only, recordSpans } from '../support/traces.ts';
import type { ReadableSpan } from '../support/traces.ts';

const { spans } = recordSpans();

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams(fields).toString(),
});
type Pair = { access_token: string; refresh_token: string; session_id: string };

async function loggedIn(s: ReturnType<typeof setup>): Promise<Pair> {
  const res = await s.call('/auth/login', json({ username: 'alice', password: 'correct horse' }));
  expect(res.status).toBe(200);
  return (await res.json()) as Pair;
}

const refresh = (s: ReturnType<typeof setup>, token: string) => s.call('/oauth/token', form({ grant_type: 'refresh_token', refresh_token: token }));

/** The request's SERVER span (the one span of that name), and every span of its trace. */
function request(name: string): { server: ReadableSpan; trace: ReadableSpan[] } {
  const server = only(spans(), name);
  return { server, trace: spans().filter((x) => x.spanContext().traceId === server.spanContext().traceId) };
}

describe('the spans of a request', () => {
  it('a login: a SERVER span by route, its store calls as CLIENT children, by the library tracer', async () => {
    const s = setup();
    await loggedIn(s);
    const { server, trace } = request('POST /auth/login');
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.parentSpanContext).toBeUndefined(); // no incoming trace: a root
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/auth/login',
      'http.response.status_code': 200,
      'url.scheme': 'https',
    });
    expect(server.attributes['error.type']).toBeUndefined();
    expect(server.status.code).toBe(SpanStatusCode.UNSET);
    const version = (JSON.parse(readFileSync(new URL('../../packages/baton-auth/package.json', import.meta.url), 'utf8')) as { version: string }).version;
    expect(server.instrumentationScope).toMatchObject({ name: 'baton-auth', version });
    const create = only(trace, 'createSession');
    expect(create.kind).toBe(SpanKind.CLIENT);
    expect(create.attributes).toEqual({ 'db.operation.name': 'createSession' }); // the memory store names no database
    // Every store call of the request is a child of its span.
    const calls = trace.filter((x) => x.kind === SpanKind.CLIENT);
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expect(call.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
  });

  it('a store that names its database: db.system.name', async () => {
    const s = setup({}, undefined, { store: sqliteStore({ path: ':memory:' }) });
    await loggedIn(s);
    expect(only(spans(), 'createSession').attributes).toEqual({ 'db.operation.name': 'createSession', 'db.system.name': 'sqlite' });
  });

  it("continues the caller's trace (W3C traceparent); a caller's trace sampled out records nothing below it", async () => {
    const s = setup();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const parent = '00f067aa0ba902b7';
    await s.call('/auth/login', json({ username: 'alice', password: 'correct horse' }, { traceparent: `00-${traceId}-${parent}-01` }));
    const { server, trace } = request('POST /auth/login');
    expect(server.spanContext().traceId).toBe(traceId);
    expect(server.parentSpanContext?.spanId).toBe(parent);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    expect(trace.length).toBe(spans().length); // the store's calls in the caller's trace too
    expect(trace.length).toBeGreaterThan(1);
    // Not sampled by the caller (flags 00): the SDK's parent-based sampler records none of it —
    // the store's calls included, which would otherwise start traces of their own.
    await s.call('/auth/login', json({ username: 'alice', password: 'correct horse' }, { traceparent: `00-${traceId}-${parent}-00` }));
    expect(spans().length).toBe(trace.length);
  });

  it('a refresh: its outcome, under the request, with the rotation as its child', async () => {
    const s = setup();
    const pair = await loggedIn(s);
    expect((await refresh(s, pair.refresh_token)).status).toBe(200);
    const { server, trace } = request('POST /oauth/token');
    expect(server.attributes).toMatchObject({ 'http.route': '/oauth/token', 'http.response.status_code': 200 });
    const span = only(trace, 'baton.refresh');
    expect(span.kind).toBe(SpanKind.INTERNAL);
    expect(span.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(span.attributes).toMatchObject({ 'baton.refresh.outcome': 'rotated', 'baton.session.id': pair.session_id, 'baton.client.id': 'default' });
    expect(childrenOf(trace, span).map((x) => x.name)).toContain('rotate');
    expect(only(trace, 'rotate').parentSpanContext?.spanId).toBe(span.spanContext().spanId);
  });

  it('a retry within the grace window: outcome grace', async () => {
    const s = setup();
    const pair = await loggedIn(s);
    await refresh(s, pair.refresh_token);
    expect((await refresh(s, pair.refresh_token)).status).toBe(200);
    expect(
      spans()
        .filter((x) => x.name === 'baton.refresh')
        .map((x) => x.attributes['baton.refresh.outcome']),
    ).toEqual(['rotated', 'grace']);
  });

  it('a reuse: outcome reused, the session revoked, the request refused with its code', async () => {
    const s = setup();
    const pair = await loggedIn(s);
    await refresh(s, pair.refresh_token);
    s.clock.advance(60_000); // past the grace window (10 s), the access token still valid
    const res = await refresh(s, pair.refresh_token);
    expect(res.status).toBe(400);
    const reuse = spans().filter((x) => x.name === 'baton.refresh')[1] as ReadableSpan;
    expect(reuse.attributes).toMatchObject({ 'baton.refresh.outcome': 'reused', 'error.type': 'ERR_REFRESH_REUSED', 'baton.session.id': pair.session_id });
    expect(reuse.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ERR_REFRESH_REUSED' });
    expect(reuse.events.map((e) => [e.name, e.attributes])).toEqual([['baton.session.revoked', { 'baton.session.end_reason': 'reused' }]]);
    const server = spans().filter((x) => x.name === 'POST /oauth/token')[1] as ReadableSpan;
    expect(server.attributes).toMatchObject({ 'http.response.status_code': 400, 'error.type': 'ERR_REFRESH_REUSED' });
    expect(server.status.code).toBe(SpanStatusCode.UNSET); // a 4xx is the client's: no ERROR status on a SERVER span
    // The session is revoked: its access token, never verified before (a cache miss), is refused.
    expect((await s.call('/auth/me', { headers: { authorization: `Bearer ${pair.access_token}` } })).status).toBe(401);
    const verify = only(spans(), 'baton.verify');
    expect(verify.attributes).toMatchObject({ 'baton.token.format': 'jws', 'error.type': 'ERR_SESSION_REVOKED' });
    expect(verify.parentSpanContext?.spanId).toBe(only(spans(), 'GET /auth/me').spanContext().spanId);
  });

  it('a revocation: the request and its store calls', async () => {
    const s = setup();
    const pair = await loggedIn(s);
    expect((await s.call('/oauth/revoke', form({ token: pair.refresh_token }))).status).toBe(200);
    const { server, trace } = request('POST /oauth/revoke');
    expect(server.attributes).toMatchObject({ 'http.route': '/oauth/revoke', 'http.response.status_code': 200 });
    const revoked = only(trace, 'revokeSession');
    expect(revoked.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(revoked.attributes['db.operation.name']).toBe('revokeSession');
    // A refresh of the revoked session: outcome revoked.
    expect((await refresh(s, pair.refresh_token)).status).toBe(400);
    expect(only(spans(), 'baton.refresh').attributes).toMatchObject({ 'baton.refresh.outcome': 'revoked', 'error.type': 'ERR_SESSION_ENDED' });
  });

  it('a verification answered by the cache starts no span; a miss starts one', async () => {
    const s = setup();
    const pair = await loggedIn(s);
    const me = () => s.call('/auth/me', { headers: { authorization: `Bearer ${pair.access_token}` } });
    expect((await me()).status).toBe(200);
    expect((await me()).status).toBe(200);
    expect(spans().filter((x) => x.name === 'GET /auth/me')).toHaveLength(2);
    const verify = only(spans(), 'baton.verify'); // the first request's
    expect(verify.attributes).toEqual({ 'baton.token.format': 'jws' });
    expect(verify.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('an opaque token: its verification a span whose child is the store lookup; a JWE: one span, then the cache', async () => {
    const s = setup({}, undefined, { tokenFormat: 'opaque' });
    const pair = await loggedIn(s);
    expect((await s.call('/auth/me', { headers: { authorization: `Bearer ${pair.access_token}` } })).status).toBe(200);
    const verify = only(spans(), 'baton.verify');
    expect(verify.attributes).toEqual({ 'baton.token.format': 'opaque' });
    expect(verify.parentSpanContext?.spanId).toBe(only(spans(), 'GET /auth/me').spanContext().spanId);
    expect(childrenOf(spans(), verify).map((x) => x.name)).toEqual(['findOpaqueToken']);
    const j = setup({}, undefined, { keys: [generateKey('HS256', 's'), generateKey('dir', 'e')], tokenFormat: 'jwe' });
    const jwe = await loggedIn(j);
    for (let i = 0; i < 2; i++) expect((await j.call('/auth/me', { headers: { authorization: `Bearer ${jwe.access_token}` } })).status).toBe(200);
    expect(
      spans()
        .filter((x) => x.name === 'baton.verify')
        .map((x) => x.attributes['baton.token.format']),
    ).toEqual(['opaque', 'jwe']);
  });

  it('a forged refresh token: outcome invalid, nothing asked of the store', async () => {
    const s = setup();
    const pair = await loggedIn(s);
    const forged = `${pair.refresh_token.slice(0, -4)}AAAA`;
    expect((await refresh(s, forged)).status).toBe(400);
    const span = only(spans(), 'baton.refresh');
    expect(span.attributes).toMatchObject({ 'baton.refresh.outcome': 'invalid', 'error.type': 'ERR_REFRESH_INVALID' });
    expect(childrenOf(spans(), span)).toEqual([]);
  });
});

describe('refusals', () => {
  it('a 429 from the login protection', async () => {
    const s = setup();
    let status = 0;
    for (let i = 0; i < 12 && status !== 429; i++) status = (await s.call('/auth/login', json({ username: 'alice', password: 'wrong' }))).status;
    expect(status).toBe(429);
    const last = spans()
      .filter((x) => x.name === 'POST /auth/login')
      .at(-1) as ReadableSpan;
    expect(last.attributes).toMatchObject({ 'http.response.status_code': 429, 'error.type': 'ERR_RATE_LIMITED' });
    const failed = spans().find((x) => x.attributes['http.response.status_code'] === 401) as ReadableSpan;
    expect(failed.attributes['error.type']).toBe('ERR_LOGIN_FAILED');
  });

  it("a 503 when the store fails: the store call's span names the driver's error, the request's is an ERROR", async () => {
    const store = memoryStore();
    const broken = new Proxy(store, {
      get(target, key) {
        if (key === 'createSession') return () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' }));
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    const s = setup({}, undefined, { store: broken });
    const res = await s.call('/auth/login', json({ username: 'alice', password: 'correct horse' }));
    expect(res.status).toBe(503);
    const server = only(spans(), 'POST /auth/login');
    expect(server.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': 'ERR_STORE_UNAVAILABLE' });
    expect(server.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ERR_STORE_UNAVAILABLE' });
    const call = only(spans(), 'createSession');
    expect(call.attributes['error.type']).toBe('ECONNREFUSED');
    expect(call.status).toEqual({ code: SpanStatusCode.ERROR, message: 'ECONNREFUSED' }); // never the driver's message
    expect(call.events).toEqual([]);
  });

  it('the route is the table entry, never the path; an unknown path has no route', async () => {
    const s = setup();
    const pair = await loggedIn(s);
    await s.call(`/auth/sessions/${pair.session_id}`, { method: 'DELETE', headers: { authorization: `Bearer ${pair.access_token}` } });
    expect(only(spans(), 'DELETE /auth/sessions/*').attributes['http.route']).toBe('/auth/sessions/*');
    expect((await s.call(`/oauth/${pair.refresh_token}`)).status).toBe(404);
    const unknown = only(spans(), 'GET');
    expect(unknown.attributes['http.route']).toBeUndefined();
    expect(unknown.attributes).toMatchObject({ 'http.response.status_code': 404, 'error.type': 'ERR_NOT_FOUND' });
    await s.call('/auth/login', { method: 'BREW' });
    expect(only(spans(), 'HTTP /auth/login').attributes).toMatchObject({ 'http.request.method': '_OTHER', 'http.response.status_code': 405 });
  });
});
