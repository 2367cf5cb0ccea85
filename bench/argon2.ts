/**
 * Argon2id for the service's passwords: the native `@node-rs/argon2` against Node's own
 * `crypto.argon2` (Node ≥ 24.7), with the same parameters (RFC 9106 §4's second recommendation
 * as OWASP gives it and @node-rs/argon2 defaults to: m = 19 MiB, t = 2, p = 1, 32-byte tag,
 * 16-byte salt), hash and verify, one at a time. Run: `node bench/argon2.ts [rounds]`.
 */
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { hash as nativeHash, verify as nativeVerify } from '@node-rs/argon2';

const derive = promisify(argon2);
const PARAMS = { memory: 19456, passes: 2, parallelism: 1, tagLength: 32 };
const b64 = (b: Buffer): string => b.toString('base64').replace(/=+$/, '');

async function nodeHash(password: string): Promise<string> {
  const nonce = randomBytes(16);
  const tag = await derive('argon2id', { message: password, nonce, ...PARAMS });
  return `$argon2id$v=19$m=${PARAMS.memory},t=${PARAMS.passes},p=${PARAMS.parallelism}$${b64(nonce)}$${b64(tag)}`;
}

async function nodeVerify(phc: string, password: string): Promise<boolean> {
  const [, alg, , params, salt, hash] = phc.split('$');
  const p = Object.fromEntries((params ?? '').split(',').map((kv) => kv.split('=') as [string, string]));
  const expected = Buffer.from(hash ?? '', 'base64');
  const tag = await derive(alg as 'argon2id', {
    message: password,
    nonce: Buffer.from(salt ?? '', 'base64'),
    memory: Number(p.m),
    passes: Number(p.t),
    parallelism: Number(p.p),
    tagLength: expected.length,
  });
  return timingSafeEqual(tag, expected);
}

async function time(label: string, rounds: number, run: () => Promise<unknown>): Promise<number> {
  await run(); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) await run();
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / rounds;
  console.log(`${label.padEnd(34)} ${ms.toFixed(1)} ms`);
  return ms;
}

const rounds = Number(process.argv[2] ?? 20);
const password = 'correct horse battery staple';
const native = await nativeHash(password);
const own = await nodeHash(password);
// Each verifies the other's hash: the same parameters, the same PHC string.
if (!(await nodeVerify(native, password)) || !(await nativeVerify(own, password))) throw new Error('the two implementations disagree');
console.log(`Node ${process.version}, ${rounds} rounds each, m=${PARAMS.memory} KiB t=${PARAMS.passes} p=${PARAMS.parallelism}`);
await time('@node-rs/argon2 hash', rounds, () => nativeHash(password));
await time('node:crypto argon2 hash', rounds, () => nodeHash(password));
await time('@node-rs/argon2 verify', rounds, () => nativeVerify(native, password));
await time('node:crypto argon2 verify', rounds, () => nodeVerify(native, password));
