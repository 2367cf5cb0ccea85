/**
 * The signed-in user's own endpoints, with a Bearer access token: `POST /auth/logout` (this
 * session, the others, or all), `GET /auth/sessions` and `DELETE /auth/sessions/{id}` (devices),
 * `GET /auth/me`.
 */
import { accountBearer, clearCookie } from '../context.ts';
import { describeDevice } from '../device.ts';
import type { HandlerContext, Route } from '../context.ts';
import { HttpError, json, readFields } from '../respond.ts';

export function logout(c: HandlerContext): Route {
  return {
    POST: async (request) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim();
      const f = type ? await readFields(request, c.maxBodyBytes) : {};
      const scope = f.scope ?? new URL(request.url).searchParams.get('scope') ?? 'local';
      let revoked: string[];
      // `named`: the caller's own session is named by the token just verified; a store that lost it
      // still logs its revocation, so that a 200 always means the token stops working (#22).
      if (scope === 'local') revoked = (await c.baton.revokeSession(claims.sid, { reason: 'logout', named: true })) ? [claims.sid] : [];
      else if (scope === 'others') revoked = await c.baton.revokeUserSessions(claims.sub, { except: claims.sid, reason: 'logout_everywhere', by: claims.sid });
      else if (scope === 'global') {
        revoked = await c.baton.revokeUserSessions(claims.sub, { reason: 'logout_everywhere', by: claims.sid });
        if (!revoked.includes(claims.sid) && (await c.baton.revokeSession(claims.sid, { reason: 'logout_everywhere', named: true }))) revoked.push(claims.sid);
      } else throw new HttpError('ERR_INVALID_REQUEST', 'scope must be local, others or global');
      return json({ revoked }, 200, scope === 'others' ? {} : { 'set-cookie': clearCookie(c) });
    },
  };
}

export function sessions(c: HandlerContext): Route {
  return {
    GET: async (request) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      const list = await c.baton.listSessions(claims.sub);
      // `device` gains `browser`, `os` and `name` from its user agent (device.ts); the recorded fields stay.
      return json({ sessions: list.map((s) => ({ ...s, device: describeDevice(s.device), current: s.id === claims.sid })) });
    },
  };
}

export function session(c: HandlerContext): Route {
  return {
    DELETE: async (request, _ctx, [id]) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      const own = await c.baton.listSessions(claims.sub);
      if (!own.some((s) => s.id === id)) throw new HttpError('ERR_NOT_FOUND', 'No such session of yours');
      await c.baton.revokeSession(id as string, { reason: 'kicked', by: claims.sid });
      return new Response(null, { status: 204 });
    },
  };
}

/**
 * `GET /auth/sessions/history[?before=<next>]`: the caller's own security history, newest first,
 * a page at a time (the events of up to 50 sessions); `next`, when present, asks for the page after.
 */
export function history(c: HandlerContext): Route {
  return {
    GET: async (request) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      const before = new URL(request.url).searchParams.get('before');
      // A malformed cursor is ERR_INVALID_ARGUMENT: 400 invalid_request with its sentence.
      const { events, next } = await c.baton.sessionHistoryPage(claims.sub, before === null ? {} : { before });
      return json({
        ...(next === undefined ? {} : { next }),
        events: events.map((e) => ({
          type: e.type,
          at: e.at,
          session_id: e.sessionId,
          client_id: e.clientId,
          device: describeDevice(e.device),
          current: e.sessionId === claims.sid,
          ...(e.count === undefined ? {} : { count: e.count }),
          ...(e.reason === undefined ? {} : { reason: e.reason }),
          ...(e.by === undefined ? {} : { by: { session_id: e.by, ...(e.byDevice ? { device: describeDevice(e.byDevice) } : {}) } }),
          ...(e.generation === undefined ? {} : { generation: e.generation }),
          ...(e.retiredAt === undefined ? {} : { retired_at: e.retiredAt }),
          ...(e.ip === undefined ? {} : { ip: e.ip }),
        })),
      });
    },
  };
}

export function me(c: HandlerContext): Route {
  return {
    GET: async (request) => {
      const claims = await accountBearer(c, request);
      if (claims instanceof Response) return claims;
      // `username` (RFC 7662 §2.2 names it so): the name the user signs in with, when the handler can say it.
      const username = await c.username?.(claims.sub);
      return json({
        sub: claims.sub,
        ...(username === undefined ? {} : { username }),
        sid: claims.sid,
        client_id: claims.client_id,
        scope: claims.scope ?? '',
        exp: claims.exp,
      });
    },
  };
}
