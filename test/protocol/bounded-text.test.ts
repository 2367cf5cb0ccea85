/**
 * The one bounded body reader (protocol/bounded-text.ts) that the service's requests, the
 * server-rendering core's answers and the browser's route answers use: a body within the bound
 * is its text, whatever its chunks; past it, undefined, with the stream cancelled at the first
 * chunk over the bound and nothing after it pulled.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundedText } from '../../packages/baton-auth/src/protocol/bounded-text.ts';

/** A stream of `chunks` that counts what was pulled and whether it was cancelled. */
function counted(chunks: Uint8Array[]) {
  const seen = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = chunks[seen.pulled];
        if (chunk === undefined) return controller.close();
        seen.pulled++;
        controller.enqueue(chunk);
      },
      cancel() {
        seen.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}

describe('boundedText', () => {
  it('is the text of a body within the bound, whatever its chunks; undefined past it, cancelled at the first chunk over', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ maxLength: 40 }), { maxLength: 12 }), fc.nat({ max: 300 }), async (parts, max) => {
        const chunks = parts.map((p) => new TextEncoder().encode(p));
        const total = chunks.reduce((n, c) => n + c.byteLength, 0);
        const { stream, seen } = counted(chunks);
        const text = await boundedText(stream, max);
        if (total <= max) {
          expect(text).toBe(parts.join(''));
        } else {
          expect(text).toBeUndefined();
          expect(seen.cancelled).toBe(true);
          let sum = 0;
          const over = chunks.findIndex((c) => (sum += c.byteLength) > max);
          expect(seen.pulled).toBe(over + 1); // nothing read after the chunk that crossed the bound
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a declared length past the bound before reading; an empty body is the empty text', async () => {
    const { stream, seen } = counted([new Uint8Array(1)]);
    expect(await boundedText(stream, 10, '11')).toBeUndefined();
    expect(seen.pulled).toBe(0);
    expect(await boundedText(null, 10)).toBe('');
  });

  it('an endless body is cut at the bound', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull: (c) => {
        pulled++;
        c.enqueue(new Uint8Array(1024));
      },
    });
    expect(await boundedText(endless, 64 * 1024)).toBeUndefined();
    expect(pulled).toBeLessThanOrEqual(66);
  });
});
