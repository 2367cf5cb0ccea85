/** A hostile or scripted issuer on 127.0.0.1: metadata, JWKS, introspection and feed handlers are the test's. */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export const API = 'https://api.test';

export async function mockIssuer(
  handlers: { introspect?: (req: IncomingMessage, res: ServerResponse) => void; feed?: (req: IncomingMessage, res: ServerResponse) => void } = {},
) {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/.well-known/oauth-authorization-server') {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ issuer: url, jwks_uri: `${url}/jwks`, introspection_endpoint: `${url}/introspect`, baton_revocation_feed_endpoint: `${url}/feed` }),
      );
    } else if (path === '/jwks') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else if (path === '/introspect' && handlers.introspect) handlers.introspect(req, res);
    else if (path === '/feed' && handlers.feed) handlers.feed(req, res);
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sign = (claims: Record<string, unknown> = {}, header: Record<string, unknown> = { alg: 'RS256', typ: 'at+jwt', kid: 'k1' }) =>
    new SignJWT({ sub: 'ada', client_id: 'c', jti: 'j1', sid: 's1', ...claims })
      .setProtectedHeader(header as never)
      .setIssuer(url)
      .setAudience(API)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(rsa.privateKey);
  return {
    url,
    jwk,
    rsa,
    sign,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
