/**
 * Consent to third-party clients: `POST /oauth/authorize/consent` ("Allow" / "Deny", same-origin
 * with the CSRF cookie, by the user the page was shown to), and the account's own list —
 * `GET /auth/consents`, `DELETE /auth/consents/{client_id}` (Bearer, like `/auth/sessions`);
 * revoking a consent also ends that user's sessions of that client.
 */
import { accountBearer } from '../http/context.ts';
import type { HandlerContext, Route } from '../http/context.ts';
import { HttpError, json, readFields } from '../http/respond.ts';
import { browserUser, failTxn, grantedScope, issue, txnClient } from './flow.ts';
import { errorPage } from './html.ts';
import { formTxn } from './hosted.ts';
import { authzErrorResponse, errorRedirect } from './response.ts';

async function decide(c: HandlerContext, request: Request): Promise<Response> {
  const f = await readFields(request, c.maxBodyBytes, false);
  const txn = await formTxn(c, request, f);
  if (txn instanceof Response) return txn;
  const user = await browserUser(c, request);
  // The page was shown to one user; only that user, still signed in here, answers it.
  if (txn.u === undefined || user === null || user.userId !== txn.u)
    return errorPage(c, 403, 'You are no longer signed in as the user this page was shown to. Start again from the application.');
  if (f.decision !== 'allow' && f.decision !== 'deny') return errorPage(c, 400, 'Choose Allow or Deny.');
  // The client and its redirect URI, still registered (the page may be 10 minutes old): before either answer goes there.
  const client = await txnClient(c, txn);
  if (f.decision === 'deny') {
    c.log?.info({ event: 'authorize.denied', client: txn.r.clientId }, 'consent denied');
    c.baton.audit({ type: 'consent.denied', user: user.userId, client: txn.r.clientId, reason: 'access_denied' });
    return errorRedirect(c, failTxn(txn, 'access_denied', 'The user denied access'));
  }
  // The scope is decided again as on the page (the user's scopes may have changed since).
  const scope = grantedScope(c, txn, user, client);
  const before = await c.authz.consents.get(user.userId, client.id);
  const union = (a: readonly string[] = [], b: readonly string[] = []): string[] => [...new Set([...a, ...b])];
  await c.authz.consents.put(user.userId, client.id, union(before?.scope, scope), c.baton.now(), union(before?.resource, txn.r.resource));
  c.log?.info({ event: 'authorize.consented', client: client.id }, 'consent given');
  c.baton.audit({ type: 'consent.granted', user: user.userId, client: client.id, scope: scope.join(' ') });
  return issue(c, txn, user, scope);
}

export function consentRoute(c: HandlerContext): Route {
  return {
    POST: async (request) => {
      try {
        return await decide(c, request);
      } catch (err) {
        return authzErrorResponse(c, err);
      }
    },
  };
}

/** `GET /auth/consents`: the caller's consents, newest first. */
export function consents(c: HandlerContext): Route {
  return {
    GET: async (request) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      const list = await c.authz.consents.list(claims.sub);
      const named = await Promise.all(
        list.map(async (x) => {
          const client = await c.clients.get(x.clientId);
          return {
            client_id: x.clientId,
            ...(client?.name === undefined ? {} : { client_name: client.name }),
            scope: x.scope.join(' '),
            ...(x.resource === undefined || x.resource.length === 0 ? {} : { resource: x.resource }),
            at: x.at,
          };
        }),
      );
      return json({ consents: named });
    },
  };
}

/** `DELETE /auth/consents/{client_id}`: forgets the consent and ends the caller's sessions of that client. */
export function consent(c: HandlerContext): Route {
  return {
    DELETE: async (request, _ctx, [clientId]) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      const id = clientId as string;
      const had = await c.authz.consents.delete(claims.sub, id);
      const ended = (await c.baton.listSessions(claims.sub)).filter((s) => s.clientId === id);
      for (const s of ended) await c.baton.revokeSession(s.id, { reason: 'kicked', by: claims.sid });
      if (!had && ended.length === 0) throw new HttpError('ERR_NOT_FOUND', 'No consent of yours to this client');
      c.baton.audit({ type: 'consent.revoked', user: claims.sub, client: id, session: claims.sid });
      return json({ revoked_sessions: ended.map((s) => s.id) });
    },
  };
}
