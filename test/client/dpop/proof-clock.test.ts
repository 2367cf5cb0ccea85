/**
 * Found by a red-team review (each test failed before its fix): every answer `postToken` reads sets the client's clock offset from its `Date`,
 * with no bound and whatever its origin — including a sign-in endpoint on another origin than the
 * issuer (client.signIn takes any https URL; the README's relative '/auth/login' resolves against
 * the page, which need not be the issuer's origin), even when that answer is an error. One hostile
 * `Date` moves the iat of every later proof to the issuer decades away: proofs dated in the future.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundClient, hostile, recordingFetch, service, proofPayload } from './helpers.ts';
import type { Hostile } from './helpers.ts';

let s: Awaited<ReturnType<typeof service>>;
let login: Hostile;
beforeAll(async () => {
  s = await service();
  login = await hostile((_req, res) =>
    res.writeHead(400, { 'content-type': 'application/json', date: 'Fri, 01 Jan 2100 00:00:00 GMT' }).end('{"error":"invalid_request"}'),
  );
});
afterAll(async () => {
  await login.close();
  await s.stop();
});

describe("iat is on the issuer's clock, not on any server's", () => {
  it("a non-issuer sign-in endpoint's Date does not move the iat of proofs to the issuer", async () => {
    const rec = recordingFetch();
    const { client } = await boundClient(s, { fetch: rec.fetch });
    await client.signIn(`${login.url}/login`, { username: 'x', password: 'y' }).catch(() => undefined);
    expect(Math.abs(client.clockOffset)).toBeLessThan(24 * 3600_000); // failed before the fix: ~74 years
    await client.fetch(`${s.url}/auth/me`);
    const proof = await proofPayload(rec.sent.find((r) => r.url === `${s.url}/auth/me`)?.dpop);
    expect(Math.abs((proof.iat as number) - Date.now() / 1000)).toBeLessThan(300); // failed before the fix: iat in 2100
  });
});
