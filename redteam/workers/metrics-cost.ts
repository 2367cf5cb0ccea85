/**
 * What a caller that reaches BATON_METRICS_PORT (no token: it is bound on HOST, like the service)
 * makes the primary pay: each scrape on any worker asks the primary, which asks every worker for
 * its registry as JSON (IPC), and merges them (AggregatorRegistry.aggregate) on the primary's
 * event loop — the loop that also hands every new connection to a worker (round-robin).
 * Measured: primary CPU ms per scrape, scrapes/s with 8 connections, and /healthz latency on fresh
 * connections (each handed out by the primary) before and during the flood.
 *
 * npx node --conditions=baton-source redteam/workers/metrics-cost.ts
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { call, startWorkers } from '../../test/support/workers.ts';

const PORT = 6492;
const w = await startWorkers({ BATON_WORKERS: '2', BATON_METRICS_PORT: String(PORT), BATON_LOG_LEVEL: 'warn' });
const cpu = (pid: number) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) * 10;
}; // ms (USER_HZ 100)
const probe = async (ms: number) => {
  const lat: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t = performance.now();
    await call(w.url, '/healthz', { timeoutMs: 10_000 }).catch(() => undefined);
    lat.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  lat.sort((a, b) => a - b);
  return `p50 ${lat[Math.floor(lat.length / 2)]?.toFixed(1)} ms, p99 ${lat[Math.floor(lat.length * 0.99)]?.toFixed(1)} ms (${lat.length} probes)`;
};
console.info(`metrics text size: ${(await call(`http://127.0.0.1:${PORT}`, '/metrics')).body.length} bytes`);
console.info(`healthz before: ${await probe(3000)}`);
let stop = false;
let scrapes = 0;
const c0 = cpu(w.child.pid as number);
const t0 = Date.now();
const flood = Array.from({ length: 8 }, async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  while (!stop) if ((await call(`http://127.0.0.1:${PORT}`, '/metrics', { agent }).catch(() => undefined))?.status === 200) scrapes++;
  agent.destroy();
});
const during = await probe(5000);
stop = true;
await Promise.all(flood);
const secs = (Date.now() - t0) / 1000;
const primaryMs = cpu(w.child.pid as number) - c0;
console.info(
  `flood: ${scrapes} scrapes in ${secs.toFixed(1)} s (${(scrapes / secs).toFixed(0)}/s), primary CPU ${primaryMs} ms (${(primaryMs / scrapes).toFixed(2)} ms per scrape, ${(primaryMs / secs / 10).toFixed(0)} % of a core)`,
);
console.info(`healthz during the flood: ${during}`);
console.info(`healthz after: ${await probe(2000)}`);
await w.stop();
process.exit(0);
