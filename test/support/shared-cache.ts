/**
 * A shared HTTP cache in front of an app, as a CDN or a caching reverse proxy would be: it stores
 * what RFC 9111 lets a shared cache store and serves it to anyone who asks for the same URL. It is
 * deliberately no kinder than the RFC: a `Set-Cookie` does not stop it storing a response (RFC 7234
 * §8 said so in as many words: it "does not inhibit caching"; RFC 9111 kept the rule), and a response without
 * explicit freshness is fresh for a heuristic 10 s (§4.2.2). Only `Cache-Control` protects a
 * user's page: `private` or `no-store` (§3, §5.2.2.3, §5.2.2.7), `no-cache` (§5.2.2.4), `Vary` (§4.1).
 *
 * It tells whose request each answer was for by a header the test's browser contexts send
 * (`x-test-user`), and records every answer that set a cookie without `private, no-store`, and every
 * stored answer it served to another user than the one it was made for.
 */
import { Agent, createServer, request } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade', 'te', 'trailer']);
/** Heuristically cacheable status codes (RFC 9110 §15.1). */
const HEURISTIC = new Set([200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501]);
const HEURISTIC_MS = 10_000;

interface Entry {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  vary: string[];
  varyValues: string[];
  freshUntil: number;
  user: string;
}

export interface CacheReport {
  /** Answers that carried `Set-Cookie` without `private, no-store` in `Cache-Control`, but for the next field's. */
  cookieWithoutNoStore: string[];
  /**
   * Answers to a POST that carried `Set-Cookie` with `no-store` but not `private`: Next.js writes
   * the `Cache-Control` of a server action's answer itself, last (`no-cache, no-store, max-age=0,
   * must-revalidate`), over any the app or its proxy set. `no-store` alone keeps every cache from
   * storing it (RFC 9111 §5.2.2.5), and no cache stores the answer to a POST without explicit
   * freshness anyway (§3, §4.2.1).
   */
  postCookieNoStoreOnly: number;
  /** Answers with `Set-Cookie`, by path. */
  setCookieAnswers: number;
  /** Answers stored (and which carried a cookie: there must be none). */
  stored: number;
  storedWithCookie: string[];
  /** Answers served from the store. */
  hits: number;
  /** Stored answers served to another user than the one whose request made them, and that were that user's (a cookie, or a page naming them). */
  crossUser: string[];
  /** Requests the app did not answer (502 to the browser). */
  upstreamErrors: string[];
}

export interface SharedCache {
  url: string;
  report: CacheReport;
  close(): Promise<void>;
}

function directives(headers: IncomingHttpHeaders): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of String(headers['cache-control'] ?? '').split(',')) {
    const [name = '', value = ''] = part.trim().split('=');
    if (name !== '') out.set(name.toLowerCase(), value.replace(/"/g, ''));
  }
  return out;
}

/** How long a shared cache may serve the answer (ms; 0: store nothing), by RFC 9111 §3 and §4.2. */
function freshness(method: string, status: number, headers: IncomingHttpHeaders): number {
  if (method !== 'GET') return 0;
  const cc = directives(headers);
  if (cc.has('no-store') || cc.has('private') || cc.has('no-cache') || String(headers.vary ?? '').includes('*')) return 0;
  const explicit = cc.get('s-maxage') ?? cc.get('max-age');
  if (explicit !== undefined) return Number(explicit) * 1000;
  if (headers.expires !== undefined) return Math.max(0, Date.parse(headers.expires) - Date.now());
  return HEURISTIC.has(status) ? HEURISTIC_MS : 0;
}

/** Records, stores (when a shared cache may) and forwards the app's answer. */
function answer(store: Map<string, Entry[]>, report: CacheReport) {
  return (req: IncomingMessage, res: ServerResponse, key: string, user: string, status: number, headers: IncomingHttpHeaders, body: Buffer): void => {
    const out: IncomingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
    out['content-length'] = String(body.length);
    if (out['set-cookie'] !== undefined) {
      report.setCookieAnswers++;
      const cc = directives(out);
      if (req.method === 'POST' && cc.has('no-store') && !cc.has('private')) report.postCookieNoStoreOnly++;
      else if (!cc.has('private') || !cc.has('no-store'))
        report.cookieWithoutNoStore.push(`${req.method} ${req.url} → ${status}, cache-control: ${out['cache-control'] ?? '(none)'}`);
    }
    const ttl = freshness(req.method ?? 'GET', status, out);
    if (ttl > 0) {
      report.stored++;
      if (out['set-cookie'] !== undefined) report.storedWithCookie.push(key);
      const vary = String(out.vary ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h !== '');
      const entry = { status, headers: out, body, vary, varyValues: vary.map((h) => String(req.headers[h] ?? '')), freshUntil: Date.now() + ttl, user };
      store.set(key, [entry, ...(store.get(key) ?? []).filter((e) => e.freshUntil > Date.now())].slice(0, 16));
    }
    res.writeHead(status, out);
    res.end(body);
  };
}

/**
 * Starts the cache on a free loopback port in front of `upstream` (http://127.0.0.1:port). An
 * answer is a user's when it sets a cookie or says "Signed in as" one of `names`.
 */
export async function startSharedCache(upstream: string, names: string[]): Promise<SharedCache> {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const store = new Map<string, Entry[]>();
  const report: CacheReport = {
    cookieWithoutNoStore: [],
    postCookieNoStoreOnly: 0,
    setCookieAnswers: 0,
    stored: 0,
    storedWithCookie: [],
    hits: 0,
    crossUser: [],
    upstreamErrors: [],
  };
  const respond = answer(store, report);
  const server: Server = createServer((req, res) => {
    const user = String(req.headers['x-test-user'] ?? 'anonymous');
    const key = `${req.method} ${req.url}`;
    const hit = (req.method === 'GET' ? (store.get(key) ?? []) : []).find(
      (e) => e.freshUntil > Date.now() && e.vary.every((h, i) => String(req.headers[h] ?? '') === e.varyValues[i]),
    );
    if (hit !== undefined) {
      report.hits++;
      const named = names.filter((n) => n !== user && hit.body.includes(`Signed in as ${n}`));
      if (hit.user !== user && (hit.headers['set-cookie'] !== undefined || named.length > 0)) report.crossUser.push(`${key}: ${hit.user}'s answer to ${user}`);
      res.writeHead(hit.status, { ...hit.headers, age: '0' });
      res.end(hit.body);
      return;
    }
    // The Host the browser asked for goes on, as a reverse proxy's does (the app checks server actions' Origin against it).
    const headers = { ...req.headers };
    for (const h of HOP_BY_HOP) delete headers[h];
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const send = (attempt: number): void => {
        const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (answer) => {
          const parts: Buffer[] = [];
          answer.on('data', (c: Buffer) => parts.push(c));
          answer.on('end', () => respond(req, res, key, user, answer.statusCode ?? 502, answer.headers, Buffer.concat(parts)));
          answer.on('error', () => res.destroy());
        });
        up.on('error', (err: NodeJS.ErrnoException) => {
          // A kept-alive connection the app closed just as it was reused: sent again once, as Node's documentation
          // advises for a reused socket (what a proxy does for it); anything else is the app's failure, a 502.
          if (up.reusedSocket && err.code === 'ECONNRESET' && attempt === 0) return send(1);
          report.upstreamErrors.push(`${req.method} ${req.url}: ${err.code ?? err.message}`);
          if (!res.headersSent) res.writeHead(502);
          res.end();
        });
        up.end(body);
      };
      send(0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    report,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      agent.destroy();
    },
  };
}
