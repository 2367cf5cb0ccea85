/**
 * Rotation exactly once across workers on SQLite: the same refresh token sent at the same moment
 * through a connection pinned to each worker, ROUNDS times (a new session each round). Property:
 * inside the grace window both get 200 with the same refresh token (one child; README: "racers
 * converge on one child"), and the session is not ended; after the grace window the old token is
 * reuse (400 invalid_grant) and the child stops working.
 *
 * npx node --conditions=baton-source redteam/workers/rotation-race.ts [ROUNDS=25]
 */
import { call, startWorkers } from '../../test/support/workers.ts';

const ROUNDS = Number(process.argv[2] ?? 25);
const w = await startWorkers({ BATON_WORKERS: '2', BATON_REFRESH_GRACE: '2s', BATON_LOG_LEVEL: 'warn' });
const [one, two] = [...(await w.pinned()).values()];
const form = (rt: string) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt }).toString(),
});
let same = 0;
const broke: string[] = [];
let reuseOk = 0;
for (let i = 0; i < ROUNDS; i++) {
  const pair = await w.login(one);
  const [a, b] = await Promise.all([
    call(w.url, '/oauth/token', { ...form(pair.refresh_token), agent: one }),
    call(w.url, '/oauth/token', { ...form(pair.refresh_token), agent: two }),
  ]);
  if (a.status !== 200 || b.status !== 200) {
    broke.push(`round ${i}: ${a.status} ${a.body.slice(0, 80)} / ${b.status} ${b.body.slice(0, 80)}`);
    continue;
  }
  const ra = a.json<{ refresh_token: string }>().refresh_token;
  const rb = b.json<{ refresh_token: string }>().refresh_token;
  if (ra === rb) same++;
  else broke.push(`round ${i}: two different children`);
  if (i < 3) {
    await new Promise((r) => setTimeout(r, 2300)); // past the grace window
    const replay = await call(w.url, '/oauth/token', { ...form(pair.refresh_token), agent: two });
    const child = await call(w.url, '/oauth/token', { ...form(ra), agent: one });
    if (replay.status === 400 && child.status === 400) reuseOk++;
    else broke.push(`round ${i}: replay after grace ${replay.status}, child then ${child.status}`);
  }
}
console.info(
  `${ROUNDS} races: ${same} converged on one child; reuse after grace ended the session ${reuseOk}/3; ${broke.length ? `BROKE: ${broke.slice(0, 5).join('; ')}` : 'held'}`,
);
await w.stop();
process.exit(0);
