/** Next.js 16's proxy (middleware.ts on 15): refreshes once per request, before any server component reads the cookies. */
import type { NextRequest } from 'next/server';
import { baton } from './lib/baton';

export function proxy(request: NextRequest) {
  return baton.proxy(request);
}

export const config = {
  // Everything but the build's static files.
  matcher: ['/((?!_next/static|_next/image|favicon.ico).*)'],
};
