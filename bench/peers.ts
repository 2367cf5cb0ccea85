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
  /** This process's CPU time per request, µs: the server under test runs here, its load client in a child. */
  cpu: number;
  /** The load client's own CPU time per request, µs, on the same two cores. */
  clientCpu: number;
}

interface Run {
  refresh: Load;
  introspect: Load;
}

function load(input: { url: string; seconds: number; [more: string]: unknown }): Promise<Load> {
  const before = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOAD], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`load client exited ${code}`));
      const used = process.cpuUsage(before);
      const result = JSON.parse(out) as Load;
      result.cpu = (used.user + used.system) / (result.rps * input.seconds);
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

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** The peers table: `rounds` interleaved rounds, medians, so a slow moment of the machine hits every side. */
export async function benchPeers(seconds = 5, rounds = 3): Promise<string> {
  const runs: [Run[], Run[], Run[], Run[]] = [[], [], [], []];
  for (let r = 0; r < rounds; r++) {
    runs[0].push(await baton(seconds, 'EdDSA'));
    runs[1].push(await baton(seconds, 'HS256'));
    runs[2].push(await oidcProvider(seconds));
    runs[3].push(await baton(seconds, 'EdDSA', 'sqlite'));
  }
  const [b, h, o, q] = runs;
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  const vcpus = 2;
  /** A row of `side`'s `k`: its median rate, the latencies of the round with that rate, its median CPU time per request. */
  const row = (label: string, side: Run[], k: keyof Run, versus?: string): (string | number)[] => {
    const mid = [...side].sort((x, y) => x[k].rps - y[k].rps)[Math.floor(side.length / 2)]?.[k] as Load;
    const rps = median(side.map((x) => x[k].rps));
    return [
      label,
      fmt(rps),
      fmt(rps / vcpus),
      mid.p50.toFixed(1),
      mid.p99.toFixed(1),
      Math.max(...side.map((x) => x[k].errors)),
      median(side.map((x) => x[k].cpu)).toFixed(0),
      median(side.map((x) => x[k].clientCpu)).toFixed(0),
      versus ?? '—',
    ];
  };
  /** Baton over oidc-provider, round by round (the median of the rounds' ratios): by throughput, and by the server's CPU time per request. */
  const times = (side: Run[], k: keyof Run): string =>
    `${median(side.map((x, r) => x[k].rps / (o[r] as Run)[k].rps)).toFixed(2)} (CPU ${median(side.map((x, r) => (o[r] as Run)[k].cpu / x[k].cpu)).toFixed(2)})`;
  const rows: (string | number)[][] = [
    row('refresh grant · Baton, EdDSA access tokens (service default)', b, 'refresh', times(b, 'refresh')),
    row('refresh grant · Baton, HS256 access tokens', h, 'refresh', times(h, 'refresh')),
    row('refresh grant · Baton on SQLite, EdDSA (what `npm start` ships)', q, 'refresh', times(q, 'refresh')),
    row('refresh grant · oidc-provider 9 (opaque access tokens, memory)', o, 'refresh'),
    [
      'refresh grant · Keycloak, published (~120 refreshes/s per vCPU)¹',
      '—',
      '120',
      '—',
      '—',
      '—',
      '—',
      '—',
      `${(median(b.map((x) => x.refresh.rps)) / vcpus / 120).toFixed(1)} (EdDSA)`,
    ],
    row('introspection · Baton (EdDSA)', b, 'introspect', times(b, 'introspect')),
    row('introspection · Baton on SQLite (EdDSA)', q, 'introspect', times(q, 'introspect')),
    row('introspection · oidc-provider 9 (memory)', o, 'introspect'),
    [
      'introspection · Ory Hydra, published (~5,100/s on 2 CPUs, in-memory)²',
      '5,100',
      '2,550',
      '—',
      '—',
      '—',
      '—',
      '—',
      (median(b.map((x) => x.introspect.rps)) / 5100).toFixed(2),
    ],
  ];
  return `${table(['over HTTP, 32 connections, loopback', 'req/s', 'per vCPU', 'p50 ms', 'p99 ms', 'errors', 'server CPU µs/req', 'load client CPU µs/req', 'Baton × oidc-provider'], rows)}

¹ Keycloak server sizing guide ("Concepts for sizing CPU and memory resources": about 120 refresh-token requests per second per vCPU). ² Ory Hydra's published benchmark (introspection, in-memory store, 2 CPUs). Measured figures: this machine, 2 vCPUs shared by server and load client, ${rounds} interleaved rounds of ${seconds} s; rates and CPU times are medians, "Baton × oidc-provider" the median of the rounds' ratios, by throughput and (in brackets) by the server's CPU time per request, which the load client's share of the cores moves less. With both processes busy on the two cores, a request costs the server's CPU time plus the client's: the throughput ratio is about (oidc-provider's server + client) ÷ (Baton's server + client), below the CPU ratio by the client's share.`;
}
