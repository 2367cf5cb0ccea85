/**
 * `npm run bench -- --peers`: Baton's refresh grant and introspection over HTTP next to
 * oidc-provider's, on the same machine, in the same run, both on in-memory storage, and Baton on
 * the embedded SQLite file `npm start` ships with; plus the published figures of systems that
 * cannot run here, per vCPU, with their sources.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Provider from 'oidc-provider';
import { loadConfig, startServer } from 'baton-auth-server';
import { table } from './harness.ts';

const LOAD = new URL('./load-client.ts', import.meta.url).pathname;
const CONNECTIONS = 32;

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

interface Run {
  refresh: Load;
  introspect: Load;
}

function load(input: object): Promise<Load> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load client exited ${code}`));
      const result = JSON.parse(out) as Load;
      // A refused request is fast: a run with errors measures the refusal, not the grant.
      if (result.errors > 0) return reject(new Error(`${(input as { url: string }).url}: ${result.errors} failed requests; the run measures nothing`));
      resolve(result);
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/** The service in this process, on memory or on a fresh SQLite file (its generated secret beside it). */
async function baton(seconds: number, alg: 'EdDSA' | 'HS256', on: 'memory' | 'sqlite' = 'memory'): Promise<Run> {
  const secret = 'bench-introspection-secret-of-32-characters';
  const dir = on === 'sqlite' ? mkdtempSync(join(tmpdir(), 'baton-peers-')) : undefined;
  const store = dir === undefined ? 'memory:' : `sqlite:${join(dir, 'baton.sqlite')}`;
  const service = await startServer(
    loadConfig({ PORT: '0', BATON_STORE: store, BATON_REFRESH_RATE: 'off', BATON_LOG_LEVEL: 'silent', BATON_INTROSPECTION_SECRET: secret, BATON_ALG: alg }),
  );
  try {
    const b = service.service.baton;
    const tokens = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => b.login(`bench-${i}`, { clientId: 'default' })));
    const refresh = await load({
      url: `${service.url}/oauth/token`,
      mode: 'refresh',
      tokens: tokens.map((t) => t.refresh_token),
      clientId: 'default',
      seconds,
    });
    const access = (await b.login('bench-introspect')).access_token;
    const introspect = await load({
      url: `${service.url}/oauth/introspect`,
      mode: 'introspect',
      tokens: Array(CONNECTIONS).fill(access),
      seconds,
      authorization: `Basic ${Buffer.from(`resource-server:${secret}`).toString('base64')}`,
    });
    return { refresh, introspect };
  } finally {
    await service.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }
}

async function oidcProvider(seconds: number): Promise<Run> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'cli',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        redirect_uris: ['http://127.0.0.1/cb'],
        response_types: ['code'],
      },
      { client_id: 'resource-server', client_secret: 'bench-introspection-secret-of-32-characters', grant_types: [], redirect_uris: [], response_types: [] },
    ],
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    ttl: { AccessToken: 900, RefreshToken: 14 * 86_400, Grant: 14 * 86_400 },
    scopes: ['openid', 'offline_access'],
    issueRefreshToken: async () => true,
    features: { devInteractions: { enabled: false }, introspection: { enabled: true } },
  });
  server.on('request', provider.callback());
  try {
    const client = await provider.Client.find('cli');
    const refreshToken = async (i: number): Promise<string> => {
      // What a code flow would leave behind: a grant and a refresh token of it.
      const grant = new provider.Grant({ accountId: `bench-${i}`, clientId: 'cli' });
      grant.addOIDCScope('openid offline_access');
      const grantId = await grant.save();
      return new provider.RefreshToken({ accountId: `bench-${i}`, client, grantId, scope: 'openid offline_access', gty: 'authorization_code' } as never).save();
    };
    const tokens = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) => refreshToken(i)));
    const refresh = await load({ url: `${issuer}/token`, mode: 'refresh', tokens, clientId: 'cli', seconds });
    const grant = new provider.Grant({ accountId: 'introspected', clientId: 'cli' });
    grant.addOIDCScope('openid');
    const access = await new provider.AccessToken({
      accountId: 'introspected',
      client,
      grantId: await grant.save(),
      scope: 'openid',
      gty: 'authorization_code',
    } as never).save();
    const introspect = await load({
      url: `${issuer}/token/introspection`,
      mode: 'introspect',
      tokens: Array(CONNECTIONS).fill(access),
      seconds,
      authorization: `Basic ${Buffer.from('resource-server:bench-introspection-secret-of-32-characters').toString('base64')}`,
    });
    return { refresh, introspect };
  } finally {
    server.close();
  }
}

/** Of several runs, the one with the median rate of each measure (its latencies go with it). */
function medianRun(runs: Run[]): Run {
  const mid = (k: keyof Run): Load => ([...runs].sort((x, y) => x[k].rps - y[k].rps)[Math.floor(runs.length / 2)] as Run)[k];
  return { refresh: mid('refresh'), introspect: mid('introspect') };
}

/** The peers table: `rounds` interleaved rounds, medians, so a slow moment of the machine hits every side. */
export async function benchPeers(seconds = 5, rounds = 3): Promise<string> {
  const runs: [Run[], Run[], Run[], Run[]] = [[], [], [], []];
  for (let r = 0; r < rounds; r++) {
    runs[0].push(await baton(seconds, 'EdDSA'));
    runs[1].push(await baton(seconds, 'HS256'));
    runs[2].push(await oidcProvider(seconds));
    runs[3].push(await baton(seconds, 'EdDSA', 'sqlite'));
  }
  const [b, h, o, q] = runs.map(medianRun) as [Run, Run, Run, Run];
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const ms = (n: number) => n.toFixed(1);
  const vcpus = 2;
  const rows: (string | number)[][] = [
    [
      'refresh grant · Baton, EdDSA access tokens (service default)',
      fmt(b.refresh.rps),
      fmt(b.refresh.rps / vcpus),
      ms(b.refresh.p50),
      ms(b.refresh.p99),
      b.refresh.errors,
      '—',
    ],
    ['refresh grant · Baton, HS256 access tokens', fmt(h.refresh.rps), fmt(h.refresh.rps / vcpus), ms(h.refresh.p50), ms(h.refresh.p99), h.refresh.errors, '—'],
    [
      'refresh grant · Baton on SQLite, EdDSA (what `npm start` ships)',
      fmt(q.refresh.rps),
      fmt(q.refresh.rps / vcpus),
      ms(q.refresh.p50),
      ms(q.refresh.p99),
      q.refresh.errors,
      '—',
    ],
    [
      'refresh grant · oidc-provider 9 (opaque access tokens)',
      fmt(o.refresh.rps),
      fmt(o.refresh.rps / vcpus),
      ms(o.refresh.p50),
      ms(o.refresh.p99),
      o.refresh.errors,
      `${(b.refresh.rps / o.refresh.rps).toFixed(2)} / ${(h.refresh.rps / o.refresh.rps).toFixed(2)} (SQLite ${(q.refresh.rps / o.refresh.rps).toFixed(2)})`,
    ],
    [
      'refresh grant · Keycloak, published (~120 refreshes/s per vCPU)¹',
      '—',
      '120',
      '—',
      '—',
      '—',
      `${(b.refresh.rps / vcpus / 120).toFixed(1)} / ${(h.refresh.rps / vcpus / 120).toFixed(1)}`,
    ],
    [
      'introspection · Baton (EdDSA)',
      fmt(b.introspect.rps),
      fmt(b.introspect.rps / vcpus),
      ms(b.introspect.p50),
      ms(b.introspect.p99),
      b.introspect.errors,
      '—',
    ],
    [
      'introspection · Baton on SQLite (EdDSA)',
      fmt(q.introspect.rps),
      fmt(q.introspect.rps / vcpus),
      ms(q.introspect.p50),
      ms(q.introspect.p99),
      q.introspect.errors,
      '—',
    ],
    [
      'introspection · oidc-provider 9',
      fmt(o.introspect.rps),
      fmt(o.introspect.rps / vcpus),
      ms(o.introspect.p50),
      ms(o.introspect.p99),
      o.introspect.errors,
      `${(b.introspect.rps / o.introspect.rps).toFixed(2)} (SQLite ${(q.introspect.rps / o.introspect.rps).toFixed(2)})`,
    ],
    ['introspection · Ory Hydra, published (~5,100/s on 2 CPUs, in-memory)²', '5,100', '2,550', '—', '—', '—', (b.introspect.rps / 5100).toFixed(2)],
  ];
  return `${table(['over HTTP, 32 connections, loopback', 'req/s', 'per vCPU', 'p50 ms', 'p99 ms', 'errors', 'Baton × (EdDSA / HS256, memory)'], rows)}

¹ Keycloak server sizing guide ("Concepts for sizing CPU and memory resources": about 120 refresh-token requests per second per vCPU). ² Ory Hydra's published benchmark (introspection, in-memory store, 2 CPUs). Measured figures: this machine, 2 vCPUs shared by server and load client, median of ${rounds} interleaved rounds of ${seconds} s.`;
}
