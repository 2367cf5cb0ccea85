/**
 * The service as an authorization server the way a user runs it (issue #25): `baton serve` in a
 * child process (what `npm start` runs) on a SQLite store of its own, behind a TLS proxy so that
 * its issuer is `https://localhost:<port>` and clients keep their https-only defaults
 * (./tls-proxy.ts); users and clients added with the `baton` command; and a relying party's
 * redirect endpoint on loopback that records what the browser brings it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { baton, serve } from './baton-cli.ts';
import { makeCertificates, startTlsProxy, trustingFetch } from './tls-proxy.ts';
import type { Certificates } from './tls-proxy.ts';

export interface AuthzService {
  /** `https://localhost:<port>`: the issuer, reached through the TLS proxy. */
  issuer: string;
  /** A fetch that trusts the proxy's certificate authority (and only it). */
  fetch: typeof fetch;
  /** The same, typed as openid-client's and oauth4webapi's `customFetch`. */
  customFetch: (url: string, options: object) => Promise<Response>;
  /** The authority's PEM. */
  ca: string;
  /** `baton <args>` on the service's store; throws with its output when it fails. */
  cli(args: string[], input?: string): Promise<string>;
  /** Registers a client for the code flow (`baton clients add <id> --redirect-uri …`). */
  addClient(id: string, o: ClientOptions): Promise<void>;
  /** What the service has written to its output so far. */
  output(): string;
  stop(): Promise<void>;
}

export interface ClientOptions {
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  firstParty?: boolean;
  /** Its authorization requests must come through PAR (RFC 9126). */
  par?: boolean;
  scopes?: string;
  name?: string;
}

/** `baton clients add` for the code flow, as an administrator types it. */
const clientArgs = (id: string, o: ClientOptions): string[] => [
  'clients',
  'add',
  id,
  ...o.redirectUris.flatMap((u) => ['--redirect-uri', u]),
  ...(o.postLogoutRedirectUris ?? []).flatMap((u) => ['--post-logout-redirect-uri', u]),
  ...(o.firstParty ? ['--first-party'] : []),
  ...(o.par ? ['--par'] : []),
  ...(o.scopes === undefined ? [] : ['--scopes', o.scopes]),
  ...(o.name === undefined ? [] : ['--name', o.name]),
];

export const USER = { username: 'alice', password: 'correct horse battery staple' };

/**
 * The service on a store of its own, behind TLS (with `certificates`, made when not given), with
 * the user `alice`; `env` over the defaults.
 */
export async function startAuthzService(env: Record<string, string> = {}, certificates: Certificates = makeCertificates()): Promise<AuthzService> {
  const dir = mkdtempSync(join(tmpdir(), 'baton-authz-'));
  const proxy = await startTlsProxy(certificates);
  // The service trusts the test's authority too, for what it fetches itself (client ID metadata documents).
  writeFileSync(join(dir, 'ca.pem'), certificates.ca);
  const settings = {
    BATON_STORE: `sqlite:${join(dir, 'baton.sqlite')}`,
    BATON_ISSUER: proxy.url,
    BATON_LOG_LEVEL: 'warn',
    NODE_EXTRA_CA_CERTS: join(dir, 'ca.pem'),
    ...env,
  };
  const cli = async (args: string[], input = '') => {
    const run = await baton(args, settings, input);
    if (run.code !== 0) throw new Error(`baton ${args.join(' ')} failed (${run.code}): ${run.stderr || run.stdout}`);
    return run.stdout;
  };
  await cli(['users', 'add', USER.username, '--scopes', 'profile', '--password-stdin'], `${USER.password}\n`);
  const service = await serve(settings);
  proxy.target = service.url;
  const trusting = trustingFetch(proxy.certificates.ca);
  return {
    issuer: proxy.url,
    fetch: trusting,
    customFetch: (url, options) => trusting(url, options as RequestInit),
    ca: proxy.certificates.ca,
    cli,
    async addClient(id, o) {
      const run = await baton(clientArgs(id, o), settings);
      if (run.code !== 0) throw new Error(`baton clients add ${id} failed (${run.code}): ${run.stderr || run.stdout}`);
    },
    output: service.output,
    async stop() {
      await service.stop();
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RelyingParty {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** The next request the browser makes to the relying party (path and query), within `ms`. */
  next(path: string, ms?: number): Promise<URL>;
  close(): Promise<void>;
}

/** A relying party's loopback web server: answers every request with a short page and keeps its URL. */
export async function startRelyingParty(): Promise<RelyingParty> {
  const seen: URL[] = [];
  const waiting = new Set<() => void>();
  const server = createServer((req, res) => {
    seen.push(new URL(req.url ?? '/', 'http://127.0.0.1'));
    for (const wake of waiting) wake();
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Relying party</title><p>Back at the app.</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const next = (path: string, ms = 20_000) =>
    new Promise<URL>((resolve, reject) => {
      const check = () => {
        const at = seen.findIndex((u) => u.pathname === path);
        if (at < 0) return;
        clearTimeout(timer);
        waiting.delete(check);
        const url = seen.splice(at, 1)[0] as URL;
        resolve(new URL(`${url.pathname}${url.search}`, origin));
      };
      const timer = setTimeout(() => {
        waiting.delete(check);
        reject(new Error(`the browser never came back to ${origin}${path} within ${ms} ms`));
      }, ms);
      waiting.add(check);
      check();
    });
  return { origin, next, close: () => new Promise((resolve) => server.close(() => resolve()).closeAllConnections()) };
}
