/**
 * A Model Context Protocol server as an API team would put one behind Baton (issue #25): the
 * MCP SDK's Streamable HTTP server transport (stateless) on Express, over https on loopback, its
 * `/mcp` route guarded by `requireAuth` (`baton-auth/adapters/express`) with a verifier of the
 * service's tokens (`remoteIssuer`), and its RFC 9728 protected-resource metadata served at the
 * well-known path and named in every challenge. One tool, `whoami`, answers with the token's
 * subject and client.
 */
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { requireAuth, resourceMetadata } from 'baton-auth/adapters/express';
import { resourceMetadataDocument } from 'baton-auth/http';
import { remoteIssuer } from 'baton-auth/remote';
import type { Certificates } from './tls-proxy.ts';

export interface McpTestServer {
  /** `https://localhost:<port>` */
  origin: string;
  /** `<origin>/mcp`: the MCP endpoint and its resource identifier (RFC 8707), the `aud` of its tokens. */
  resource: string;
  /** Where its RFC 9728 metadata is. */
  metadataUrl: string;
  /** Serves `body` as JSON at `path` of this origin (a client ID metadata document, say); returns its URL. */
  serveJson(path: string, body: unknown): string;
  /** Starts answering: tokens of `issuer` (its JWKS fetched with `fetch`) for `resource`. */
  trust(issuer: string, fetchFn: typeof fetch): void;
  close(): Promise<void>;
}

/**
 * What the SDK hands a tool as `extra.authInfo`, from the claims `requireAuth` verified (the SDK's
 * transport reads it from `req.auth`, where its own bearer middleware would put it).
 */
function authInfo(req: express.Request): AuthInfo {
  const claims = req.auth;
  return {
    token: (req.headers.authorization ?? '').replace(/^\S+ /, ''),
    clientId: claims.client_id,
    scopes: claims.scope === undefined ? [] : claims.scope.split(' '),
    expiresAt: claims.exp,
    extra: { sub: claims.sub },
  };
}

/** The MCP server for one request (stateless mode: a server and a transport per request). */
async function answer(req: express.Request, res: express.Response): Promise<void> {
  const server = new McpServer({ name: 'baton-interop', version: '1.0.0' });
  server.registerTool('whoami', { description: 'Who the access token belongs to' }, (extra) => ({
    content: [{ type: 'text', text: JSON.stringify({ sub: extra.authInfo?.extra?.sub, client_id: extra.authInfo?.clientId }) }],
  }));
  const transport = new StreamableHTTPServerTransport({}); // no session id generator: stateless
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(Object.assign(req as IncomingMessage, { auth: authInfo(req) }), res, req.body);
}

/** The server on a free loopback port with the test's `localhost` certificate; it answers 503 until `trust` is called. */
export async function startMcpServer(certificates: Certificates): Promise<McpTestServer> {
  let app: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.writeHead(503).end();
  const documents = new Map<string, unknown>();
  const https = createServer({ key: certificates.key, cert: certificates.cert }, (req, res) => app(req, res));
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  const origin = `https://localhost:${(https.address() as { port: number }).port}`;
  const resource = `${origin}/mcp`;
  const metadataUrl = resourceMetadataDocument({ resource, authorizationServers: ['https://unused.test'] }).url;
  let verifier: ReturnType<typeof remoteIssuer> | undefined;
  return {
    origin,
    resource,
    metadataUrl,
    serveJson(path, body) {
      documents.set(path, body);
      return `${origin}${path}`;
    },
    trust(issuer, fetchFn) {
      verifier = remoteIssuer({ issuer, audience: resource, fetch: fetchFn });
      const guarded = express();
      guarded.get(/^\/clients\//, (req, res, next) => (documents.has(req.path) ? void res.json(documents.get(req.path)) : next()));
      guarded.use(resourceMetadata({ resource, authorizationServers: [issuer], name: 'Baton interop MCP server' }));
      guarded.all('/mcp', requireAuth(verifier, { audience: resource, resourceMetadata: metadataUrl, origin }), express.json(), (req, res, next) => {
        answer(req, res).catch(next);
      });
      app = guarded;
    },
    async close() {
      verifier?.close();
      await new Promise<void>((resolve) => https.close(() => resolve()).closeAllConnections());
    },
  };
}
