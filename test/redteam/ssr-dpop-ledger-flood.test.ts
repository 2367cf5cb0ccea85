/**
 * Red team, DPoP in `baton-auth/ssr` remote mode: every render verifies the access cookie with a
 * fresh proof by the server's own key, and `remoteIssuer` spent each proof's `jti` in its ledger of
 * proofs in force (5 minutes, at most a million, then 503s: fail closed). The proof never leaves the
 * process, so nothing can replay it, yet ordinary page views — one signed-in user reloading — filled
 * the ledger, and past its bound every user of the app was `unavailable` for minutes. Here the
 * ledger's bound is scaled down to 50 (the real ledger, its `max` argument) so 80 renders show it.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateKeyPair } from 'jose';
import { createServerSession } from 'baton-auth/ssr';
import type { ServerSession } from 'baton-auth/ssr';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

vi.mock('../../packages/baton-auth/src/remote/proof-ledger.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../packages/baton-auth/src/remote/proof-ledger.ts')>();
  return { ...real, memoryLedger: (max?: number, clock?: () => number) => real.memoryLedger(Math.min(max ?? 50, 50), clock) };
});

const USER = { username: 'ada', password: 'ada password 1' };
let service: TestService;
let session: ServerSession;

beforeAll(async () => {
  service = await startTestService({}, USER);
  session = createServerSession({ issuer: service.url, clientId: 'default', dpop: { alg: 'ES256', ...(await generateKeyPair('ES256')) } });
});
afterAll(async () => {
  session?.close();
  await service?.stop();
});

describe("the server's own proofs", () => {
  it('80 renders of a bound session stay signed in: checking its own proof spends nothing that fills up', async () => {
    const signed = await session.signIn(USER);
    const cookie = signed.setCookies.map((s) => s.split(';')[0]).join('; ');
    const statuses: string[] = [];
    for (let i = 0; i < 80; i++) statuses.push((await session.read(cookie)).status);
    expect(statuses.filter((s) => s !== 'signed-in')).toEqual([]);
  });
});
