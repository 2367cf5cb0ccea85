/**
 * The very first start of `baton serve` with BATON_WORKERS=N on a fresh folder, with the default
 * secret file (no BATON_SECRET): every worker opens the store at once; the first makes the secret
 * file and the database. Does another see "a secret file beside an empty database" (the lost-database
 * refusal) or race on the secret file, and stop the start? Expected: it starts, ROUNDS times of ROUNDS.
 *
 * npx node --conditions=baton-source redteam/workers/first-start.ts [N=4] [ROUNDS=5]
 */
import { baton, caseDir, envOf, serve } from '../backup/lib.ts';

const N = process.argv[2] ?? '4';
const ROUNDS = Number(process.argv[3] ?? 5);
const results: string[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const dir = caseDir();
  const env = envOf(dir, { BATON_WORKERS: N, BATON_LOG_LEVEL: 'warn' });
  try {
    const s = await serve(env);
    const users = await baton(['users', 'list'], env);
    results.push(`started (users list exit ${users.code})`);
    await s.stop();
  } catch (err) {
    results.push(
      `FAILED: ${
        (err as Error).message
          .split('\n')
          .filter((l) => l.includes('baton:'))
          .slice(0, 2)
          .join(' | ') || (err as Error).message.slice(0, 300)
      }`,
    );
  }
}
console.info(`${N} workers, first start on a fresh folder ×${ROUNDS}:\n  ${results.join('\n  ')}`);
process.exit(0);
