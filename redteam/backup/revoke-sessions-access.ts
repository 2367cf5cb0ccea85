/**
 * `restore --revoke-sessions` and access tokens: "no session that was ended after the backup
 * comes back" — but a session made AND ended after the backup is unknown to the backup, and its
 * access token is a JWT signed with a key the backup holds. Expected (docs table): it verifies
 * until it expires. Then the recipe to refuse it too: `keys rotate`, `keys revoke <old kid>`.
 *
 * npx node --conditions=baton-source redteam/backup/revoke-sessions-access.ts
 */
import { join } from 'node:path';
import { baton, caseDir, envOf, login, logout, me, serve } from './lib.ts';

const dir = caseDir();
const env = envOf(dir);
let service = await serve(env);
await baton(['users', 'add', 'ann', '--password-stdin'], env, 'ann password 1');
const file = join(dir, 'copy.sqlite');
await baton(['backup', file], env);
const stolen = await login(service.url, 'ann'); // after the backup; "stolen", then ended by the admin
console.info(
  `after the backup: a new session; ended (logout ${await logout(service.url, stolen)}); its access token → ${await me(service.url, stolen.access_token)}`,
);
await service.stop();
await baton(['restore', file, '--revoke-sessions'], env);
service = await serve(env);
const back = await me(service.url, stolen.access_token);
console.info(`after restore --revoke-sessions: that access token → ${back} ${back === 200 ? '(verifies again until it expires: FLAG)' : '(held)'}`);
await service.stop();
const keys = (await baton(['keys', 'list'], env)).stdout
  .trim()
  .split('\n')
  .map((l) => l.split('\t'));
const active = keys.find((k) => k[1] === 'sig' && k[3] === 'active')?.[0] as string;
console.info(`keys rotate: ${(await baton(['keys', 'rotate'], env)).stdout.trim()}`);
console.info(`keys revoke ${active}: ${(await baton(['keys', 'revoke', active], env)).stdout.trim()}`);
service = await serve(env);
console.info(
  `after keys rotate + keys revoke <the old signing key>: that access token → ${await me(service.url, stolen.access_token)}; a new login works: ${(await login(service.url, 'ann')).access_token !== undefined}`,
);
await service.stop();
process.exit(0);
