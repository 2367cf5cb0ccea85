/**
 * `npm run bench -- --only tracing`: what the traces cost when no tracer is installed (the
 * `@opentelemetry/api` no-op, as in any app that registers no SDK): the handler's request span and
 * a store call's span, each beside the same work without it, against a refresh grant through the
 * handler in this process (memory store, HS256: the cheapest grant, so the largest share). A
 * verification the verified-token cache answers starts no span at all.
 */
import { randomBytes } from 'node:crypto';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { activeWith, INTERNAL, traced } from '../packages/baton-auth/src/core/tracing.ts';
import { RequestSpans } from '../packages/baton-auth/src/http/trace.ts';
import { fmt, measure, table } from './harness.ts';

export async function benchTracing(timing: { ms: number; rounds: number }): Promise<string> {
  const baton = createBaton({
    issuer: 'https://bench',
    keys: [generateKey('HS256')],
    refreshTokenSecret: randomBytes(32),
    store: memoryStore(),
    refreshRateLimit: false,
  });
  const handler = createAuthHandler({ baton, authenticate: async () => null });
  // Sessions enough that each is refreshed once per round trip of the pool, always with its latest token.
  const tokens = await Promise.all(Array.from({ length: 64 }, async (_, i) => (await baton.login(`bench-${i}`)).refresh_token));
  let next = 0;
  const refresh = async (): Promise<void> => {
    const i = next++ % tokens.length;
    const res = await handler(
      new Request('https://bench/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=refresh_token&refresh_token=${tokens[i]}`,
      }),
      { ip: '127.0.0.1' },
    );
    tokens[i] = ((await res.json()) as { refresh_token: string }).refresh_token;
  };
  const spans = new RequestSpans();
  const request = new Request('https://bench/oauth/token', {
    method: 'POST',
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
  });
  const work = async (_span: unknown, a: number): Promise<number> => a + 1;
  const results = await measure(
    [
      { name: 'refresh grant through the handler (memory, HS256)', run: refresh },
      {
        name: "the handler's request span (parent, start, active, end)",
        run: () => {
          const parent = spans.parent(request);
          const span = spans.start(request, 'token', parent);
          activeWith(span, parent);
          spans.end(span, request, 'token', 200, '127.0.0.1');
        },
      },
      { name: 'a store call', run: () => work(undefined, 1) },
      { name: 'a store call in its span', run: () => traced('baton.store', INTERNAL, work, 1, undefined, undefined) },
    ],
    timing,
  );
  const rate = (name: string): number => results.find((r) => r.name === name)?.opsPerSec ?? 0;
  const grantNs = 1e9 / rate('refresh grant through the handler (memory, HS256)');
  const spanNs = 1e9 / rate("the handler's request span (parent, start, active, end)");
  const storeNs = 1e9 / rate('a store call in its span') - 1e9 / rate('a store call');
  // A refresh grant makes one request span and one store call (the rotation).
  const perGrant = spanNs + storeNs;
  return `${table(
    ['no tracer installed', 'ops/s', 'ns/op'],
    results.map((r) => [r.name, fmt(r.opsPerSec), fmt(1e9 / r.opsPerSec)]),
  )}

A refresh grant's spans with no tracer: one request span and one store call's (the rotation), about ${fmt(perGrant)} ns of a ${fmt(grantNs)} ns grant (${((100 * perGrant) / grantNs).toFixed(2)} %), in-process, before any socket work.`;
}
