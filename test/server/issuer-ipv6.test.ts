/**
 * The default issuer (`http://HOST:PORT`, no BATON_ISSUER) of an IPv6 HOST with PORT=0: it must
 * name the port actually bound, as for IPv4. It named port 0 (`http://[::1]:0`: the bracketed
 * default was compared with an unbracketed one), so the metadata, every token's `iss` and the
 * issuer check between instances (cluster.ts) named a URL nobody serves.
 * Red team rt-page, redteam/upgrade/issuer.ts.
 */
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadConfig, startServer } from 'baton-auth-server';

describe('the default issuer of PORT=0', () => {
  it.each(['127.0.0.1', '::1'])('on HOST=%s names the port bound, the one the service answers on', async (HOST) => {
    const server = await startServer(loadConfig({ PORT: '0', HOST, BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent' }));
    onTestFinished(() => server.stop());
    expect(server.url).toMatch(/:[1-9]\d*$/);
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { issuer: string; token_endpoint: string };
    expect(meta.issuer).toBe(server.url);
    expect(meta.token_endpoint).toBe(`${server.url}/oauth/token`);
  });
});
