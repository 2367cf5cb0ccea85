/**
 * #21 round 3, B3: a resource server past `maxRevocations` scanned its whole map of revocations
 * (O(maxRevocations)) for every event past the cap: 10,000 events past the default cap stalled the
 * event loop for seconds. Now a full map is scanned at most once per recheck interval. Counted, not
 * timed: the scans of a map of exactly the cap's size, under a clock that stands still.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { remoteIssuer } from 'baton-auth/remote';
import { eventually } from '../../support/eventually.ts';
import { API, mockIssuer } from './mock-issuer.ts';

afterEach(() => vi.restoreAllMocks());

it('events past maxRevocations do not each scan the full map of revocations', async () => {
  const CAP = 257; // an odd size: no other map of the process has it
  const PAST = 2000;
  const t = Date.now();
  const issuer = await mockIssuer({
    feed: (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const parts: string[] = [];
      for (let n = 0; n < CAP + PAST; n++)
        parts.push(`id: ${n + 1}\nevent: revocation\ndata: {"kind":"session","id":"s-${n}","at":${t},"expiresAt":${t + 900_000}}\n\n`);
      res.write(`${parts.join('')}id: ${CAP + PAST}\nevent: ready\ndata: {}\n\n`);
    },
  });
  let scans = 0;
  const iterate = Map.prototype[Symbol.iterator];
  vi.spyOn(Map.prototype, Symbol.iterator).mockImplementation(function (this: Map<unknown, unknown>) {
    if (this.size === CAP) scans++;
    return iterate.call(this);
  });
  let got = 0;
  const v = remoteIssuer({
    issuer: issuer.url,
    audience: API,
    maxRevocations: CAP,
    now: () => t,
    introspection: { clientId: 'rs', clientSecret: 'x' },
    onRevocation: () => void got++,
  });
  try {
    const token = await issuer.sign({ sid: 'other-user', jti: 'j-other' });
    await expect(v.verify(token)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' }); // past the cap: fail closed
    await eventually(() => got === CAP + PAST, { what: 'every event handled' });
    console.info(`overflow cpu: ${PAST} events past a cap of ${CAP} → ${scans} scans of the full map`);
    // Before: one scan per event past the cap (2,000). Now: one when the map filled, one at the verifier's recheck.
    expect(scans).toBeLessThanOrEqual(3);
  } finally {
    v.close();
    await issuer.close();
  }
});
