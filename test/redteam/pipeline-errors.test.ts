/**
 * Red team of the verification pipeline's refusals (`core/pipeline.ts`): no refused token, nor its
 * signature, appears in what either verifier throws — message, `cause` chain (jose's errors carry
 * the payload they refused), JSON — which applications log. A test fails if one leaks.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { expect, it } from 'vitest';
import { API, setup, sign, stranger, verifiers, verifyWith } from './pipeline-harness.ts';

const h = setup();

it('a refusal by either verifier, Bearer or DPoP, for any reason, carries neither the token nor its signature', async () => {
  const tokens = {
    forged: await sign({}, { kid: 'es' }, stranger),
    otherAudience: await sign({ aud: 'https://other.test' }),
    expired: await sign({ iat: 0, exp: 1 }),
    notYetValid: await sign({ nbf: 9e9 }),
    opaqueUnknown: `at_${randomBytes(32).toString('base64url').slice(0, 43)}`,
    badConfirmation: await sign({ cnf: null }),
  };
  for (const [name, token] of Object.entries(tokens)) {
    for (const v of verifiers) {
      for (const o of [{ audience: API }, { audience: API, dpop: { proof: 'x', method: 'GET', url: 'https://api.test/' } }]) {
        const err: unknown = await verifyWith(h, v, token, o).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect({ name, v, refused: err !== undefined }).toEqual({ name, v, refused: true });
        const text = `${inspect(err, { depth: 10 })} ${JSON.stringify(err)} ${String(err)}`;
        expect({ name, v, leaks: text.includes(token) || text.includes(token.split('.').at(-1) ?? token) }).toEqual({ name, v, leaks: false });
      }
    }
  }
});
