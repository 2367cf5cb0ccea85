/**
 * A revocation that does not reach a worker at once: the primary relays only to workers it has
 * heard 'ready' from; a worker that is starting reads the revocations in force when its store
 * opens, then hears the store's feed (SQLite: a poll every 100 ms). A logout made between that
 * read (or its last poll) and the primary's 'ready' is not relayed to it, and it may already be
 * listening (it sends 'ready' after listen). During rolling restarts (SIGHUP, repeated), a client
 * logs in, logs out (200), and at once presents the access token on fresh connections (handed
 * out round-robin, the starting worker among them); each answer's worker is read on the same
 * connection (/healthz).
 * Expected if the relay covers starting workers: every /auth/me after the logout's 200 is 401.
 *
 * npx node --conditions=baton-source redteam/workers/restart-window.ts [RESTARTS=4]
 */
import { Agent } from 'node:http';
import { call, startWorkers, USER } from '../../test/support/workers.ts';

const RESTARTS = Number(process.argv[2] ?? 4);
const w = await startWorkers({ BATON_WORKERS: '2', BATON_LOG_LEVEL: 'warn' });
let stop = false;
let cycles = 0;
const stale: string[] = [];
const loop = (async () => {
  while (!stop) {
    const login = await call(w.url, '/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(USER) }).catch(
      () => undefined,
    );
    if (login?.status !== 200) continue;
    const access = login.json<{ access_token: string }>().access_token;
    const out = await call(w.url, '/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${access}` } }).catch(() => undefined);
    if (out?.status !== 200) continue;
    const at = Date.now();
    cycles++;
    await Promise.all(
      Array.from({ length: 3 }, async () => {
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        try {
          const r = await call(w.url, '/auth/me', { headers: { authorization: `Bearer ${access}` }, agent });
          if (r.status === 200) {
            const worker = (await call(w.url, '/healthz', { agent })).json<{ worker: number }>().worker;
            stale.push(`worker ${worker} accepted a logged-out token ${Date.now() - at} ms after the logout's 200`);
          }
        } catch {
          // a connection lost to a draining worker
        } finally {
          agent.destroy();
        }
      }),
    );
  }
})();
for (let i = 0; i < RESTARTS; i++) {
  const before = (w.stdout().match(/every worker restarted/g) ?? []).length;
  w.child.kill('SIGHUP');
  while ((w.stdout().match(/every worker restarted/g) ?? []).length === before) await new Promise((r) => setTimeout(r, 50));
}
stop = true;
await loop;
console.info(
  `${RESTARTS} rolling restarts, ${cycles} logouts checked 3 times each: ${stale.length} stale accepts${stale.length ? ' — BROKE' : ' — held this run'}`,
);
for (const s of stale.slice(0, 10)) console.info(`  ${s}`);
await w.stop();
process.exit(0);
