/**
 * Attempts on `baton restore` with a crafted backup (someone who could write the backup file,
 * not the secret): the restore checks the schema version, quick_check and that the key ring
 * unseals; what about the rest of the file?
 *
 * A. a trigger planted in the backup that undoes every revocation (AFTER UPDATE OF revoked_at):
 *    expected: refused (a Baton database has no trigger), or at least --revoke-sessions revokes.
 * B. a session created AND revoked after the backup (a stolen token revoked by an admin): its
 *    access token after `restore --revoke-sessions`. Expected (docs): "no session ended since
 *    the backup comes back" — but the restored store never heard of it.
 *
 * npx node --conditions=baton-source redteam/backup/restore-crafted.ts
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { baton, caseDir, envOf, login, logout, me, refresh, serve } from './lib.ts';

const dir = caseDir();
const env = envOf(dir);
let service = await serve(env);
await baton(['users', 'add', 'ann', '--password-stdin'], env, 'ann password 1');
const before = await login(service.url, 'ann');
const file = join(dir, 'copy.sqlite');
console.info('backup:', (await baton(['backup', file], env)).stdout.split('\n')[0]);
const after = await login(service.url, 'ann'); // B: created after the backup
console.info('B: logout of the post-backup session', await logout(service.url, after), '→ /auth/me', await me(service.url, after.access_token));
await service.stop();

// A: plant the trigger in the backup.
const db = new DatabaseSync(file);
db.exec(
  'CREATE TRIGGER keep_alive AFTER UPDATE OF revoked_at ON baton_sessions WHEN NEW.revoked_at IS NOT NULL BEGIN UPDATE baton_sessions SET revoked_at = NULL, revoke_reason = NULL WHERE id = NEW.id; END;',
);
db.close();

const r = await baton(['restore', file, '--revoke-sessions'], env);
console.info('A: restore --revoke-sessions exit', r.code, r.stdout.trim(), r.stderr.trim());
service = await serve(env);
const rt = await refresh(service.url, before.refresh_token);
console.info("A: refresh with the backup session's refresh token after --revoke-sessions:", rt.status, rt.status === 200 ? 'BROKE (session alive)' : 'held');
console.info(
  'A: triggers in the restored database:',
  (() => {
    const d = new DatabaseSync(join(dir, 'baton.sqlite'), { readOnly: true });
    try {
      return d.prepare("SELECT name FROM sqlite_master WHERE type='trigger'").all();
    } finally {
      d.close();
    }
  })(),
);
const meB = await me(service.url, after.access_token);
console.info(
  'B: access token of the session made and revoked after the backup, after restore --revoke-sessions:',
  meB,
  meB === 200 ? 'BROKE (back until it expires)' : 'held',
);
if (rt.status === 200) {
  const p = (await rt.json()) as { access_token: string; refresh_token: string; session_id: string };
  console.info('A: logout on the restored service', await logout(service.url, p), '→ refresh again', (await refresh(service.url, p.refresh_token)).status);
}
await service.stop();
process.exit(0);
