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

/** How the client names itself: registered with `baton clients add`, registered by the SDK (RFC 7591), or a client ID metadata document. */
type Identity = { clientId: string } | { clientMetadataUrl: string } | 'register';

/** An MCP client's OAuth side whose "redirect" is a person signing in in Chromium. */
class BrowserProvider implements OAuthClientProvider {
  saved: OAuthTokens | undefined;
  info: OAuthClientInformationMixed | undefined;
  clientMetadataUrl?: string;
  verifier = '';
  code: string | undefined;
  authorizationUrl: URL | undefined;
  readonly sent = 'mcp-state-' + Math.random().toString(36).slice(2);
  private readonly rp: RelyingParty;
  private readonly context: BrowserContext;
  constructor(rp: RelyingParty, context: BrowserContext, identity: Identity) {
    this.rp = rp;
    this.context = context;
    if (typeof identity === 'object' && 'clientId' in identity) this.info = { client_id: identity.clientId };
    if (typeof identity === 'object' && 'clientMetadataUrl' in identity) this.clientMetadataUrl = identity.clientMetadataUrl;
  }
  get redirectUrl() {
    return `${this.rp.origin}/callback`;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'MCP interop client',
      redirect_uris: [this.redirectUrl],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
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
    [service, rp] = await Promise.all([
      startAuthzService(
        // Registration open and the MCP server's host listed for client ID metadata documents: the three ways an MCP client names itself.
        { BATON_RESOURCES: mcp.resource, BATON_CLIENT_REGISTRATION: 'open', BATON_CLIENT_METADATA_HOSTS: new URL(mcp.origin).host },
        certificates,
      ),
      startRelyingParty(),
    ]);
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

  /** The SDK's whole dance: refused, redirected (signed in in Chromium), finishAuth, then a tool called. */
  const signInAndCall = async (provider: BrowserProvider) => {
    const transport = () => new StreamableHTTPClientTransport(new URL(mcp.resource), { authProvider: provider, fetch: service.fetch });
    // Refused, after the redirect: UnauthorizedError; anything else on the way is the failure itself.
    const refused = await new Client({ name: 'interop', version: '1.0.0' }).connect(transport()).then(
      () => new Error('connected without signing in'),
      (err: unknown) => err,
    );
    if (!(refused instanceof UnauthorizedError)) throw refused;
    const asked = provider.authorizationUrl as URL;
    expect(asked.origin).toBe(service.issuer);
    expect(Object.fromEntries(asked.searchParams)).toMatchObject({ response_type: 'code', code_challenge_method: 'S256', resource: mcp.resource });
    expect(provider.code, 'the hosted sign-in brought back a code').toBeTruthy();
    await transport().finishAuth(provider.code as string);
    const token = provider.saved?.access_token as string;
    const client = new Client({ name: 'interop', version: '1.0.0' });
    await client.connect(transport());
    try {
      expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['whoami']);
      const [content] = (await client.callTool({ name: 'whoami', arguments: {} })).content as { text: string }[];
      return { asked, claims: decodeJwt(token), whoami: JSON.parse(content!.text) as { sub: string; client_id: string } };
    } finally {
      await client.close();
    }
  };

  it('a client registered with `baton clients add` signs in (redirectToAuthorization in Chromium, finishAuth) and calls a tool with a token for this resource', async () => {
    const { asked, claims, whoami } = await signInAndCall(new BrowserProvider(rp, context, { clientId: 'mcp-client' }));
    expect(asked.searchParams.get('client_id')).toBe('mcp-client');
    expect(claims).toMatchObject({ aud: mcp.resource, client_id: 'mcp-client', iss: service.issuer });
    expect(whoami).toEqual({ sub: claims.sub, client_id: 'mcp-client' });
  }, 60_000);

  it('a client the SDK registers itself (RFC 7591, the registration endpoint of the metadata) signs in and calls a tool', async () => {
    const provider = new BrowserProvider(rp, context, 'register');
    const { asked, claims, whoami } = await signInAndCall(provider);
    const id = provider.info?.client_id as string;
    expect(id).toBeTruthy();
    expect(asked.searchParams.get('client_id')).toBe(id);
    expect(whoami).toEqual({ sub: claims.sub, client_id: id });
  }, 60_000);

  it('a client named by its client ID metadata document (an https client_id on a listed host) signs in and calls a tool', async () => {
    const url = `${mcp.origin}/clients/interop.json`;
    mcp.serveJson('/clients/interop.json', {
      client_id: url,
      client_name: 'MCP interop client (metadata document)',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    const { asked, claims, whoami } = await signInAndCall(new BrowserProvider(rp, context, { clientMetadataUrl: url }));
    expect(asked.searchParams.get('client_id')).toBe(url);
    expect(whoami).toEqual({ sub: claims.sub, client_id: url });
  }, 60_000);

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
