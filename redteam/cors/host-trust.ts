/** Attempts: Host / X-Forwarded-Host naming the attacker's origin; RFC 6454 §7 space-separated origin lists. */
import { loadConfig, startServer } from 'baton-auth-server';
import { raw } from './raw.ts';
for (const trust of ['0', '1']) {
  const service = await startServer(
    loadConfig({ PORT: '0', BATON_STORE: 'memory:', BATON_LOG_LEVEL: 'silent', BATON_ALLOWED_ORIGINS: 'https://app.example.com', BATON_TRUST_PROXY: trust }),
  );
  const P = Number(new URL(service.url).port);
  const cases: [string, string[]][] = [
    ['Host: evil.com, Origin: http://evil.com', ['Host: evil.com', 'Origin: http://evil.com']],
    [
      'XFH evil.com + XFP https, Origin https://evil.com',
      [`Host: 127.0.0.1:${P}`, 'X-Forwarded-Host: evil.com', 'X-Forwarded-Proto: https', 'Origin: https://evil.com'],
    ],
    ['Forwarded host=evil.com, Origin http://evil.com', [`Host: 127.0.0.1:${P}`, 'Forwarded: host=evil.com;proto=http', 'Origin: http://evil.com']],
    ['RFC 6454 list "app evil"', [`Host: 127.0.0.1:${P}`, 'Origin: https://app.example.com https://evil.com']],
    ['RFC 6454 list "evil app"', [`Host: 127.0.0.1:${P}`, 'Origin: https://evil.com https://app.example.com']],
  ];
  for (const [label, h] of cases) {
    const pre = await raw(P, ['OPTIONS /auth/me HTTP/1.1', ...h, 'Access-Control-Request-Method: GET']);
    const get = await raw(P, ['GET /auth/me HTTP/1.1', ...h]);
    console.info(
      `trust=${trust}`,
      label.padEnd(52),
      pre.status,
      pre.get('access-control-allow-origin') ?? '-',
      get.status,
      get.get('access-control-allow-origin') ?? '-',
    );
  }
  await service.stop();
}
