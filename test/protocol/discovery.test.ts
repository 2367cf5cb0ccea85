/**
 * Discovery with its issuer check (`baton-auth/protocol`'s `fetchMetadata`), which the client SDK
 * and `remoteIssuer` both use: RFC 8414 §3.1's URL, then OpenID Connect's; the metadata's issuer
 * identical to the one asked for (RFC 8414 §3.3), a trailing slash included; no redirect followed.
 */
import { DiscoveryError, fetchMetadata, metadataUrls } from 'baton-auth/protocol';
import { describe, expect, it } from 'vitest';

/** A fetch answering `routes` by URL, 404 elsewhere, recording what was asked. */
function fakeFetch(routes: Record<string, () => Response>): typeof fetch & { asked: string[] } {
  const asked: string[] = [];
  const f = (async (input: string | URL | Request) => {
    const url = String(input);
    asked.push(url);
    return routes[url]?.() ?? new Response('no', { status: 404 });
  }) as typeof fetch & { asked: string[] };
  f.asked = asked;
  return f;
}
const json = (body: unknown) => () => Response.json(body);
const reason = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (err: unknown) => (err instanceof DiscoveryError ? err.reason : String(err)),
  );

describe('fetchMetadata', () => {
  it('inserts the well-known path before the issuer path (RFC 8414 §3.1), then tries OpenID Connect Discovery', async () => {
    expect(metadataUrls('https://a.example/tenant/')).toEqual([
      'https://a.example/.well-known/oauth-authorization-server/tenant',
      'https://a.example/tenant/.well-known/openid-configuration',
    ]);
    const f = fakeFetch({
      'https://a.example/tenant/.well-known/openid-configuration': json({ issuer: 'https://a.example/tenant', jwks_uri: 'https://a.example/jwks' }),
    });
    const found = await fetchMetadata('https://a.example/tenant', f);
    expect(found.url).toBe('https://a.example/tenant/.well-known/openid-configuration');
    expect(found.metadata.jwks_uri).toBe('https://a.example/jwks');
    expect(f.asked).toHaveLength(2);
  });

  it('refuses metadata naming another issuer, a trailing slash making another one (RFC 8414 §3.3: identical)', async () => {
    const f = fakeFetch({
      'https://a.example/.well-known/oauth-authorization-server': json({ issuer: 'https://a.example' }),
      'https://b.example/.well-known/oauth-authorization-server': json({ issuer: 'https://b.example/' }),
    });
    expect(await fetchMetadata('https://a.example', f)).toMatchObject({ metadata: { issuer: 'https://a.example' } });
    expect(await reason(fetchMetadata('https://a.example/', f))).toBe('wrong_issuer');
    expect(await reason(fetchMetadata('https://b.example', f))).toBe('wrong_issuer');
    await expect(fetchMetadata('https://a.example/', f)).rejects.toThrow(
      /names the issuer "https:\/\/a\.example", not https:\/\/a\.example\/ \(RFC 8414 §3\.3\)/,
    );
  });

  it('tells a redirect, an error status, junk, no metadata and an unreachable issuer apart', async () => {
    const at = 'https://a.example/.well-known/oauth-authorization-server';
    expect(
      await reason(
        fetchMetadata('https://a.example', fakeFetch({ [at]: () => new Response(null, { status: 302, headers: { location: 'https://evil.example/' } }) })),
      ),
    ).toBe('redirect');
    expect(await reason(fetchMetadata('https://a.example', fakeFetch({ [at]: () => new Response('', { status: 503 }) })))).toBe('status');
    expect(await reason(fetchMetadata('https://a.example', fakeFetch({ [at]: () => new Response('<html>') })))).toBe('not_json');
    expect(await reason(fetchMetadata('https://a.example', fakeFetch({ [at]: json(['https://a.example']) })))).toBe('not_json');
    expect(await reason(fetchMetadata('https://a.example', fakeFetch({})))).toBe('not_found');
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    const err = (await fetchMetadata('https://a.example', down).catch((e: unknown) => e)) as DiscoveryError;
    expect([err.reason, (err.cause as Error).message]).toEqual(['unreachable', 'fetch failed']);
  });
});
