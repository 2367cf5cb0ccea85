/**
 * A load client for the peers and workers benches, run as its own process: each connection owns
 * one session and always presents that session's latest refresh token (a refresh grant rotates
 * it), or repeats one introspection, or calls `GET /auth/me` with its access token (`me`), or
 * one refresh then four `/auth/me` with the new access token (`mix`). Bounded by duration;
 * loopback only. Input on stdin as JSON; prints a JSON summary.
 */
import { Connection } from './http1.ts';
import type { Answer } from './http1.ts';

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
// One connection per token, each used by one loop below: the client's cost per request is what bench/http1.ts says.
const connections = input.tokens.map(() => new Connection(target.hostname, Number(target.port)));
const started = process.cpuUsage();
const latencies: number[] = [];
let errors = 0;
let firstError: string | undefined;

const form: Record<string, string> = {
  'content-type': 'application/x-www-form-urlencoded',
  ...(input.authorization ? { authorization: input.authorization } : {}),
};
const post = (c: Connection, body: string): Promise<Answer> => c.send('POST', target.pathname, form, body);

const end = performance.now() + input.seconds * 1000;
/** Times one request; false when it failed. */
async function timed(call: () => Promise<Answer>): Promise<Answer | false> {
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
const me = (c: Connection, access: string) => timed(() => c.send('GET', `${base}/auth/me`, { authorization: `Bearer ${access}` }));

await Promise.all(
  input.tokens.map(async (initial, i) => {
    let token = initial;
    let access = input.access?.[i] ?? initial;
    const c = connections[i] as Connection;
    // A connection that failed is not retried: its errors are counted, and the run measures nothing.
    while (performance.now() < end && !c.failed) {
      if (input.mode === 'me') {
        await me(c, token);
        continue;
      }
      if (input.mode === 'mix') {
        const res = await timed(() =>
          post(
            c,
            new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, ...(input.clientId ? { client_id: input.clientId } : {}) }).toString(),
          ),
        );
        if (res !== false) ({ refresh_token: token, access_token: access } = JSON.parse(res.text) as { refresh_token: string; access_token: string });
        for (let k = 0; k < 4; k++) await me(c, access);
        continue;
      }
      const body =
        input.mode === 'refresh'
          ? new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, ...(input.clientId ? { client_id: input.clientId } : {}) }).toString()
          : new URLSearchParams({ token }).toString();
      const t = performance.now();
      try {
        const res = await post(c, body);
        latencies.push(performance.now() - t);
        if (res.status !== 200) {
          firstError ??= `${res.status} ${res.text.slice(0, 200)}`;
          errors++;
          continue;
        }
        if (input.mode === 'refresh') token = (JSON.parse(res.text) as { refresh_token: string }).refresh_token;
        else if (!(JSON.parse(res.text) as { active: boolean }).active) errors++;
      } catch (err) {
        firstError ??= (err as Error).message;
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
for (const c of connections) c.close();
