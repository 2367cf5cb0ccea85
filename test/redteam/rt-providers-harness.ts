/**
 * An OpenID Connect provider in process, reached through `upstreamProvider`'s `fetch` option (no
 * socket): discovery, JWKS, a token endpoint answering an ID token with the claims a test chooses
 * (signed with its own key, with the request's `nonce`), and UserInfo. The red team's harness for
 * what a provider may say (issue #27): claims the real test providers cannot be made to send.
 */
import { generateKeyPair, exportJWK, SignJWT } from 'jose';
import type { JWK } from 'jose';

export interface FakeOp {
  issuer: string;
  fetch: (url: string, init: RequestInit) => Promise<Response>;
  /** The ID token's claims beyond iss, sub, aud, exp, iat and nonce. */
  idClaims: Record<string, unknown>;
  /** UserInfo's claims beyond sub; undefined: no userinfo_endpoint. */
  userinfo: Record<string, unknown> | undefined;
  /** A body to answer instead at a path (GitHub's API paths). */
  override: Map<string, () => Response>;
  /** Requests by path. */
  seen: string[];
}

export async function fakeOp(issuer = 'https://op.example', sub = 'subject-1'): Promise<FakeOp> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const challenges = new Map<string, { nonce: string | null }>();
  const op: FakeOp = {
    issuer,
    idClaims: {},
    userinfo: undefined,
    override: new Map(),
    seen: [],
    fetch: async (url, init) => {
      const u = new URL(url);
      op.seen.push(u.pathname);
      const special = op.override.get(u.pathname);
      if (special !== undefined) return special();
      const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
      if (u.pathname === '/.well-known/openid-configuration')
        return json({
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          ...(op.userinfo === undefined ? {} : { userinfo_endpoint: `${issuer}/userinfo` }),
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
        });
      if (u.pathname === '/jwks') return json({ keys: [jwk] });
      if (u.pathname === '/token') {
        const form = new URLSearchParams(String(init.body));
        const code = form.get('code') ?? '';
        const nonce = challenges.get(code)?.nonce ?? null;
        const idToken = await new SignJWT({ ...(nonce === null ? {} : { nonce }), ...op.idClaims })
          .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
          .setIssuer(issuer)
          .setSubject(sub)
          .setAudience(form.get('client_id') ?? 'rp')
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(privateKey);
        return json({ access_token: 'at-fake', token_type: 'Bearer', id_token: idToken, expires_in: 300 });
      }
      if (u.pathname === '/userinfo' && op.userinfo !== undefined) return json({ sub, ...op.userinfo });
      return json({ error: 'not_found' }, 404);
    },
  };
  /** Registers what the authorization endpoint was asked (the code's nonce). */
  (op as FakeOp & { authorize(url: URL): string }).authorize = (url: URL) => {
    const code = `code-${challenges.size}`;
    challenges.set(code, { nonce: url.searchParams.get('nonce') });
    return code;
  };
  return op;
}

/** The provider's answer to `authorizeUrl`: the callback URL with a fresh code and the request's state. */
export function answer(op: FakeOp, authorizeUrl: URL, redirectUri: string): URL {
  const code = (op as FakeOp & { authorize(url: URL): string }).authorize(authorizeUrl);
  const back = new URL(redirectUri);
  back.searchParams.set('code', code);
  back.searchParams.set('state', authorizeUrl.searchParams.get('state') as string);
  return back;
}
