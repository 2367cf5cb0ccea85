/**
 * The cost of `requireAuth` per framework: requests per second of a minimal route, bare and
 * protected, measured with autocannon (a separate process) against a server in this process,
 * on loopback. Client and server share the machine's cores.
 */
import { execFile } from 'node:child_process';
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { Session } from 'node:inspector/promises';
import { promisify } from 'node:util';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createBaton, generateKey } from 'baton-auth';
import type { Baton } from 'baton-auth';
import { requireAuth as expressAuth } from 'baton-auth/adapters/express';
import { requireAuth as fastifyAuth } from 'baton-auth/adapters/fastify';
import { requireAuth as honoAuth } from 'baton-auth/adapters/hono';
import { memoryStore } from 'baton-auth/stores/memory';
import { table } from './harness.ts';

const run = promisify(execFile);
const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

interface Variant {
  name: string;
  baton: Baton;
  token: string;
}

async function variants(): Promise<Variant[]> {
  const make = async (name: string, alg: 'HS256' | 'ES256' | 'EdDSA', cache: boolean): Promise<Variant> => {
    const baton = createBaton({
      issuer: 'https://bench',
      keys: [generateKey(alg)],
      refreshTokenSecret: randomBytes(32),
      store: memoryStore(),
      ...(cache ? {} : { verifyCache: false as const }),
    });
    await baton.ready();
    return { name, baton, token: (await baton.login('bench-user')).access_token };
  };
  return [
    await make('HS256, cache', 'HS256', true),
    await make('HS256, no cache', 'HS256', false),
    await make('ES256, cache', 'ES256', true),
    await make('ES256, no cache', 'ES256', false),
    await make('EdDSA, cache', 'EdDSA', true),
    await make('EdDSA, no cache', 'EdDSA', false),
  ];
}

const slug = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]+/g, '-');

/** The floor of a protected route: a minimal node:crypto HS256 check (MAC, payload, exp), nothing else. */
function rawCheck(v: Variant): (authorization: string | undefined) => boolean {
  const key = createSecretKey((v.baton.keys.active('sig')?.verifyKey as KeyObject).export());
  return (authorization) => {
    const t = (authorization ?? '').slice(7);
    const dot = t.lastIndexOf('.');
    const mac = createHmac('sha256', key).update(t.slice(0, dot)).digest();
    const sig = Buffer.from(t.slice(dot + 1), 'base64url');
    if (sig.length !== mac.length || !timingSafeEqual(mac, sig)) return false;
    return (JSON.parse(Buffer.from(t.slice(t.indexOf('.') + 1, dot), 'base64url').toString()) as { exp: number }).exp * 1000 > Date.now();
  };
}

async function listen(server: Server): Promise<string> {
  if (!server.listening) await new Promise((r) => server.once('listening', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function startAll(vs: Variant[]): Promise<{ name: string; url: string; close: () => Promise<void> }[]> {
  const body = { ok: true };
  const raw = rawCheck(vs[1] as Variant);
  const ex = express();
  ex.get('/bare', (_req, res) => res.json(body));
  ex.get(
    '/hook',
    (_req, _res, next) => next(),
    (_req, res) => res.json(body),
  );
  ex.get('/raw', (req, res) => (raw(req.headers.authorization) ? res.json(body) : res.status(401).end()));
  for (const v of vs) ex.get(`/${slug(v.name)}`, expressAuth(v.baton, { audience: v.baton.audience }), (_req, res) => res.json(body));
  const exServer = ex.listen(0, '127.0.0.1');

  const fa = Fastify();
  fa.decorateRequest('auth');
  fa.get('/bare', async () => body);
  fa.get('/hook', { preHandler: (_request, _reply, done) => done() }, async () => body);
  fa.get(
    '/raw',
    {
      preHandler: async (request, reply) => {
        if (!raw(request.headers.authorization)) return reply.code(401).send();
      },
    },
    async () => body,
  );
  for (const v of vs) fa.get(`/${slug(v.name)}`, { preHandler: fastifyAuth(v.baton, { audience: v.baton.audience }) }, async () => body);
  await fa.listen({ port: 0, host: '127.0.0.1' });

  const ho = new Hono();
  ho.get('/bare', (c) => c.json(body));
  ho.get(
    '/hook',
    async (_c, next) => next(),
    (c) => c.json(body),
  );
  ho.get(
    '/raw',
    async (c, next) => (raw((c.env as { incoming: { headers: { authorization?: string } } }).incoming.headers.authorization) ? next() : c.body(null, 401)),
    (c) => c.json(body),
  );
  for (const v of vs) ho.get(`/${slug(v.name)}`, honoAuth(v.baton, { audience: v.baton.audience }), (c) => c.json(body));
  const hoServer = serve({ fetch: ho.fetch, port: 0, hostname: '127.0.0.1' }) as Server;

  return [
    { name: 'express', url: await listen(exServer), close: () => new Promise((r) => exServer.close(() => r())) },
    { name: 'fastify', url: `http://127.0.0.1:${(fa.server.address() as AddressInfo).port}`, close: () => fa.close() },
    { name: 'hono (node-server)', url: await listen(hoServer), close: () => new Promise((r) => hoServer.close(() => r())) },
  ];
}

interface Sample {
  /** Requests per second seen by autocannon. */
  rate: number;
  /** Server CPU time per request, µs (this process: the servers run here, autocannon in a child). */
  cpu: number;
}

async function rps(url: string, seconds: number, token?: string): Promise<Sample> {
  const args = [AUTOCANNON, '-c', '32', '-d', String(seconds), '-j', ...(token ? ['-H', `authorization=Bearer ${token}`] : []), url];
  const before = process.cpuUsage();
  const { stdout } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 });
  const used = process.cpuUsage(before);
  const result = JSON.parse(stdout) as { requests: { average: number; total: number }; non2xx: number; errors: number };
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rate: result.requests.average, cpu: (used.user + used.system) / result.requests.total };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** A profile's frame that is the runtime's (a builtin, `node:` internals), not a module's: its time is its caller's. */
const runtimeFrame = (frame: { url: string; functionName: string }): boolean =>
  (frame.url === '' && !frame.functionName.startsWith('(')) || frame.url.startsWith('node:');

/**
 * The share of this process's CPU spent in Baton's own frames (and the verified-token cache's
 * lru-cache) while autocannon drives `url`, from a V8 CPU profile: a measure of the guard that the
 * load client's swings do not move, as ratios of two throughputs do. The runtime's frames Baton
 * calls (a clock read, a string's slice) count as Baton's; a framework's or the app's do not.
 */
async function batonShare(url: string, seconds: number, token: string): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
    await rps(url, seconds, token);
    const { profile } = await session.post('Profiler.stop');
    const self = new Map<number, number>();
    profile.samples?.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0)));
    const parent = new Map<number, (typeof profile.nodes)[number]>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node);
    let busy = 0;
    let baton = 0;
    for (const node of profile.nodes) {
      const t = self.get(node.id) ?? 0;
      if (node.callFrame.functionName === '(idle)') continue;
      busy += t;
      let owner: (typeof profile.nodes)[number] | undefined = node;
      while (owner !== undefined && runtimeFrame(owner.callFrame)) owner = parent.get(owner.id);
      if (owner !== undefined && /\/baton-auth\/|\/lru-cache\//.test(owner.callFrame.url)) baton += t;
    }
    return busy === 0 ? 0 : baton / busy;
  } finally {
    session.disconnect();
  }
}

/**
 * Requests per second, bare and behind `requireAuth`, per framework. Each route is warmed up, then
 * measured in `rounds` interleaved rounds; a ratio is taken against the bare route of the same
 * round and the median is reported. Throughput swings with the load client that shares the two
 * cores, so the server's CPU time per request is reported too: its ratio (bare ÷ route) is the
 * throughput the route keeps when the server, not the client, is the bottleneck.
 */
export async function benchFrameworks(seconds = 2, rounds = 5): Promise<string> {
  const vs = await variants();
  const servers = await startAll(vs);
  const rows: (string | number)[][] = [];
  const profiled: (string | number)[][] = [];
  try {
    for (const s of servers) {
      const routes = [
        // Every route gets the same request, Authorization header included, so ratios show only the guard's work.
        { label: 'bare (no auth)', path: '/bare', token: vs[0]?.token as string | undefined },
        { label: "no-op hook (any guard's floor)", path: '/hook', token: vs[0]?.token as string | undefined },
        { label: 'raw node:crypto HS256 check (floor)', path: '/raw', token: vs[1]?.token },
        ...vs.map((v) => ({ label: `requireAuth ${v.name}`, path: `/${slug(v.name)}`, token: v.token as string | undefined })),
      ];
      for (const r of routes) await rps(`${s.url}${r.path}`, 1, r.token);
      const samples = routes.map(() => [] as Sample[]);
      // The cached HS256 guard against the no-op hook, by a profile of its route in every round:
      // Baton's frames' share of the server's CPU, in µs per request of that round's CPU time.
      const cached = routes.findIndex((r) => r.label === 'requireAuth HS256, cache');
      const shares: number[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const [i, r] of routes.entries()) samples[i]?.push(await rps(`${s.url}${r.path}`, seconds, r.token));
        shares.push(await batonShare(`${s.url}${routes[cached]?.path}`, seconds, routes[cached]?.token as string));
      }
      const byRound = (i: number, f: (x: Sample, bare: Sample, hook: Sample) => number): number =>
        median((samples[i] ?? []).map((x, round) => f(x, samples[0]?.[round] as Sample, samples[1]?.[round] as Sample)));
      const spread = (i: number): string => {
        const ratios = (samples[i] ?? []).map((x, round) => (samples[1]?.[round] as Sample).cpu / x.cpu);
        return `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`;
      };
      for (const [i, r] of routes.entries()) {
        rows.push([
          s.name,
          r.label,
          Math.round(byRound(i, (x) => x.rate)).toLocaleString('en-US'),
          byRound(i, (x, bare) => x.rate / bare.rate).toFixed(2),
          byRound(i, (x) => x.cpu).toFixed(1),
          byRound(i, (x, bare) => bare.cpu / x.cpu).toFixed(2),
          `${byRound(i, (x, _bare, hook) => hook.cpu / x.cpu).toFixed(2)} (${spread(i)})`,
        ]);
      }
      const perRound = shares.map((share, round) => {
        const us = share * (samples[cached]?.[round] as Sample).cpu;
        const hook = (samples[1]?.[round] as Sample).cpu;
        return { share, us, hook, ratio: hook / (hook + us) };
      });
      const ratios = perRound.map((x) => x.ratio);
      profiled.push([
        s.name,
        `${(100 * median(perRound.map((x) => x.share))).toFixed(1)} %`,
        median(perRound.map((x) => x.us)).toFixed(2),
        median(perRound.map((x) => x.hook)).toFixed(1),
        `${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})`,
      ]);
    }
  } finally {
    for (const s of servers) await s.close();
  }
  return `${table(['framework', 'route', 'req/s', '× bare', 'server CPU µs/req', '× bare (CPU)', '× no-op hook (CPU; min–max of rounds)'], rows)}

The cached HS256 guard by a CPU profile of its route in each round (Baton's frames, the token cache's lru-cache and the runtime's frames they call, self time, of the server's busy time; each round's share × that round's CPU time of the route; medians):

${table(['framework', "Baton's share of the server's CPU", 'Baton µs/req', 'no-op hook µs/req', 'no-op hook ÷ (hook + Baton) (min–max of rounds)'], profiled)}`;
}
