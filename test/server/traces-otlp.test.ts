/**
 * `baton serve` and OpenTelemetry (docs/operations.md, "Traces"): with OTEL_EXPORTER_OTLP_ENDPOINT
 * set, the spans of a login reach an OTLP/HTTP receiver (a small one here, on loopback) — the
 * request's SERVER span continuing the caller's `traceparent`, the store's calls under it, as the
 * service OTEL_SERVICE_NAME names; without it, no module of the SDK is loaded at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { baton, serve } from '../support/baton-cli.ts';

const root = mkdtempSync(join(tmpdir(), 'baton-traces-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const SPY = new URL('../fixtures/otel-load-spy.ts', import.meta.url).pathname;

type Value = { stringValue?: string; intValue?: string | number };
type Attribute = { key: string; value: Value };
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Attribute[];
}
interface Export {
  resourceSpans: { resource: { attributes: Attribute[] }; scopeSpans: { scope: { name: string; version?: string }; spans: OtlpSpan[] }[] }[];
}

/** An OTLP/HTTP (JSON) trace receiver on loopback: what it was sent. */
async function receiver(): Promise<{ server: Server; endpoint: string; received: Export[]; paths: string[] }> {
  const received: Export[] = [];
  const paths: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      received.push(JSON.parse(body) as Export);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, endpoint: `http://127.0.0.1:${port}`, received, paths };
}

const attrs = (list: Attribute[]): Record<string, string | number | undefined> =>
  Object.fromEntries(list.map((a) => [a.key, a.value.stringValue ?? (a.value.intValue === undefined ? undefined : Number(a.value.intValue))]));

function envFor(dir: string, extra: Record<string, string>): Record<string, string> {
  return {
    BATON_STORE: `sqlite:${join(root, dir, 'baton.sqlite')}`,
    BATON_RUNTIME_FILE: join(root, dir, 'baton-service.json'),
    BATON_COOKIE_SECURE: 'false',
    BATON_LOG_LEVEL: 'silent',
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${SPY}`,
    ...extra,
  };
}

describe('baton serve with OTEL_EXPORTER_OTLP_ENDPOINT', () => {
  it('exports the spans of a login over OTLP/HTTP, under the caller’s trace, as OTEL_SERVICE_NAME', async () => {
    const otlp = await receiver();
    try {
      const env = envFor('on', { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_SERVICE_NAME: 'baton-traces-test' });
      const service = await serve(env);
      try {
        const added = await baton(['users', 'add', 'alice', '--password-stdin'], env, 'alice password 1\n');
        expect(added.code, added.stderr).toBe(0);
        const traceId = '0af7651916cd43dd8448eb211c80319c';
        const res = await fetch(`${service.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-b7ad6b7169203331-01` },
          body: JSON.stringify({ username: 'alice', password: 'alice password 1' }),
        });
        expect(res.status).toBe(200);
      } finally {
        await service.stop(); // SIGTERM: the spans still queued are sent before the process exits
      }
      expect(service.output()).toContain('otel-load-spy: @opentelemetry/sdk-trace');
      expect(otlp.paths.every((p) => p === 'POST /v1/traces application/json')).toBe(true);
      const batches = otlp.received.flatMap((e) => e.resourceSpans);
      expect(batches.length).toBeGreaterThan(0);
      for (const batch of batches)
        expect(attrs(batch.resource.attributes)).toMatchObject({ 'service.name': 'baton-traces-test', 'service.version': expect.any(String) });
      const scopes = batches.flatMap((b) => b.scopeSpans);
      expect(new Set(scopes.map((s) => s.scope.name))).toEqual(new Set(['baton-auth']));
      const spans = scopes.flatMap((s) => s.spans);
      const login = spans.find((s) => s.name === 'POST /auth/login') as OtlpSpan;
      expect(login, spans.map((s) => s.name).join(', ')).toBeDefined();
      expect(login.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(login.parentSpanId).toBe('b7ad6b7169203331');
      expect(login.kind).toBe(2); // SPAN_KIND_SERVER
      expect(attrs(login.attributes)).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/auth/login', 'http.response.status_code': 200 });
      const create = spans.find((s) => s.name === 'createSession') as OtlpSpan;
      expect(create.parentSpanId).toBe(login.spanId);
      expect(create.kind).toBe(3); // SPAN_KIND_CLIENT
      expect(attrs(create.attributes)).toEqual({ 'db.operation.name': 'createSession', 'db.system.name': 'sqlite' });
      // The password never left the service.
      expect(JSON.stringify(otlp.received)).not.toContain('alice password 1');
    } finally {
      otlp.server.close();
    }
  }, 60_000);

  it('BATON_WORKERS=2: each worker exports its own spans (its process.pid on them)', async () => {
    const otlp = await receiver();
    try {
      const env = envFor('workers', { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, BATON_WORKERS: '2' });
      const service = await serve(env);
      try {
        expect((await baton(['users', 'add', 'alice', '--password-stdin'], env, 'alice password 1\n')).code).toBe(0);
        for (let i = 0; i < 6; i++) {
          const res = await fetch(`${service.url}/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', connection: 'close' },
            body: JSON.stringify({ username: 'alice', password: 'alice password 1' }),
          });
          expect(res.status).toBe(200);
        }
      } finally {
        await service.stop(); // the primary stops its workers, each sending what it queued
      }
      const spans = otlp.received.flatMap((e) => e.resourceSpans.flatMap((b) => b.scopeSpans.flatMap((s) => s.spans)));
      expect(spans.filter((s) => s.name === 'POST /auth/login')).toHaveLength(6);
      const resources = otlp.received.flatMap((e) => e.resourceSpans.map((b) => attrs(b.resource.attributes)));
      expect(new Set(resources.map((r) => r['service.name']))).toEqual(new Set(['baton']));
      // Connections are dealt to the workers in turn: both exported (the primary serves none).
      expect(new Set(resources.map((r) => r['process.pid'])).size).toBe(2);
    } finally {
      otlp.server.close();
    }
  }, 60_000);

  it('unset: no module of the OpenTelemetry SDK is loaded', async () => {
    const service = await serve(envFor('off', {}));
    try {
      expect((await fetch(`${service.url}/.well-known/oauth-authorization-server`)).status).toBe(200);
    } finally {
      await service.stop();
    }
    expect(service.output()).not.toContain('otel-load-spy');
  }, 60_000);
});
