/**
 * What a request may be granted beyond scope: the resources (RFC 8707) its tokens are for, within
 * those the service knows and those its client may ask for; `invalid_target` (400) naming the
 * first outside, so that the caller knows what to fix.
 */
import { parseResources } from '../core/resource.ts';
import type { ClientRecord } from './clients.ts';
import type { HandlerContext } from './context.ts';
import { HttpError } from './respond.ts';

/** The resources of the request's `resource` parameters, each known to the service and allowed to `client`. */
export function grantedResources(c: HandlerContext, client: ClientRecord, requested: string | undefined): string[] {
  let asked: string[];
  try {
    asked = parseResources(requested);
  } catch {
    throw new HttpError('ERR_INVALID_TARGET', 'resource must be an absolute URI without a fragment (RFC 8707 §2)');
  }
  for (const r of asked) {
    if (!c.resources.has(r)) throw new HttpError('ERR_INVALID_TARGET', `${r.slice(0, 200)} is not a resource this service issues tokens for`);
    if (client.resources !== undefined && !client.resources.includes(r))
      throw new HttpError('ERR_INVALID_TARGET', `Client ${client.id} may not ask for tokens for ${r.slice(0, 200)}`);
  }
  return asked;
}
