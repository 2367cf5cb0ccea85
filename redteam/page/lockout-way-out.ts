/**
 * Attempt: the page's way out of a lockout ("ask an administrator to run `baton limits reset
 * <username>`") when the block is on the address (BATON_LOGIN_FAILURES_PER_IP), not on the
 * username. Expected: the command the page names lifts the block the person is under.
 * Also: another user on the same address (a shared office NAT) is locked out by someone else's
 * failures, and the page names *their* username in the command.
 */
import { resetFailures } from 'baton-auth/http';
import { loadConfig, startServer, users } from 'baton-auth-server';

const service = await startServer(
  loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', BATON_LOGIN_FAILURES: '50/1h', BATON_LOGIN_FAILURES_PER_IP: '5/1h' }),
);
await users.add(service.service.store, 'alice', 'correct horse battery');
const login = (username: string, password: string) =>
  fetch(`${service.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
for (let i = 0; i < 6; i++) await login(`guess${i}`, 'x'); // someone else on this address
const before = await login('alice', 'correct horse battery');
console.info('alice, right password, after 6 failures of others on her address:', before.status, (await before.json()).error_description);
// What `baton limits reset alice` does (cli/main.ts: resetFailures(store, 'login', 'alice')).
console.info('`baton limits reset alice` deleted', await resetFailures(service.service.store, 'login', 'alice', () => service.service.baton.now()), 'counters');
const after = await login('alice', 'correct horse battery');
console.info('alice again:', after.status, after.status === 429 ? '(still blocked: the way out the page names does not lift an address block)' : '');
console.info(
  '`baton limits reset 127.0.0.1` deleted',
  await resetFailures(service.service.store, 'login', '127.0.0.1', () => service.service.baton.now()),
  'counters; alice:',
  (await login('alice', 'correct horse battery')).status,
);
await service.stop();
