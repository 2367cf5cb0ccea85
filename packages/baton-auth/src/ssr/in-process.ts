/**
 * In-process mode: the app holds the `Baton` — `login`, `refresh`, `verify` and `revoke` are calls,
 * not requests, and a revocation is known as soon as the engine's store publishes it.
 */
import { BatonConfigError, BatonError } from '../core/errors.ts';
import type { Backend, InProcessSessionOptions } from './types.ts';

/** The backend of in-process mode. */
export function inProcessBackend(o: InProcessSessionOptions): Backend {
  const { baton } = o;
  if (typeof baton?.verify !== 'function') throw new BatonConfigError('createServerSession needs `baton` (a Baton) or `issuer` (the token service URL).');
  const clientId = o.clientId ?? 'default';
  const audience = o.audience ?? baton.audience;
  return {
    verify: (token) => baton.verify(token, { audience }),
    async login(username, password, ip) {
      if (o.authenticate === undefined) throw new BatonConfigError('signIn needs the `authenticate` option in in-process mode (it checks the password).');
      const who = await o.authenticate(username, password);
      if (who === null) throw new BatonError('ERR_LOGIN_FAILED', 'Wrong username or password', { public: true });
      return baton.login(who.userId, { clientId, ...(who.scope === undefined ? {} : { scope: who.scope }), ...(ip === undefined ? {} : { device: { ip } }) });
    },
    refresh: (refreshToken) => baton.refresh(refreshToken, { clientId }),
    revoke: (refreshToken) => baton.revoke(refreshToken, { clientId }),
    close: () => undefined,
  };
}
