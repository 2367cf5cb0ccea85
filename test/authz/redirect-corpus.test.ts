/**
 * Issue #25: the hostile `redirect_uri` corpus (./redirect-corpus.ts, more than 500 values) against
 * `matchRedirectUri` — exact string comparison (RFC 9700 §4.1.3, OAuth 2.1 §2.3.1), a loopback
 * URI's port the one exception (RFC 8252 §7.3). Not one of them may match a registered URI.
 */
import { describe, expect, it } from 'vitest';
import { REGISTERED, hostileRedirectUris, show } from './redirect-corpus.ts';

const SOURCE = '../../packages/baton-auth/src/authz/redirect-uri.ts';
const { matchRedirectUri } = (await import(new URL(SOURCE, import.meta.url).href).catch((cause: unknown) => {
  throw new Error(`matchRedirectUri is missing: ${SOURCE} (H1b, branch codes) could not be imported`, { cause });
})) as { matchRedirectUri: (registered: readonly string[], presented: string) => string | undefined };
if (typeof matchRedirectUri !== 'function') throw new Error(`${SOURCE} exports no matchRedirectUri function`);

const corpus = hostileRedirectUris();

describe('the hostile redirect_uri corpus against matchRedirectUri', () => {
  it('has at least 500 distinct values, none a registered URI', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(500);
    expect(new Set(corpus).size).toBe(corpus.length);
    for (const r of REGISTERED) expect(corpus).not.toContain(r);
  });

  it('matches the registered URIs themselves, and the loopback one with any port (the matcher is not one that refuses everything)', () => {
    for (const r of REGISTERED) expect(matchRedirectUri(REGISTERED, r)).toBe(r);
    expect(matchRedirectUri(REGISTERED, 'http://127.0.0.1:51234/cb')).toBeDefined();
    expect(matchRedirectUri(REGISTERED, 'http://127.0.0.1:8080/cb')).toBeDefined();
  });

  it('matches not one hostile value, against all three registered URIs at once and each alone', () => {
    const matched: string[] = [];
    for (const presented of corpus) {
      if (matchRedirectUri(REGISTERED, presented) !== undefined) matched.push(show(presented));
      for (const r of REGISTERED) if (matchRedirectUri([r], presented) !== undefined) matched.push(`${show(presented)} (registered ${r} alone)`);
    }
    console.info(
      `redirect corpus: ${corpus.length} hostile redirect_uri values, each checked against ${REGISTERED.length + 1} registrations; ${matched.length} matched`,
    );
    expect(matched).toEqual([]);
  });

  it('lets through values under each broken matcher of the advisories (the corpus would catch them)', () => {
    const href = (s: string) => URL.parse(s)?.href;
    const broken: Record<string, (r: string, p: string) => boolean> = {
      'URL normalisation (WHATWG parse, then compare)': (r, p) => href(p) !== undefined && href(p) === href(r),
      'prefix match': (r, p) => p.startsWith(r),
      'case-insensitive': (r, p) => p.toLowerCase() === r.toLowerCase(),
      trimmed: (r, p) => p.trim() === r,
      'origin and path only (query and fragment ignored)': (r, p) => {
        const [a, b] = [URL.parse(p), URL.parse(r)];
        return a !== null && b !== null && a.origin === b.origin && a.pathname === b.pathname;
      },
    };
    const caught = Object.entries(broken).map(([name, match]) => [name, corpus.filter((p) => REGISTERED.some((r) => match(r, p))).length] as const);
    console.info(`redirect corpus against broken matchers: ${caught.map(([n, k]) => `${n}: ${k}`).join('; ')}`);
    for (const [name, k] of caught) expect(k, name).toBeGreaterThan(0);
  });
});
