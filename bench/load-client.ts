/**
 * A load client for the peers and workers benches, run as its own process: each connection owns
 * one session and always presents that session's latest refresh token (a refresh grant rotates
 * it), or repeats one introspection, or calls `GET /auth/me` with its access token (`me`), or
 * one refresh then four `/auth/me` with the new access token (`mix`). Bounded by duration;
 * loopback only. Input on stdin as JSON; prints a JSON summary.
 */
import { Agent, request } from 'node:http';

interface Input {
  url: string;
  mode: 'refresh' | 'introspect' | 'me' | 'mix';
  /** refresh, mix: one refresh token per connection; introspect: the token to introspect; me: one access token per connection. */
  tokens: string[];
  /** mix: one access token per connection, the first /auth/me calls' until its first refresh. */
  access?: string[];
  clientId?: string;
  authorization?: string;
  seconds: number;
}

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString()) as Input;
const target = new URL(input.url);
const agent = new Agent({ keepAlive: true, maxSockets: input.tokens.length });
const started = process.cpuUsage();
const latencies: number[] = [];
let errors = 0;
let firstError: string | undefined;

function post(body: string): Promise<{ status: number; text: string }> {
  const headers: Record<string, string | number> = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) };
  if (input.authorization) headers.authorization = input.authorization;
  return send('POST', target.pathname, headers, body);
}

function send(method: string, path: string, headers: Record<string, string | number>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path, method, agent, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const end = performance.now() + input.seconds * 1000;
/** Times one request; false when it failed. */
async function timed(call: () => Promise<{ status: number; text: string }>): Promise<{ status: number; text: string } | false> {
  const t = performance.now();
  try {
    const res = await call();
    latencies.push(performance.now() - t);
    if (res.status === 200) return res;
    firstError ??= `${res.status} ${res.text.slice(0, 200)}`;
  } catch (err) {
    firstError ??= (err as Error).message;
  }
  errors++;
  return false;
}

const base = target.pathname.replace(/\/oauth\/token$/, '');
const me = (access: string) => timed(() => send('GET', `${base}/auth/me`, { authorization: `Bearer ${access}` }));

await Promise.all(
  input.tokens.map(async (initial, i) => {
    let token = initial;
    let access = input.access?.[i] ?? initial;
    while (performance.now() < end) {
      if (input.mode === 'me') {
        await me(token);
        continue;
      }
      if (input.mode === 'mix') {
        const res = await timed(() =>
          post(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, ...(input.clientId ? { client_id: input.clientId } : {}) }).toString()),
        );
        if (res !== false) ({ refresh_token: token, access_token: access } = JSON.parse(res.text) as { refresh_token: string; access_token: string });
        for (let k = 0; k < 4; k++) await me(access);
        continue;
      }
      const body =
        input.mode === 'refresh'
          ? new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, ...(input.clientId ? { client_id: input.clientId } : {}) }).toString()
          : new URLSearchParams({ token }).toString();
      const t = performance.now();
      try {
        const res = await post(body);
        latencies.push(performance.now() - t);
        if (res.status !== 200) {
          firstError ??= `${res.status} ${res.text.slice(0, 200)}`;
          errors++;
          continue;
        }
        if (input.mode === 'refresh') token = (JSON.parse(res.text) as { refresh_token: string }).refresh_token;
        else if (!(JSON.parse(res.text) as { active: boolean }).active) errors++;
      } catch {
        errors++;
      }
    }
  }),
);
latencies.sort((a, b) => a - b);
const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
// The client's own CPU time per request (µs): taken from the two cores the server under test shares.
const used = process.cpuUsage(started);
const clientCpu = (used.user + used.system) / Math.max(1, latencies.length);
process.stdout.write(JSON.stringify({ rps: latencies.length / input.seconds, p50: q(0.5), p99: q(0.99), errors, firstError, clientCpu }));
agent.destroy();
