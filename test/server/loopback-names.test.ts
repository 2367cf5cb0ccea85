/**
 * #22: the page opened at http://localhost:PORT/ could not sign in while the service said
 * http://127.0.0.1:PORT (its default issuer): its DPoP proofs name the URL the page was opened at,
 * and the service knew its endpoints under the issuer's name only. The same machine under each of
 * its loopback names works for proofs as it does for cookies; another port does not.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dpopKey, dpopProof } from '../support/dpop.ts';
import { startTestService } from '../support/service.ts';
import type { TestService } from '../support/service.ts';

let service: TestService;
beforeAll(async () => {
  service = await startTestService({});
});
afterAll(() => service?.stop());

it("a DPoP sign-in whose proofs name localhost, 127.0.0.1 or [::1] with the service's port is taken; another port is not", async () => {
  const port = new URL(service.url).port;
  expect(new URL(service.url).hostname).toBe('127.0.0.1');
  const signIn = async (origin: string) => {
    const key = await dpopKey();
    const htu = `${origin}/auth/login`;
    const post = (proof: string) =>
      fetch(`${service.url}/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', dpop: proof },
        body: JSON.stringify({ username: 'tester', password: 'tester password 1' }),
      });
    const answer = async (res: Response) =>
      res.status === 200 ? ((await res.json()) as { token_type: string }).token_type : `${res.status} ${((await res.json()) as { error: string }).error}`;
    const round = await post(await dpopProof(key, 'POST', htu));
    const nonce = round.headers.get('dpop-nonce');
    // The nonce round first (use_dpop_nonce); a proof for another URL is refused before it.
    if (nonce === null || round.status === 200) return answer(round);
    return answer(await post(await dpopProof(key, 'POST', htu, { nonce })));
  };
  for (const host of ['localhost', '127.0.0.1', '[::1]']) expect(await signIn(`http://${host}:${port}`), host).toBe('DPoP');
  expect(await signIn(`http://localhost:${Number(port) + 1}`)).toBe('400 invalid_dpop_proof');
});

it('an absolute-form request target (POST http://localhost:OTHER/auth/login) does not make a proof for another port pass (round-3 red team)', async () => {
  const { connect } = await import('node:net');
  const port = Number(new URL(service.url).port);
  const key = await dpopKey();
  const htu = `http://localhost:${port + 1}/auth/login`;
  const body = JSON.stringify({ username: 'tester', password: 'tester password 1' });
  const send = (proof: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.end(
          `POST ${htu} HTTP/1.1\r\nHost: localhost:${port + 1}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\ndpop: ${proof}\r\nconnection: close\r\n\r\n${body}`,
        );
      });
      let answer = '';
      socket
        .on('data', (d) => (answer += d))
        .on('end', () => resolve(answer))
        .on('error', reject);
    });
  const answer = await send(await dpopProof(key, 'POST', htu));
  expect(answer).toMatch(/^HTTP\/1\.1 400/);
  expect(answer).toContain('invalid_dpop_proof');
});
