/**
 * How fast a logout on the service reaches a resource server elsewhere: `remoteIssuer` following
 * the service's revocation feed (Server-Sent Events), over loopback. From the logout request to
 * the moment the remote verifier refuses the session's token.
 */
import { loadConfig, startServer } from 'baton-auth-server';
import { remoteIssuer } from 'baton-auth/remote';
import { table } from './harness.ts';

const SECRET = 'bench-introspection-secret-of-32-characters';

export async function benchRemoteRevocation(count = 300): Promise<string> {
  const service = await startServer(
    loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', BATON_INTROSPECTION_SECRET: SECRET, BATON_REFRESH_RATE: 'off' }),
  );
  const arrived = new Map<string, () => void>();
  const verifier = remoteIssuer({
    issuer: service.url,
    audience: service.url,
    introspection: { clientId: 'resource-server', clientSecret: SECRET },
    onRevocation: (e) => arrived.get(e.id)?.(),
  });
  const latencies: number[] = [];
  try {
    const b = service.service.baton;
    await verifier.verify((await b.login('warm-up')).access_token); // discovery, JWKS, the feed connected
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < count; i++) {
      const pair = await b.login(`bench-${i}`);
      await verifier.verify(pair.access_token); // accepted, and cached
      const heard = new Promise<void>((resolve) => arrived.set(pair.session_id, resolve));
      const started = performance.now();
      const res = await fetch(`${service.url}/auth/logout`, {
        method: 'POST',
        headers: { authorization: `Bearer ${pair.access_token}`, 'content-type': 'application/json' },
        body: '{"scope":"local"}',
      });
      if (res.status !== 200) throw new Error(`logout answered ${res.status}`);
      await heard;
      const refused = await verifier.verify(pair.access_token).then(
        () => false,
        () => true,
      );
      latencies.push(performance.now() - started);
      if (!refused) throw new Error('the remote verifier still accepts a logged-out session');
      arrived.delete(pair.session_id);
    }
  } finally {
    verifier.close();
    await service.stop();
  }
  latencies.sort((a, b) => a - b);
  const q = (p: number) => (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1);
  return table(
    ['logout on the service → refused by a remote requireAuth (feed, loopback)', 'n', 'p50 ms', 'p99 ms', 'max ms'],
    [['remoteIssuer following the revocation feed', latencies.length, q(0.5), q(0.99), (latencies.at(-1) ?? 0).toFixed(1)]],
  );
}
