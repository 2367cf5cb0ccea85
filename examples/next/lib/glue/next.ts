/**
 * The thinnest `createBatonNext` the SSR contract describes, over ./session.ts, for this example
 * while `baton-auth/next` is not there. Same names and shapes: swap the import for the library's.
 */
import { cookies, headers } from 'next/headers';
import { NextResponse } from 'next/server';
import type { NextRequest } from 'next/server';
import { createServerSession } from './session';
import type { RemoteSessionOptions, SessionSnapshot, SessionState } from './session';

export type { SessionSnapshot, SessionState };

const NO_STORE = 'private, no-store';

/** Writes `Set-Cookie` strings through next/headers (route handlers and server actions only). */
async function writeCookies(setCookies: string[]): Promise<void> {
  const jar = await cookies();
  for (const line of setCookies) {
    const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const maxAge = Number(attrs.find((a) => a.startsWith('Max-Age='))?.slice(8) ?? '0');
    jar.set(pair.slice(0, eq), pair.slice(eq + 1), { httpOnly: true, sameSite: 'lax', path: '/', maxAge });
  }
}

function json(body: unknown, setCookies: string[], status = 200): Response {
  const res = new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': NO_STORE } });
  for (const c of setCookies) res.headers.append('set-cookie', c);
  return res;
}

/** A same-origin request (the browser says so by Sec-Fetch-Site, or by an Origin equal to the request's). */
function sameOrigin(req: Request): boolean {
  const site = req.headers.get('sec-fetch-site');
  if (site !== null) return site === 'same-origin';
  const origin = req.headers.get('origin');
  return origin !== null && origin === new URL(req.url).origin;
}

export function createBatonNext(options: RemoteSessionOptions) {
  const core = createServerSession(options);
  const cookieHeader = async (): Promise<string | null> => (await headers()).get('cookie');
  const auth = async (): Promise<SessionState> => core.read(await cookieHeader());

  async function withRefresh<T>(fn: (state: SessionState) => Promise<T>): Promise<T> {
    const { state, setCookies } = await core.refresh(await cookieHeader());
    if (setCookies.length > 0) await writeCookies(setCookies);
    return fn(state);
  }

  return {
    async proxy(request: NextRequest): Promise<NextResponse> {
      const { setCookies, requestCookie } = await core.refresh(request.headers.get('cookie'));
      if (setCookies.length === 0) {
        // A server action may set cookies (sign-in, sign-out, a refresh through withRefresh): its answer is never a shared cache's.
        if (!request.headers.has('next-action')) return NextResponse.next();
        return NextResponse.next({ headers: { 'cache-control': NO_STORE } });
      }
      // The new cookies on the request forwarded to the render too, so that every server component reads them.
      const forwarded = new Headers(request.headers);
      if (requestCookie === null) forwarded.delete('cookie');
      else forwarded.set('cookie', requestCookie);
      const res = NextResponse.next({ request: { headers: forwarded } });
      for (const c of setCookies) res.headers.append('set-cookie', c);
      res.headers.set('cache-control', NO_STORE);
      return res;
    },
    auth,
    session: async (): Promise<SessionSnapshot> => core.snapshot(await auth()),
    handlers: {
      async GET(req: Request): Promise<Response> {
        const path = new URL(req.url).pathname;
        if (path.endsWith('/session')) {
          const { state, setCookies } = await core.refresh(req.headers.get('cookie'));
          return json(core.snapshot(state), setCookies);
        }
        if (path.endsWith('/token')) {
          if (!sameOrigin(req)) return json({ error: 'forbidden' }, [], 403);
          const { state, setCookies } = await core.refresh(req.headers.get('cookie'));
          if (state.status === 'signed-out') return json({ error: 'unauthorized', reason: state.reason }, setCookies, 401);
          return json({ access_token: state.accessToken, expires_in: Math.floor((state.expiresAt - Date.now()) / 1000) }, setCookies);
        }
        return json({ error: 'not_found' }, [], 404);
      },
      async POST(req: Request): Promise<Response> {
        if (!new URL(req.url).pathname.endsWith('/signout')) return json({ error: 'not_found' }, [], 404);
        if (!sameOrigin(req)) return json({ error: 'forbidden' }, [], 403);
        const { setCookies } = await core.signOut(req.headers.get('cookie'));
        return json({ status: 'signed-out' }, setCookies);
      },
    },
    async signIn(formData: FormData): Promise<SessionState> {
      const { state, setCookies } = await core.signIn({ username: String(formData.get('username') ?? ''), password: String(formData.get('password') ?? '') });
      await writeCookies(setCookies);
      return state;
    },
    async signOut(): Promise<void> {
      await writeCookies((await core.signOut(await cookieHeader())).setCookies);
    },
    withRefresh,
  };
}

export type BatonNext = ReturnType<typeof createBatonNext>;
