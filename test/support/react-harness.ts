/**
 * The server side of the React browser tests: a node:http server on a free port that renders the
 * app of test/fixtures/react-app.ts to a string (react-dom/server), serves it bundled for the
 * browser (esbuild, the packages from their sources), and answers the three auth routes of a
 * server-rendered app (`/api/auth/session`, `/token`, `/signout`) as the test says — counting
 * each, and the requests one page has in flight at once.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { build } from 'esbuild';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import type { SessionSnapshot } from 'baton-auth-client/react';
import { App } from '../fixtures/react-app.ts';
import type { AppProps } from '../fixtures/react-app.ts';

/** What the auth routes answer; the test changes it as it goes. */
export interface Control {
  signedIn: boolean;
  sub: string;
  name: string;
  /** Why the session ended, when signed out. */
  reason: string | null;
  /** `expires_in` of a token, in seconds. */
  tokenTtlSec: number;
  /** How long the token route takes to answer. */
  tokenDelayMs: number;
  /** The snapshot's `expiresAt`, from now. */
  sessionTtlMs: number;
  /** The server's clock less the real one, ms: its snapshots' `expiresAt` and its `Date` headers. */
  clockOffsetMs: number;
  /** The session route answers `unavailable` (the server could not reach the token service). */
  unavailable: boolean;
  /** Tokens the API (`/api/items`) refuses with a 401, as a revoked token would be. */
  refused: Set<string>;
}

/** A request the routes saw. */
export interface Seen {
  route: 'session' | 'token' | 'signout' | 'data';
  at: number;
  /** The page that made it (its `Referer`). */
  page: string;
  status: number;
  origin: string | undefined;
  cookie: string | undefined;
  /** The token answered (the token route), or presented (the API). */
  token?: string | undefined;
}

/** The instrumentation every page runs first: event listeners, timers and channels as counts the test reads. */
const PROBE = `(() => {
  const watched = new Set(['focus', 'online', 'visibilitychange']);
  const listeners = [];
  for (const target of [window, document]) {
    const add = target.addEventListener.bind(target), remove = target.removeEventListener.bind(target);
    target.addEventListener = (type, fn, o) => { if (watched.has(type)) listeners.push({ target, type, fn }); return add(type, fn, o); };
    target.removeEventListener = (type, fn, o) => {
      const i = listeners.findIndex((l) => l.target === target && l.type === type && l.fn === fn);
      if (i >= 0) listeners.splice(i, 1);
      return remove(type, fn, o);
    };
  }
  const timers = new Map();
  const set = window.setTimeout.bind(window), clear = window.clearTimeout.bind(window);
  window.setTimeout = (fn, ms, ...args) => { const id = set((...a) => { timers.delete(id); fn(...a); }, ms, ...args); timers.set(id, ms ?? 0); return id; };
  window.clearTimeout = (id) => { timers.delete(id); clear(id); };
  let channels = 0;
  const Channel = window.BroadcastChannel;
  window.BroadcastChannel = class extends Channel {
    constructor(name) { super(name); this.open = true; channels++; }
    close() { if (this.open) { this.open = false; channels--; } super.close(); }
  };
  window.__probe = () => ({ listeners: listeners.map((l) => l.type), timers: [...timers.values()], channels });
})();`;

/** JSON inside a <script>: no `</script>` can close it. */
const inScript = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');

export interface PageOptions extends AppProps {
  mode?: 'hydrate' | 'create';
  /** The snapshot the browser is given when it must differ from the one the server rendered (the mismatch control). */
  clientSession?: SessionSnapshot;
}

export async function startReactHarness() {
  const bundle = await build({
    entryPoints: [new URL('../fixtures/react-page.ts', import.meta.url).pathname],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    conditions: ['baton-source'],
    define: { 'process.env.NODE_ENV': '"development"' },
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0]?.text as string;
  const control: Control = {
    signedIn: true,
    sub: 'u-1',
    name: 'Lena',
    reason: null,
    tokenTtlSec: 60,
    tokenDelayMs: 0,
    sessionTtlMs: 60_000,
    clockOffsetMs: 0,
    unavailable: false,
    refused: new Set(),
  };
  const seen: Seen[] = [];
  const inFlight = new Map<string, number>();
  /** The most requests one page had in flight at once. */
  let mostInFlight = 0;
  const pages = new Map<string, PageOptions>();
  let tokens = 0;

  const snapshot = (): SessionSnapshot =>
    control.signedIn
      ? { status: 'signed-in', sub: control.sub, name: control.name, scope: 'read', expiresAt: Date.now() + control.clockOffsetMs + control.sessionTtlMs }
      : { status: 'signed-out', reason: control.reason, description: control.reason === null ? 'Not signed in.' : `Signed out (${control.reason}).` };

  const html = (options: PageOptions): string => {
    const { clientSession, ...props } = options;
    const rendered = renderToString(createElement(App, props));
    const config = { ...props, session: clientSession ?? props.session, mode: options.mode ?? 'hydrate' };
    return `<!doctype html><html><head><meta charset="utf-8"><script>${PROBE}</script></head><body><div id="root">${rendered}</div><script>window.__BATON_TEST__ = ${inScript(config)};</script><script type="module" src="/app.js"></script></body></html>`;
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const date = new Date(Date.now() + control.clockOffsetMs).toUTCString();
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', date }).end(JSON.stringify(body));
  };

  async function route(req: IncomingMessage, res: ServerResponse, name: Seen['route']): Promise<void> {
    const page = req.headers.referer ?? '';
    inFlight.set(page, (inFlight.get(page) ?? 0) + 1);
    mostInFlight = Math.max(mostInFlight, inFlight.get(page) as number);
    const record: Seen = { route: name, at: Date.now(), page, status: 200, origin: req.headers.origin, cookie: req.headers.cookie };
    seen.push(record);
    try {
      if (name === 'session' && control.unavailable) return json(res, 200, { status: 'unavailable', reason: 'unavailable', description: 'Try again.' });
      if (name === 'session') return json(res, 200, snapshot());
      if (name === 'data') {
        record.token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const ok = record.token !== undefined && record.token.startsWith('at.') && !control.refused.has(record.token);
        return json(res, (record.status = ok ? 200 : 401), ok ? { orders: [1, 2] } : { error: 'invalid_token' });
      }
      if (name === 'signout') {
        control.signedIn = false;
        control.reason = 'logout';
        return json(res, 200, snapshot());
      }
      await new Promise((r) => setTimeout(r, control.tokenDelayMs));
      if (!control.signedIn) return json(res, (record.status = 401), { error: 'unauthorized' });
      record.token = `at.${++tokens}.${randomBytes(12).toString('hex')}`;
      json(res, 200, { access_token: record.token, expires_in: control.tokenTtlSec });
    } finally {
      inFlight.set(page, (inFlight.get(page) as number) - 1);
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const page = /^\/p\/(\w+)$/.exec(url.pathname);
    if (page && pages.has(page[1] as string))
      return void res.writeHead(200, { 'content-type': 'text/html' }).end(html(pages.get(page[1] as string) as PageOptions));
    if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
    if (url.pathname === '/app.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    if (url.pathname === '/api/items') return void route(req, res, 'data');
    const auth = /^\/api\/auth\/(session|token|signout)$/.exec(url.pathname);
    const method = auth?.[1] === 'signout' ? 'POST' : 'GET';
    if (auth && req.method === method) return void route(req, res, auth[1] as Seen['route']);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    control,
    seen,
    /** The snapshot the session route would answer now (what a server render gives the provider). */
    snapshot,
    mostInFlight: () => mostInFlight,
    count: (name: Seen['route']) => seen.filter((s) => s.route === name).length,
    /** A page of the app with these options; its path. */
    page(options: PageOptions): string {
      const id = randomBytes(6).toString('hex');
      pages.set(id, options);
      return `/p/${id}`;
    },
    /** Forgets what was seen and sets the routes back to a signed-in session. */
    reset(): void {
      seen.length = 0;
      mostInFlight = 0;
      Object.assign(control, {
        signedIn: true,
        reason: null,
        tokenTtlSec: 60,
        tokenDelayMs: 0,
        sessionTtlMs: 60_000,
        clockOffsetMs: 0,
        unavailable: false,
        refused: new Set(),
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type ReactHarness = Awaited<ReturnType<typeof startReactHarness>>;
