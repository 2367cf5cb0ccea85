/**
 * Express adapter. Import from `baton-auth/adapters/express`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { endpoints, requireAuth } from 'baton-auth/adapters/express';
 * app.use(endpoints(handler));                       // the token endpoints (mount before body parsers)
 * app.get('/api/profile', requireAuth(baton), (req, res) => res.json({ user: req.auth.sub }));
 * app.post('/api/orders', requireAuth(baton, { scope: 'orders:write' }), …);
 * ```
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AccessTokenClaims } from '../core/access-token.ts';
import type { Baton } from '../core/baton.ts';
import { createAutoRefresh } from '../http/auto-refresh.ts';
import type { AutoRefreshOptions } from '../http/auto-refresh.ts';
import { createGuard } from '../http/guard.ts';
import { requestUrls, validHost } from '../http/urls.ts';
import { resourceMetadataDocument } from '../http/resource-metadata.ts';
import type { ResourceMetadataOptions } from '../http/resource-metadata.ts';
import type { GuardOutcome, RequireAuthOptions, TokenVerifier } from '../http/guard.ts';
import { Refusal } from '../http/refusal.ts';
import type { AuthHandler } from '../http/handler.ts';
import { writeResponse } from './node.ts';
import { lazyWebRequest } from './node-request.ts';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /**
       * The verified access token's claims, set by `requireAuth` or `autoRefresh` before the
       * route runs: typed as present for the routes behind them. Elsewhere it is `undefined`.
       */
      auth: Readonly<AccessTokenClaims>;
    }
  }
}

function origin(req: Request): string {
  return `${req.protocol}://${validHost(req.get('host')) ?? 'localhost'}`;
}

function send(res: Response, refusal: Refusal): void {
  res.status(refusal.status).set(refusal.headers).json(refusal.body);
}

/**
 * Serves the token endpoints; other paths go on to the next middleware. The handler sees the
 * client at `req.ip`, which follows Express's `trust proxy` setting: behind a proxy, set it
 * (`app.set('trust proxy', 1)`) so that login protection counts the client, not the proxy.
 */
export function endpoints(handler: AuthHandler): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const pathname = req.originalUrl.split('?')[0] ?? '/';
    if (!handler.handles(pathname)) return next();
    lazyWebRequest(req, { origin: origin(req), maxBodyBytes: handler.maxBodyBytes, url: req.originalUrl })
      .then((request) => handler(request, { ip: req.ip ?? req.socket.remoteAddress ?? 'unknown' }))
      .then((response) => writeResponse(res, response), next);
  };
}

/**
 * Requires an access token for the API's `audience` — Bearer (RFC 6750), or DPoP-bound with its
 * proof (RFC 9449 §7) — verified by `verifier` (a Baton, or a verifier of another issuer's
 * tokens); the claims land on `req.auth`.
 */
export function requireAuth(verifier: TokenVerifier, options: RequireAuthOptions): RequestHandler {
  const guard = createGuard<Request>(verifier, options, (req) => ({
    proof: req.get('dpop'),
    method: req.method,
    url: requestUrls(options.origin, req.protocol, req.host, req.originalUrl),
  }));
  const pass = (req: Request, res: Response, next: NextFunction, outcome: GuardOutcome): void => {
    if (outcome instanceof Refusal) return send(res, outcome);
    req.auth = outcome;
    next();
  };
  return (req: Request, res: Response, next: NextFunction) => {
    const outcome = guard(req.headers.authorization, req.originalUrl, req);
    if (outcome instanceof Promise) outcome.then((result) => pass(req, res, next, result), next);
    else pass(req, res, next, outcome);
  };
}

/** Transparent refresh from HttpOnly cookies (backend-for-frontend); the claims land on `req.auth`. */
export function autoRefresh(baton: Baton, options: AutoRefreshOptions = {}): RequestHandler {
  const decide = createAutoRefresh(baton, options);
  return (req: Request, res: Response, next: NextFunction) => {
    decide({ method: req.method, cookie: req.headers.cookie, origin: req.headers.origin, secFetchSite: req.get('sec-fetch-site') }).then((result) => {
      for (const cookie of result.setCookies) res.append('Set-Cookie', cookie);
      if (!result.ok) return send(res, result.refusal);
      req.auth = result.claims;
      next();
    }, next);
  };
}

/**
 * Serves this API's RFC 9728 metadata at its well-known path (`app.use(resourceMetadata({ resource, authorizationServers }))`);
 * give `requireAuth` the same document's URL as `resourceMetadata` to name it in challenges.
 */
export function resourceMetadata(options: ResourceMetadataOptions): RequestHandler {
  const { path, body } = resourceMetadataDocument(options);
  return (req, res, next) => (req.method === 'GET' && req.path === path ? void res.set('cache-control', 'public, max-age=300').json(body) : next());
}
