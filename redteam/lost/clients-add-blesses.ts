/**
 * Attempt (a missed loss): an empty Redis (lost its data), then `baton clients add` (a deploy
 * re-applying its clients, an operator fixing things), then an instance starts. Expected: the start
 * refuses the empty store ("holds no Baton data"). Run: npx node --conditions=baton-source redteam/lost/clients-add-blesses.ts
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { createService, loadConfig } from 'baton-auth-server';
import { startRedis } from '../../test/support/redis-servers.ts';

const redis = await startRedis(6485);
const env = { PORT: '0', BATON_STORE: 'redis://127.0.0.1:6485', BATON_SECRET: randomBytes(32).toString('base64url'), BATON_LOG_LEVEL: 'silent' };
try {
  await createService(loadConfig(env), pino({ level: 'silent' }));
  console.info('start on the empty store: started (unexpected)');
} catch (err) {
  console.info('start on the empty store:', (err as Error).message.slice(0, 80));
}
try {
  const out = execFileSync(process.execPath, ['--conditions=baton-source', 'packages/baton-auth-server/src/cli/main.ts', 'clients', 'add', 'shop-app'], {
    env: { ...process.env, ...env, BATON_RUNTIME_FILE: '/nonexistent/x.json' },
    stdio: 'pipe',
  });
  console.info('clients add:', out.toString().trim());
} catch (err) {
  console.info(
    'clients add refused:',
    String((err as { stderr?: Buffer }).stderr)
      .trim()
      .slice(0, 200),
  );
}
try {
  const s = await createService(loadConfig(env), pino({ level: 'silent' }));
  console.info('start after clients add: STARTED as a fresh install, install record', s.custody.install);
  await s.close();
} catch (err) {
  console.info('start after clients add refused:', (err as Error).message.slice(0, 80));
}
await redis.stop();
process.exit(0);
