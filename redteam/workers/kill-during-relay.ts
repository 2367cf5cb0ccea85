/**
 * A worker dies while the primary relays to it. The primary sends to every serving worker on each
 * /metrics scrape and each revocation; a worker that died a moment ago is still `isConnected()`
 * until the primary reads its EOF, and `worker.send()` then emits 'error' (EPIPE) on the Worker,
 * which has no listener (redteam/workers/send-to-dead.ts shows Node's behaviour).
 * Expected if unsafe: the primary dies with "Unhandled 'error' event" and takes every worker with it.
 *
 * Load: 24 concurrent /metrics scrapes (token) keeping the primary busy aggregating, while a worker
 * is SIGKILLed every ~1.2 s, up to KILLS times.
 *
 * npx node --conditions=baton-source redteam/workers/kill-during-relay.ts [KILLS=15]
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { call, METRICS_TOKEN, startWorkers } from '../../test/support/workers.ts';

const KILLS = Number(process.argv[2] ?? 15);
const w = await startWorkers({ BATON_WORKERS: '3', BATON_METRICS_TOKEN: METRICS_TOKEN, BATON_LOG_LEVEL: 'warn' });
let primaryExit: string | undefined;
w.child.once('exit', (code, signal) => (primaryExit = `${code ?? signal}`));
let stop = false;
let scrapes = 0;
let failed = 0;
const why = new Map<string, number>();
const loops = Array.from({ length: 24 }, async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  while (!stop && primaryExit === undefined) {
    const r = await call(w.url, '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` }, agent, timeoutMs: 5000 }).catch((err: Error) => err);
    if (!(r instanceof Error) && r.status === 200) scrapes++;
    else {
      failed++;
      const key = r instanceof Error ? r.message : `${r.status}`;
      why.set(key, (why.get(key) ?? 0) + 1);
    }
  }
  agent.destroy();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let kills = 0;
for (; kills < KILLS && primaryExit === undefined; kills++) {
  await sleep(1200);
  let children: number[];
  try {
    children = readFileSync(`/proc/${w.child.pid}/task/${w.child.pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
  } catch {
    break;
  }
  if (children.length === 0) continue;
  process.kill(children[kills % children.length] as number, 'SIGKILL');
}
await sleep(1500);
stop = true;
await Promise.all(loops);
console.info(
  `kills ${kills}, scrapes ok ${scrapes}, failed ${failed}, primary: ${primaryExit === undefined ? 'alive (held this run)' : `EXITED ${primaryExit} — BROKE`}`,
);
console.info('failures by kind:', Object.fromEntries(why));
const crash = /Unhandled 'error' event[^]*?(Error: [^\n]*)/.exec(w.stderr());
if (crash) console.info('primary stderr:', crash[0].split('\n').slice(0, 6).join('\n'));
if (primaryExit === undefined) await w.stop();
process.exit(0);
