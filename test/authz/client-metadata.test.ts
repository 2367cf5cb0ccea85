/**
 * Client ID metadata documents: a real TLS server on loopback serves them (a self-signed
 * certificate from test/fixtures/tls, made for localhost and 127.0.0.1). The module's `fetch`
 * option is given a fetch over node:https that trusts that certificate only; the rules (https, a
 * listed host, no redirect, the time and size bounds) are the module's, applied before and around it.
 */
import { readFileSync } from 'node:fs';
import { createServer, request as httpsRequest } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatonConfigError } from '../../packages/baton-auth/src/core/errors.ts';
import { staticClients } from '../../packages/baton-auth/src/http/clients.ts';
import { createAuthHandler } from '../../packages/baton-auth/src/http/handler.ts';
import { ISSUER, makeBaton } from '../support/baton.ts';
import { clientMetadataDocuments, freshFor, withClientMetadataDocuments } from '../../packages/baton-auth/src/authz/client-metadata.ts';

const TLS = new URL('../fixtures/tls/', import.meta.url);
const cert = readFileSync(new URL('loopback-cert.pem', TLS));
const key = readFileSync(new URL('loopback-key.pem', TLS));

type Page = (req: IncomingMessage, res: ServerResponse, url: string) => void;
const pages = new Map<string, Page>();
const seen: string[] = [];
let server: Server;
let host: string; // 127.0.0.1:<port>
let base: string;

/** A fetch over node:https that trusts the fixture certificate; never follows a redirect (https.request does not). */
const trusting: typeof fetch = (input, init) =>
  new Promise((resolve, reject) => {
    const req = httpsRequest(String(input), { ca: cert, method: 'GET', signal: init?.signal ?? undefined }, (res) => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
      const body = res.statusCode === 204 || res.statusCode === 304 ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      resolve(new Response(body, { status: res.statusCode ?? 500, headers }));
    });
    req.on('error', reject);
    req.end();
  });

const doc = (id: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ client_id: id, client_name: 'Notes', redirect_uris: ['https://notes.example/cb', 'http://127.0.0.1/cb'], ...extra });

/** A page at `path` answering the document `body` (a function of its URL) as application/json. */
function serve(path: string, body: (url: string) => string = (url) => doc(url), type = 'application/json', cacheControl?: string): string {
  pages.set(path, (_req, res, url) => {
    res.writeHead(200, { 'content-type': type, ...(cacheControl ? { 'cache-control': cacheControl } : {}) });
    res.end(body(url));
  });
  return `${base}${path}`;
}

beforeAll(async () => {
  server = createServer({ cert, key }, (req, res) => {
    const url = `${base}${req.url}`;
    seen.push(req.url ?? '');
    const page = pages.get(req.url ?? '') ?? [...pages].find(([p]) => p.endsWith('*') && req.url?.startsWith(p.slice(0, -1)))?.[1];
    if (page) page(req, res, url);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  base = `https://${host}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const resolver = (o: Partial<Parameters<typeof clientMetadataDocuments>[0]> = {}) => clientMetadataDocuments({ hosts: [host], fetch: trusting, ...o });
const count = (path: string) => seen.filter((p) => p === path).length;

describe('a good document', () => {
  it('is a public, third-party client with its redirect URIs and name', async () => {
    const id = serve('/good');
    expect(await resolver().get(id)).toEqual({
      id,
      type: 'public',
      firstParty: false,
      name: 'Notes',
      redirectUris: ['https://notes.example/cb', 'http://127.0.0.1/cb'],
    });
  });

  it('is fetched once however many ask at once, then served from the cache', async () => {
    const id = serve('/once');
    const r = resolver();
    const all = await Promise.all(Array.from({ length: 20 }, () => r.get(id)));
    expect(all.every((c) => c?.id === id)).toBe(true);
    await r.get(id);
    expect(count('/once')).toBe(1);
  });

  it('is fetched again once its time in the cache is over, a longer max-age notwithstanding', async () => {
    const id = serve('/ttl', undefined, undefined, 'max-age=3600');
    const r = resolver({ ttlMs: 1000 });
    await r.get(id);
    await new Promise((s) => setTimeout(s, 1100));
    expect((await r.get(id))?.id).toBe(id);
    expect(count('/ttl')).toBe(2);
  });

  it('no-store or max-age=0 still keeps it 10 s: never a fetch at every request', async () => {
    const r = resolver();
    for (const [path, cc] of [
      ['/no-store', 'no-store'],
      ['/max-age-0', 'max-age=0'],
    ] as const) {
      const id = serve(path, undefined, undefined, cc);
      await r.get(id);
      await r.get(id);
      expect(count(path)).toBe(1);
    }
  });

  it('freshFor reads Cache-Control within [10 s, ttlMs]', () => {
    expect(freshFor(null, 300_000)).toBe(300_000);
    expect(freshFor('public, max-age=60', 300_000)).toBe(60_000);
    expect(freshFor('max-age=86400', 300_000)).toBe(300_000);
    expect(freshFor('max-age=1', 300_000)).toBe(10_000);
    expect(freshFor('no-cache', 300_000)).toBe(10_000);
    expect(freshFor('No-Store', 300_000)).toBe(10_000);
    expect(freshFor('max-age=60', 5_000)).toBe(5_000);
    expect(freshFor('max-age=nonsense', 300_000)).toBe(300_000);
  });

  it('goes through withClientMetadataDocuments; other ids go to the registry', async () => {
    const id = serve('/wrapped');
    const clients = withClientMetadataDocuments(staticClients([{ id: 'web' }]), { hosts: [host], fetch: trusting });
    expect((await clients.get(id))?.name).toBe('Notes');
    expect((await clients.get('web'))?.id).toBe('web');
    expect(await clients.get('nobody')).toBeNull();
  });
});

describe('what is never fetched', () => {
  it('a host not on the list, an http URL, or a URL off its canonical form', async () => {
    const r = resolver();
    serve('/never');
    const ids = [
      `https://localhost:${host.split(':')[1]}/never`, // the same server under a name not listed
      `http://${host}/never`, // plain http on a listed host
      `${base}/never#x`,
      `${base}/never?x=1`,
      `${base}/a/../never`,
      `${base}/`,
      `https://user@${host}/never`,
      `HTTPS://${host}/never`,
      'web',
    ];
    for (const id of ids) expect(await r.get(id)).toBeNull();
    expect(count('/never')).toBe(0);
  });

  it('refuses wildcard and malformed hosts when created, with a sentence', () => {
    expect(() => clientMetadataDocuments({ hosts: ['*.example.com'] })).toThrow(/wildcards are not allowed/);
    expect(() => clientMetadataDocuments({ hosts: ['https://apps.example.com'] })).toThrow(BatonConfigError);
    expect(() => clientMetadataDocuments({ hosts: ['apps.example.com/x'] })).toThrow(/not a host name/);
    expect(() => clientMetadataDocuments({ hosts: ['a.example'], maxInFlight: 0 })).toThrow(/maxInFlight must be a whole number from 1/);
  });

  it('the default fetch checks the certificate: a self-signed one is refused', async () => {
    const id = serve('/untrusted');
    expect(await clientMetadataDocuments({ hosts: [host] }).get(id)).toBeNull();
    expect(count('/untrusted')).toBe(0); // the handshake failed before any request
  });
});

describe('documents refused', () => {
  const refused: [string, Partial<{ body: (url: string) => string; type: string }>][] = [
    ['wrong client_id', { body: () => doc(`${base}/someone-else`) }],
    ['not JSON', { body: () => '{"client_id":' }],
    ['an array', { body: () => '[]' }],
    ['wrong content type', { type: 'text/html' }],
    ['a confidential method', { body: (u) => doc(u, { token_endpoint_auth_method: 'client_secret_basic' }) }],
    ['a client_secret', { body: (u) => doc(u, { client_secret: 'x'.repeat(40) }) }],
    ['a javascript: redirect URI', { body: (u) => doc(u, { redirect_uris: ['javascript:alert(1)'] }) }],
    ['a redirect URI with a fragment', { body: (u) => doc(u, { redirect_uris: ['https://notes.example/cb#x'] }) }],
    ['no redirect URI', { body: (u) => doc(u, { redirect_uris: [] }) }],
    ['too many redirect URIs', { body: (u) => doc(u, { redirect_uris: Array.from({ length: 21 }, (_, i) => `https://n.example/${i}`) }) }],
    ['a long client_name', { body: (u) => doc(u, { client_name: 'n'.repeat(101) }) }],
    ['an implicit grant', { body: (u) => doc(u, { grant_types: ['implicit'] }) }],
    ['a token response type', { body: (u) => doc(u, { response_types: ['token'] }) }],
  ];
  it.each(refused)('%s', async (name, { body, type }) => {
    const path = `/refused/${encodeURIComponent(name)}`;
    const id = serve(path, body, type);
    const r = resolver();
    expect(await r.get(id)).toBeNull();
    expect(await r.get(id)).toBeNull(); // the refusal is remembered
    expect(count(path)).toBe(1);
  });

  it('a redirect is not followed', async () => {
    const target = serve('/redirect-target');
    pages.set('/redirecting', (_req, res) => res.writeHead(302, { location: target }).end());
    expect(await resolver().get(`${base}/redirecting`)).toBeNull();
    expect(count('/redirect-target')).toBe(0);
  });

  it('a huge document is cut off at the bound, declared or not', async () => {
    let written = 0;
    pages.set('/huge', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const more = (): void => {
        while (written < 64 * 1024 * 1024 && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('close', () => undefined);
      more();
    });
    pages.set('/declared', (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': '10000000' }).end());
    const r = resolver({ maxBytes: 4096 });
    expect(await r.get(`${base}/huge`)).toBeNull();
    expect(await r.get(`${base}/declared`)).toBeNull();
    await new Promise((s) => setTimeout(s, 100));
    expect(written).toBeLessThan(8 * 1024 * 1024); // the stream was cancelled, not read to its end
  });

  it('a slow server (no headers, or a body that trickles) is given up at the timeout', async () => {
    pages.set('/silent', () => undefined);
    pages.set('/trickle', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"client_id":');
      const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write(' ')), 50);
    });
    const r = resolver({ timeoutMs: 300 });
    for (const path of ['/silent', '/trickle']) {
      const started = Date.now();
      expect(await r.get(`${base}${path}`)).toBeNull();
      expect(Date.now() - started).toBeLessThan(1500);
    }
  });
});

describe('bounds under many ids', () => {
  it('1,000 distinct ids at once: at most maxInFlight fetches, the rest refused at once, the cache bounded', async () => {
    const held: ServerResponse[] = [];
    pages.set('/many/*', (_req, res) => void held.push(res));
    const r = resolver({ maxInFlight: 4, cacheSize: 50, timeoutMs: 2000 });
    const before = seen.length;
    const answers = Promise.all(Array.from({ length: 1000 }, (_, i) => r.get(`${base}/many/${i}`)));
    await new Promise((s) => setTimeout(s, 300));
    expect(r.inFlight).toBe(4);
    expect(held.length).toBe(4);
    for (const res of held) res.writeHead(200, { 'content-type': 'application/json' }).end(doc(`${base}${res.req.url}`));
    const clients = await answers;
    expect(clients.filter((c) => c !== null)).toHaveLength(4);
    expect(seen.length - before).toBe(4);
    expect(r.inFlight).toBe(0);
  });

  it('1,000 distinct ids one after another: each fetched once, the cache stays within its size', async () => {
    serve('/seq/*');
    const r = resolver({ cacheSize: 50 });
    const before = seen.length;
    for (let i = 0; i < 1000; i++) expect((await r.get(`${base}/seq/${i}`))?.id).toBe(`${base}/seq/${i}`);
    expect(seen.length - before).toBe(1000);
    expect(r.cached).toBeLessThanOrEqual(50);
    await r.get(`${base}/seq/999`); // still cached
    expect(seen.length - before).toBe(1000);
  });
});

describe('law: only an https URL on a listed host, as the parser writes it, is ever fetched', () => {
  it('holds for any string, any web URL and any path on the listed host', async () => {
    const fetched: string[] = [];
    const counting: typeof fetch = async (input) => {
      fetched.push(String(input));
      return new Response('{}', { status: 404 });
    };
    const r = clientMetadataDocuments({ hosts: ['apps.example'], fetch: counting, cacheSize: 10 });
    const onHost = fc.string({ maxLength: 40 }).map((path) => `https://apps.example/${path}`);
    const near = fc.constantFrom(
      'https://apps.example',
      'https://APPS.example/x',
      'https://apps.example:443/x',
      'https://apps.example.evil/x',
      'http://apps.example/x',
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.webUrl({ withQueryParameters: true, withFragments: true }), onHost, near), async (id) => {
        fetched.length = 0;
        await r.get(id);
        for (const f of fetched) {
          const url = new URL(f);
          expect(f).toBe(id);
          expect([url.protocol, url.host, url.href, url.search, url.hash, url.username]).toEqual(['https:', 'apps.example', id, '', '', '']);
          expect(url.pathname).not.toMatch(/\/\.\.?(\/|$)/);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('through the authorization endpoint', () => {
  const authorize = async (clientId: string, redirectUri: string) => {
    const { baton } = makeBaton();
    const handler = createAuthHandler({
      baton,
      authenticate: async () => null,
      // The longest fetch allowed: this describe tests the route, not the fetch's timeout (tested
      // above with its own). The default 5 s was once passed on a machine loaded by a full test run:
      // the document refused (and that refusal remembered), the sign-in page a 400.
      authorization: { clientMetadataDocuments: { hosts: [host], fetch: trusting, timeoutMs: 30_000 } },
    });
    const q = new URLSearchParams({
      client_id: clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGrSKxwrR0',
      code_challenge_method: 'S256',
      state: 's',
    });
    return handler(new Request(`${ISSUER}/oauth/authorize?${q}`));
  };

  it('an https client id on a listed host is a client: its document’s redirect URI gets the sign-in page', async () => {
    const id = serve('/authorize-doc');
    expect((await authorize(id, 'https://notes.example/cb')).status).toBe(200);
    expect(count('/authorize-doc')).toBe(1);
  });

  it('a redirect URI outside the document, or a host not listed, is the error page, never a redirect', async () => {
    const id = serve('/authorize-doc-2');
    const wrongUri = await authorize(id, 'https://evil.example/cb');
    expect(wrongUri.status).toBe(400);
    expect(wrongUri.headers.get('location')).toBeNull();
    const unlisted = await authorize(`https://localhost:${host.split(':')[1]}/authorize-doc-2`, 'https://notes.example/cb');
    expect(unlisted.status).toBe(400);
    expect(count('/authorize-doc-2')).toBe(1);
  });
});
