/** Attempt: origins an operator might write (case, default port, IDNA, IPv6, wildcard): refused with a sentence naming the fix? */
import { randomBytes } from 'node:crypto';
import { createBaton, generateKey } from 'baton-auth';
import { createAuthHandler } from 'baton-auth/http';
import { memoryStore } from 'baton-auth/stores/memory';
import { loadConfig } from 'baton-auth-server';
const baton = createBaton({
  issuer: 'https://auth.example.com',
  keys: [generateKey('EdDSA', 'ed')],
  refreshTokenSecret: randomBytes(32),
  store: memoryStore(),
});
for (const o of [
  'https://App.Example.com',
  'https://app.example.com:443',
  'http://localhost:80',
  'https://bücher.example',
  'http://[0:0::1]:5173',
  'https://*.example.com',
  'https://app.example.com.',
  'http://0x7f.1:5173',
  'https://user@app.example.com',
  'http://app.example.com',
]) {
  let lib: string;
  let svc: string;
  try {
    createAuthHandler({ baton, authenticate: async () => null, allowedOrigins: [o] });
    lib = 'ACCEPTED';
  } catch (e) {
    lib = (e as Error).message;
  }
  try {
    loadConfig({ BATON_STORE: 'memory:', BATON_ALLOWED_ORIGINS: `https://ok.example.com,${o}` });
    svc = 'ACCEPTED';
  } catch (e) {
    svc = (e as Error).message;
  }
  console.info(`${o}\n  library: ${lib}\n  service: ${svc}`);
}
await baton.close?.();
