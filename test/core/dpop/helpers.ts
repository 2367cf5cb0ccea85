/**
 * Helpers of the DPoP tests over HTTP (RFC 9449): a raw HTTP/1.1 client that sends exactly the
 * Host and request target it is given, and a DPoP-bound login through the nonce flow. Keys,
 * proofs and the example apps are test/support's (dpop.ts, frameworks.ts).
 */
import { request as httpRequest } from 'node:http';
import { dpopProof } from '../../support/dpop.ts';
import type { DpopKey } from '../../support/dpop.ts';
import { DEMO_API, DEMO_USER } from '../../support/frameworks.ts';

/** A raw HTTP/1.1 request: the request target and Host header exactly as given. */
export function raw(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path: target,
        method,
        headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) },
        setHost: false,
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A DPoP-bound login at `base`/auth/login through one use_dpop_nonce round (RFC 9449 §8). */
export async function boundLogin(
  base: string,
  key: DpopKey,
  resource: string | null = DEMO_API,
): Promise<{ access_token: string; refresh_token: string; token_type: string; session_id: string; nonce: string }> {
  const body = JSON.stringify({ ...DEMO_USER, ...(resource === null ? {} : { resource }) });
  const post = async (nonce?: string) =>
    fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', dpop: await dpopProof(key, 'POST', `${base}/auth/login`, nonce === undefined ? {} : { nonce }) },
      body,
    });
  const asked = await post();
  const nonce = asked.headers.get('dpop-nonce');
  if (asked.status !== 400 || nonce === null) throw new Error(`expected use_dpop_nonce, got ${asked.status}`);
  const res = await post(nonce);
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return {
    ...((await res.json()) as { access_token: string; refresh_token: string; token_type: string; session_id: string }),
    nonce: res.headers.get('dpop-nonce') ?? nonce,
  };
}
