/**
 * The app's one Baton session helper, against the standalone service at BATON_ISSUER. The app is a
 * confidential client of it (`npm run baton -- clients add next-example --confidential --introspect`):
 * its secret also opens the service's revocation feed, so a session revoked there is refused here within a second.
 */
import { createBatonNext } from 'baton-auth/next';

export const issuer = process.env.BATON_ISSUER ?? 'http://127.0.0.1:3000';

const clientId = process.env.BATON_CLIENT_ID ?? 'next-example';
const clientSecret = process.env.BATON_CLIENT_SECRET;

export const baton = createBatonNext({
  issuer,
  clientId,
  // The same confidential client (registered with --introspect) reads the service's revocation feed.
  ...(clientSecret === undefined ? {} : { clientSecret, introspection: { clientId, clientSecret } }),
});

/** This app's own origin for the fetches its server components make to its route handlers. */
export const self = `http://127.0.0.1:${process.env.PORT ?? '3001'}`;

const names = new Map<string, Promise<string>>();
/** Users whose names this process remembers, at most (then it forgets them all and asks again). */
const MAX_NAMES = 10_000;

/** The name a user signs in with (the service's `GET /auth/me`), asked once per user by this process. */
export function userName(sub: string, accessToken: string): Promise<string> {
  let name = names.get(sub);
  if (name === undefined) {
    if (names.size >= MAX_NAMES) names.clear();
    name = fetch(new URL('/auth/me', issuer), { headers: { authorization: `Bearer ${accessToken}` } })
      .then(async (r) => (r.ok ? ((await r.json()) as { username?: string }).username : undefined))
      .then((username) => {
        if (username === undefined) names.delete(sub); // asked again next time
        return username ?? sub;
      });
    name.catch(() => names.delete(sub));
    names.set(sub, name);
  }
  return name;
}
