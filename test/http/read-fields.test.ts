/**
 * A form body's fields (`readFields`), read in one pass (#26): for any form, the fields are each
 * parameter's value, `resource` (RFC 8707 §2) space-joined when repeated, and any other parameter
 * given twice is a 400 (RFC 6749 §3.2) — as the reading by `URLSearchParams.getAll` per key was.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFields } from '../../packages/baton-auth/src/http/respond.ts';

/** The reading before, by key: the model. */
function model(text: string): Record<string, string> | 'repeated' {
  const params = new URLSearchParams(text);
  const out: Record<string, string> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    if (values.length > 1 && key !== 'resource') return 'repeated';
    out[key] = values.join(' ');
  }
  return out;
}

describe('readFields (forms)', () => {
  it('for any form, equals the per-key reading: values, resource space-joined, any other repeat a 400', async () => {
    const key = fc.constantFrom('grant_type', 'resource', 'scope', 'client_id', 'constructor', 'toString', 'a b', 'é', '');
    const pair = fc.tuple(key, fc.string({ maxLength: 8 }));
    await fc.assert(
      fc.asyncProperty(fc.array(pair, { maxLength: 8 }), async (pairs) => {
        const text = new URLSearchParams(pairs).toString();
        const request = new Request('https://auth.test/oauth/token', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: text,
        });
        const got = await readFields(request, 10_000).then(
          (fields) => ({ ...fields }),
          (err: { code?: string; status?: number }) => (err.code === 'ERR_INVALID_REQUEST' ? ('repeated' as const) : err),
        );
        expect(got).toEqual(model(text));
      }),
      { numRuns: 300 },
    );
  });
});
