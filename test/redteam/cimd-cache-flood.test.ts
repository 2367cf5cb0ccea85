/**
 * Red team: the client ID metadata documents' cache under a flood of ids. Any caller can name an
 * https client id on a listed host (`/oauth/authorize`, `/oauth/token`, `/auth/login`,
 * `/oauth/end-session`), and every id that is not a document was remembered as a refusal in the
 * same LRU as the documents: 1,000 such ids (one request each, no credentials) pushed a
 * legitimate client's document out, so its next request — the token exchange of a flow in
 * progress — needed a fetch again, and while the flood kept `maxInFlight` fetches busy that fetch
 * was refused at once: the user's code was lost with `invalid_client`. Refusals now have a cache
 * of their own: they cannot push a document out. And once a document's time is over, a flood of
 * new ids holding every fetch slot (80 requests a second at 100 ms a fetch) refused its fetch again
 * the same way: a known client's document is now fetched again past the cap (at most the cache's
 * size of them), new ids are still refused at once.
 */
import { describe, expect, it } from 'vitest';
import { clientMetadataDocuments } from '../../packages/baton-auth/src/authz/client-metadata.ts';

const GOOD = 'https://apps.example/clients/notes';

function host() {
  const fetched: string[] = [];
  const held: (() => void)[] = [];
  let hold = false;
  const fetch: typeof globalThis.fetch = async (input) => {
    const url = String(input);
    fetched.push(url);
    if (hold && url !== GOOD) await new Promise<void>((r) => held.push(r));
    if (url !== GOOD) return new Response('not found', { status: 404 });
    const body = { client_id: GOOD, client_name: 'Notes', redirect_uris: ['https://notes.example/cb'] };
    return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  return { fetch, fetched, held, holdFetches: () => void (hold = true) };
}

describe('a flood of ids that are not documents', () => {
  it('does not push a cached document out: the legitimate client is not fetched again', async () => {
    const h = host();
    const r = clientMetadataDocuments({ hosts: ['apps.example'], fetch: h.fetch, cacheSize: 50 });
    expect((await r.get(GOOD))?.name).toBe('Notes');
    for (let i = 0; i < 1000; i++) expect(await r.get(`https://apps.example/junk/${i}`)).toBeNull();
    expect(h.fetched.filter((u) => u === GOOD)).toHaveLength(1);
    expect((await r.get(GOOD))?.name).toBe('Notes');
    expect(h.fetched.filter((u) => u === GOOD)).toHaveLength(1);
  });

  it('while the flood holds every fetch slot, the cached document is still served', async () => {
    const h = host();
    const r = clientMetadataDocuments({ hosts: ['apps.example'], fetch: h.fetch, cacheSize: 50, maxInFlight: 4 });
    expect(await r.get(GOOD)).not.toBeNull();
    for (let i = 0; i < 200; i++) expect(await r.get(`https://apps.example/junk/${i}`)).toBeNull();
    h.holdFetches();
    const flood = Array.from({ length: 4 }, (_, i) => r.get(`https://apps.example/slow/${i}`));
    await new Promise((s) => setTimeout(s, 20));
    expect(r.inFlight).toBe(4);
    expect((await r.get(GOOD))?.name).toBe('Notes');
    for (const release of h.held) release();
    await Promise.all(flood);
  });

  it('refusals stay bounded too', async () => {
    const h = host();
    const r = clientMetadataDocuments({ hosts: ['apps.example'], fetch: h.fetch, cacheSize: 50 });
    for (let i = 0; i < 500; i++) await r.get(`https://apps.example/junk/${i}`);
    expect(r.cached).toBeLessThanOrEqual(100);
    await r.get('https://apps.example/junk/499'); // the newest refusal is remembered: not fetched again
    expect(h.fetched).toHaveLength(500);
  });
});

describe('a flood that keeps every fetch slot busy', () => {
  it('does not refuse the fetch of a known client whose document went stale: it is fetched again past the cap', async () => {
    const h = host();
    const r = clientMetadataDocuments({ hosts: ['apps.example'], fetch: h.fetch, ttlMs: 1000, maxInFlight: 4 });
    expect(await r.get(GOOD)).not.toBeNull();
    await new Promise((s) => setTimeout(s, 1100)); // its time in the cache is over
    h.holdFetches();
    const flood = Array.from({ length: 4 }, (_, i) => r.get(`https://apps.example/slow/${i}`));
    await new Promise((s) => setTimeout(s, 20));
    expect(r.inFlight).toBe(4);
    expect(await r.get('https://apps.example/new-junk')).toBeNull(); // a new id: refused at once, as before
    expect((await r.get(GOOD))?.name).toBe('Notes'); // the known client: fetched again
    expect(h.fetched.filter((u) => u === GOOD)).toHaveLength(2);
    for (const release of h.held) release();
    await Promise.all(flood);
  });
});

describe('poisoning a client’s id with a refusal', () => {
  it('a new client refused because every slot is busy is not remembered as refused: fetched once the slots free', async () => {
    const h = host();
    const r = clientMetadataDocuments({ hosts: ['apps.example'], fetch: h.fetch, maxInFlight: 2 });
    h.holdFetches();
    const flood = [r.get('https://apps.example/slow/1'), r.get('https://apps.example/slow/2')];
    await new Promise((s) => setTimeout(s, 20));
    expect(await r.get(GOOD)).toBeNull(); // refused at once, not fetched
    expect(h.fetched.filter((u) => u === GOOD)).toHaveLength(0);
    for (const release of h.held) release();
    await Promise.all(flood);
    expect((await r.get(GOOD))?.name).toBe('Notes');
  });
});
