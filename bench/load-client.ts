/**
 * A load client for the peers bench, run as its own process: each connection owns one session and
 * always presents that session's latest refresh token (a refresh grant rotates it), or repeats one
 * introspection. Bounded by duration; loopback only. Input on stdin as JSON; prints a JSON summary.
 */
import { Agent, request } from 'node:http';

interface Input {
  url: string;
  mode: 'refresh' | 'introspect';
  /** refresh: one refresh token per connection; introspect: the token to introspect. */
  tokens: string[];
  clientId?: string;
  authorization?: string;
  seconds: number;
}

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString()) as Input;
const target = new URL(input.url);
const agent = new Agent({ keepAlive: true, maxSockets: input.tokens.length });
const latencies: number[] = [];
let errors = 0;

function post(body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) };
    if (input.authorization) headers.authorization = input.authorization;
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const end = performance.now() + input.seconds * 1000;
await Promise.all(input.tokens.map(async (initial) => {
  let token = initial;
  while (performance.now() < end) {
    const body = input.mode === 'refresh'
      ? new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, ...(input.clientId ? { client_id: input.clientId } : {}) }).toString()
      : new URLSearchParams({ token }).toString();
    const t = performance.now();
    try {
      const res = await post(body);
      latencies.push(performance.now() - t);
      if (res.status !== 200) {
        errors++;
        continue;
      }
      if (input.mode === 'refresh') token = (JSON.parse(res.text) as { refresh_token: string }).refresh_token;
      else if (!(JSON.parse(res.text) as { active: boolean }).active) errors++;
    } catch {
      errors++;
    }
  }
}));
latencies.sort((a, b) => a - b);
const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
process.stdout.write(JSON.stringify({ rps: latencies.length / input.seconds, p50: q(0.5), p99: q(0.99), errors }));
agent.destroy();
