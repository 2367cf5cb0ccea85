/**
 * TLS in front of a service on loopback, as production puts it: a certificate authority and a
 * `localhost` certificate made with the `openssl` command into a temporary folder, an HTTPS
 * proxy (node:https) that forwards every request unchanged to the service's plain-http port, and
 * a `fetch` that trusts that authority and nothing else — so clients with strict defaults
 * (openid-client, oauth4webapi: https only) are tested as they ship.
 *
 * The fetch is node:https with the authority as its only `ca`, answering with the global
 * `Response` (the libraries check `instanceof Response`): an undici `Agent({ connect: { ca } })`
 * would do the same, but undici is no dependency of this repository (only of others' packages),
 * and Node's own fetch takes a dispatcher only from a compatible undici.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, request as httpsRequest } from 'node:https';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Certificates {
  /** The authority's certificate (PEM): what a client trusts. */
  ca: string;
  /** The leaf's key and certificate (PEM), for `localhost`, 127.0.0.1 and ::1. */
  key: string;
  cert: string;
}

/** A one-day P-256 authority and a server certificate it signs, made by `openssl` in a folder removed afterwards. */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'baton-tls-'));
  const at = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    ssl('req', '-x509', ...ec, '-keyout', at('ca.key'), '-out', at('ca.pem'), '-days', '1', '-subj', '/CN=Baton test CA');
    ssl('req', '-new', ...ec, '-keyout', at('leaf.key'), '-out', at('leaf.csr'), '-subj', '/CN=localhost');
    writeFileSync(at('leaf.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
    ssl(
      'x509',
      '-req',
      '-in',
      at('leaf.csr'),
      '-CA',
      at('ca.pem'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      at('leaf.ext'),
      '-out',
      at('leaf.pem'),
    );
    return { ca: readFileSync(at('ca.pem'), 'utf8'), key: readFileSync(at('leaf.key'), 'utf8'), cert: readFileSync(at('leaf.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TlsProxy {
  /** `https://localhost:<port>`: the issuer to give the service. */
  url: string;
  /** Where requests go (`http://127.0.0.1:<port>`), set once the service listens. */
  target: string;
  certificates: Certificates;
  close(): Promise<void>;
}

/** An HTTPS proxy on a free loopback port; requests go on to `proxy.target` with their Host header (the issuer's). */
export async function startTlsProxy(certificates = makeCertificates()): Promise<TlsProxy> {
  const proxy: TlsProxy = { url: '', target: '', certificates, close: async () => {} };
  const server = createServer({ key: certificates.key, cert: certificates.cert }, (req, res) => {
    if (proxy.target === '') return void res.writeHead(503).end('the service has not started');
    const upstream = httpRequest(
      new URL(req.url ?? '/', proxy.target),
      { method: req.method, headers: { ...req.headers, 'x-forwarded-proto': 'https' } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.headersSent || res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `https://localhost:${(server.address() as { port: number }).port}`;
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()).closeAllConnections());
  return proxy;
}

/** The answer as the global `Response` (no body for the statuses that have none). */
async function toResponse(answer: IncomingMessage, url: string): Promise<Response> {
  const chunks: Buffer[] = [];
  for await (const chunk of answer) chunks.push(chunk as Buffer);
  const headers = new Headers();
  for (let i = 0; i < answer.rawHeaders.length; i += 2) headers.append(answer.rawHeaders[i] as string, answer.rawHeaders[i + 1] as string);
  const status = answer.statusCode ?? 500;
  const response = new Response([101, 204, 205, 304].includes(status) ? null : Buffer.concat(chunks), { status, headers });
  Object.defineProperty(response, 'url', { value: url });
  return response;
}

/**
 * `fetch` over https trusting only `ca` (and plain http to loopback, for the tests' own servers).
 * Redirects are not followed: every caller here passes `redirect: 'manual'` or expects none.
 */
export function trustingFetch(ca: string): typeof fetch {
  return async (input, init) => {
    const req = new Request(input, init);
    const body = req.body === null ? undefined : Buffer.from(await req.arrayBuffer());
    const headers: OutgoingHttpHeaders = Object.fromEntries(req.headers);
    const url = new URL(req.url);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      const out = send(url, { method: req.method, headers, ...(url.protocol === 'https:' ? { ca } : {}), signal: req.signal }, (answer) => {
        toResponse(answer, req.url).then(resolve, reject);
      });
      out.on('error', reject);
      out.end(body);
    });
  };
}
