/**
 * Red team of the verification pipeline's time checks (`core/pipeline.ts`, RFC 7519 §4.1.4–§4.1.6
 * with the leeway): for any `exp`, `nbf` and `iat` around the leeway's edges, and any step of the
 * clock between two verifications (the second through the verified-token cache where the first
 * was accepted), the engine and `remoteIssuer` decide alike — the same refusal or both accept.
 * (A token whose `nbf` or `iat` is after its `exp` is refused by both, for one reason or the other.)
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { clock, decision, sec, setup, sign, verifyWith } from './pipeline-harness.ts';

const h = setup();
const edge = fc.integer({ min: -12, max: 12 }); // seconds from now; the leeway is 5

it('the engine and remoteIssuer decide every exp, nbf, iat and clock step alike, from the cache too', async () => {
  await fc.assert(
    fc.asyncProperty(edge, fc.option(edge, { nil: undefined }), edge, fc.integer({ min: -20_000, max: 20_000 }), async (iat, nbf, exp, step) => {
      const base = sec();
      const token = await sign({ iat: base + iat, exp: base + Math.max(exp, iat + 1, (nbf ?? iat) + 1), ...(nbf === undefined ? {} : { nbf: base + nbf }) });
      const start = clock.t;
      try {
        for (const shift of [0, step]) {
          clock.t = start + shift;
          const [local, remote] = [await decision(verifyWith(h, 'engine', token)), await decision(verifyWith(h, 'remote', token))];
          expect({ iat, nbf, exp, shift, local, remote }).toEqual({ iat, nbf, exp, shift, local: remote, remote });
        }
      } finally {
        clock.t = start;
      }
    }),
    { numRuns: 150 },
  );
});
