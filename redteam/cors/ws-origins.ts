/** Attempt: WebSocket upgrades by Origin (CORS does not cover sockets; the upgrade checks the same set). */
import { loadConfig, startServer } from 'baton-auth-server';
import { raw } from './raw.ts';
const service = await startServer(
  loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', BATON_ALLOWED_ORIGINS: 'https://app.example.com' }),
);
const P = Number(new URL(service.url).port);
const up = (origins: string[]) =>
  raw(P, [
    'GET /ws HTTP/1.1',
    `Host: 127.0.0.1:${P}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    ...origins.map((o) => `Origin: ${o}`),
  ]).then(
    (r) => r.status,
    (e: Error) => e.message,
  );
for (const o of [
  ['https://app.example.com'],
  [`http://localhost:${P}`],
  [`http://[::1]:${P}`],
  [`http://localhost:${P + 1}`],
  ['null'],
  ['https://evil.com'],
  ['https://app.example.com', 'https://evil.com'],
  ['https://evil.com', 'https://app.example.com'],
  ['https://APP.example.com'],
  [],
]) {
  // 101 is followed by an open socket; raw() waits for 'end', so give it a timeout.
  const status = await Promise.race([up(o), new Promise((r) => setTimeout(() => r('101 (open, timed out waiting)'), 1500))]);
  console.info(JSON.stringify(o).padEnd(60), status);
}
await service.stop();
process.exit(0);
