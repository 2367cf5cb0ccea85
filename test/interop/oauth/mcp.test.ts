/**
 * Issue #25, "Done when": the Model Context Protocol SDK's client (`@modelcontextprotocol/sdk`)
 * signs in to an MCP server whose `/mcp` route is guarded by Baton's `requireAuth` with RFC 9728
 * metadata (../../support/mcp-server.ts), and calls a tool. The SDK does what the MCP
 * authorization spec asks of it on its own: the 401's `resource_metadata`, the protected-resource
 * metadata, the authorization server's metadata, PKCE and the `resource` parameter (RFC 8707);
 * the test's `OAuthClientProvider` holds a client registered with `baton clients add` and, in
 * `redirectToAuthorization`, signs in on the hosted page in Chromium (and consents: a third-party
 * client) and keeps the code for `finishAuth`. Without a token, or with one for another audience,
 * the tool call is refused.
 *
 * The service runs as users start it (`baton serve`, a child process) behind TLS, with the MCP
 * server's URL among its resources (`BATON_RESOURCES`); everything is https with the test's
 * certificate authority, trusted through the `fetch` each piece is given.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { decodeJwt } from 'jose';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAuthzService, startRelyingParty, USER } from '../../support/authz-service.ts';
import type { AuthzService, RelyingParty } from '../../support/authz-service.ts';
import { describeInChromium, launchChromium } from '../../support/chromium.ts';
import { httpsContext, signInOnHostedPage } from '../../support/hosted-sign-in.ts';
import { startMcpServer } from '../../support/mcp-server.ts';
import type { McpTestServer } from '../../support/mcp-server.ts';
import { makeCertificates } from '../../support/tls-proxy.ts';

/** A pre-registered public client whose "redirect" is a person signing in in Chromium. */
class BrowserProvider implements OAuthClientProvider {
  saved: OAuthTokens | undefined;
  verifier = '';
  code: string | undefined;
  authorizationUrl: URL | undefined;
  readonly sent = 'mcp-state-' + Math.random().toString(36).slice(2);
  private readonly rp: RelyingParty;
  private readonly context: BrowserContext;
  constructor(rp: RelyingParty, context: BrowserContext) {
    this.rp = rp;
    this.context = context;
  }
  get redirectUrl() {
    return `${this.rp.origin}/callback`;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'MCP interop client', redirect_uris: [this.redirectUrl], token_endpoint_auth_method: 'none' };
  }
  clientInformation(): OAuthClientInformationMixed {
    return { client_id: 'mcp-client' };
  }
  state() {
    return this.sent;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  async redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
    const page = await this.context.newPage();
    const callback = await signInOnHostedPage(page, url.href, this.rp);
    await page.close();
    if (callback.searchParams.get('state') !== this.sent) throw new Error(`the callback's state is not the one sent: ${callback.search}`);
    this.code = callback.searchParams.get('code') ?? undefined;
  }
}

describeInChromium('the MCP SDK client against an MCP server guarded by requireAuth', 'test/interop/oauth/mcp.test.ts', () => {
  let mcp: McpTestServer;
  let service: AuthzService;
  let rp: RelyingParty;
  let browser: Browser;
  let context: BrowserContext;
  beforeAll(async () => {
    const certificates = makeCertificates();
    mcp = await startMcpServer(certificates);
    [service, rp] = await Promise.all([startAuthzService({ BATON_RESOURCES: mcp.resource }, certificates), startRelyingParty()]);
    mcp.trust(service.issuer, service.fetch);
    await service.addClient('mcp-client', { redirectUris: ['http://127.0.0.1/callback'], name: 'MCP interop client' });
    browser = await launchChromium();
    context = await httpsContext(browser);
  }, 60_000);
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await rp?.close();
    await mcp?.close();
    await service?.stop();
  });

  const toolCall = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
  const post = (headers: Record<string, string> = {}) =>
    service.fetch(mcp.resource, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(toolCall),
    });

  it('refuses a tool call without a token, naming its RFC 9728 metadata, which names the service', async () => {
    const refused = await post();
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain(`resource_metadata="${mcp.metadataUrl}"`);
    const metadata = await (await service.fetch(mcp.metadataUrl)).json();
    expect(metadata).toMatchObject({ resource: mcp.resource, authorization_servers: [service.issuer] });
    // The SDK's client without an auth provider gets no further.
    const anonymous = new Client({ name: 'anonymous', version: '1.0.0' });
    await expect(anonymous.connect(new StreamableHTTPClientTransport(new URL(mcp.resource), { fetch: service.fetch }))).rejects.toMatchObject({
      code: 401,
      message: expect.stringContaining('An access token is required'),
    });
  });

  it('signs in (redirectToAuthorization in Chromium, finishAuth) and calls a tool with a token for this resource', async () => {
    const provider = new BrowserProvider(rp, context);
    const first = new Client({ name: 'interop', version: '1.0.0' });
    await expect(
      first.connect(new StreamableHTTPClientTransport(new URL(mcp.resource), { authProvider: provider, fetch: service.fetch })),
    ).rejects.toBeInstanceOf(UnauthorizedError);
    const asked = provider.authorizationUrl as URL;
    expect(asked.origin).toBe(service.issuer);
    expect(Object.fromEntries(asked.searchParams)).toMatchObject({
      client_id: 'mcp-client',
      response_type: 'code',
      code_challenge_method: 'S256',
      resource: mcp.resource,
    });
    expect(provider.code, 'the hosted sign-in brought back a code').toBeTruthy();

    const transport = new StreamableHTTPClientTransport(new URL(mcp.resource), { authProvider: provider, fetch: service.fetch });
    await transport.finishAuth(provider.code as string);
    const token = provider.saved?.access_token as string;
    expect(decodeJwt(token)).toMatchObject({ aud: mcp.resource, client_id: 'mcp-client', iss: service.issuer });

    const client = new Client({ name: 'interop', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcp.resource), { authProvider: provider, fetch: service.fetch }));
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['whoami']);
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      const [content] = result.content as { type: string; text: string }[];
      expect(JSON.parse(content!.text)).toEqual({ sub: decodeJwt(token).sub, client_id: 'mcp-client' });
    } finally {
      await client.close();
    }
  }, 90_000);

  it("refuses the service's own tokens (another audience) at the MCP server", async () => {
    const login = await service.fetch(`${service.issuer}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(USER),
    });
    expect(login.status).toBe(200);
    const { access_token } = (await login.json()) as { access_token: string };
    const refused = await post({ authorization: `Bearer ${access_token}` });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
  });
});
