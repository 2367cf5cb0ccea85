/** GET /api/auth/session and /api/auth/token, POST /api/auth/signout. */
import { baton } from '../../../../lib/baton';

export const { GET, POST } = baton.handlers;
