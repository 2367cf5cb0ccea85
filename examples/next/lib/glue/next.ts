/**
 * The thinnest `createBatonNext` of the SSR contract, over `baton-auth/ssr`, for this example
 * while `baton-auth/next` is not there: the same names and shapes, so that the switch is one import.
 */
import { cookies } from 'next/headers';
import { NextResponse } from 'next/server';
import type { NextRequest } from 'next/server';
import { createServerSession, noStore } from 'baton-auth/ssr';
import type { ServerSessionOptions, SessionSnapshot, SessionState } from 'baton-auth/ssr';

/** One of the session's own `Set-Cookie` strings written through next/headers (route handlers and server actions only). */
async function writeCookies(setCookies: string[]): Promise<void> {
  const jar = await cookies();
  for (const line of setCookies) {
    const [pair = '', ...attributes] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const has = (name: string) => attributes.some((a) => a.toLowerCase() === name);
    const maxAge = attributes.find((a) => a.toLowerCase().startsWith('max-age='));
    const path = attributes.find((a) => a.toLowerCase().startsWith('path='));
    jar.set(pair.slice(0, eq), pair.slice(eq + 1), {
      httpOnly: has('httponly'),
      secure: has('secure'),
      sameSite: 'strict',
      path: path?.slice(5) ?? '/',
      ...(maxAge === undefined ? {} : { maxAge: Number(maxAge.slice(8)) }),
    });
  }
}

const cookieHeader = async (): Promise<string | null> => {
  const all = (await cookies()).getAll();
  return all.length === 0 ? null : all.map((c) => `${c.name}=${c.value}`).join('; ');
};

function json(body: unknown, setCookies: string[], status = 200): Response {
  const headers = noStore(new Headers({ 'content-type': 'application/json' }));
  for (const c of setCookies) headers.append('set-cookie', c);
  return new Response(JSON.stringify(body), { status, headers });
}

/** A same-origin request (the browser says so by Sec-Fetch-Site, or by an Origin equal to the request's). */
function sameOrigin(req: Request): boolean {
  const site = req.headers.get('sec-fetch-site');
  if (site !== null) return site === 'same-origin';
  return req.headers.get('origin') === new URL(req.url).origin;
}

export function createBatonNext(options: ServerSessionOptions) {
  const core = createServerSession(options);
  const auth = async (): Promise<SessionState> => core.read(await cookieHeader());
  return {
    async proxy(request: NextRequest): Promise<NextResponse> {
      const { setCookies, requestCookie } = await core.refresh(request.headers.get('cookie'));
      if (setCookies.length === 0 && requestCookie === request.headers.get('cookie')) return NextResponse.next();
      // The new cookies on the request forwarded to the render too, so that every server component reads them.
      const forwarded = new Headers(request.headers);
      if (requestCookie === null) forwarded.delete('cookie');
      else forwarded.set('cookie', requestCookie);
      const res = NextResponse.next({ request: { headers: forwarded } });
      for (const c of setCookies) res.headers.append('set-cookie', c);
      if (setCookies.length > 0) noStore(res.headers);
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
          if (state.status !== 'signed-in') return json({ error: 'unauthorized', reason: state.reason }, setCookies, 401);
          return json({ access_token: state.accessToken, expires_in: Math.floor((state.expiresAt - Date.now()) / 1000) }, setCookies);
        }
        return json({ error: 'not_found' }, [], 404);
      },
      async POST(req: Request): Promise<Response> {
        if (!new URL(req.url).pathname.endsWith('/signout')) return json({ error: 'not_found' }, [], 404);
        if (!sameOrigin(req)) return json({ error: 'forbidden' }, [], 403);
        return json({ status: 'signed-out' }, (await core.signOut(req.headers.get('cookie'))).setCookies);
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
    async withRefresh<T>(fn: (state: SessionState) => Promise<T>): Promise<T> {
      const { state, setCookies } = await core.refresh(await cookieHeader());
      await writeCookies(setCookies);
      return fn(state);
    },
  };
}
