/**
 * Building responses: JSON, OAuth errors (RFC 6749 §5.2), Bearer challenges (RFC 6750 §3),
 * cookies, and reading request bodies with a size limit.
 */
import type { DpopError } from '../dpop/proof.ts';
import { BatonError, errorTable, isBatonError } from '../core/errors.ts';
import type { BatonErrorCode, SessionEnd } from '../core/errors.ts';
import { boundedText } from '../protocol/bounded-text.ts';
import { BUFFERED_BODY } from '../protocol/lazy-request.ts';
import { lazyResponse } from './lazy-response.ts';
import { oauthDescription } from '../protocol/oauth-error.ts';

/**
 * An HTTP failure, turned into a response by the handler: a `BatonError` whose code gives its
 * status and OAuth `error` (the one table, `errorTable` in core/errors.ts), with the sentence for
 * the client, the headers the answer carries, and extension members of the error body.
 */
export class HttpError extends BatonError {
  override name = 'BatonHttpError';
  readonly headers: Record<string, string>;
  /** Extension members of the error body (RFC 6749 §5.2 lets a server add them), e.g. `session_end`. */
  readonly members: Record<string, unknown>;

  constructor(
    code: BatonErrorCode,
    description: string,
    options: { headers?: Record<string, string>; members?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, description, { public: true, ...(options.cause === undefined ? {} : { cause: options.cause }) });
    this.headers = options.headers ?? {};
    this.members = options.members ?? {};
  }

  /** The HTTP status (`errorTable`). */
  get status(): number {
    return errorTable[this.code].status;
  }

  /** The OAuth `error` (`errorTable`). */
  get error(): string {
    return errorTable[this.code].error;
  }

  /** The `error_description`: the sentence the error was made with. */
  get description(): string {
    return this.message;
  }
}

/**
 * The `session_end` member of an error body: why the caller's session ended (only ever built from
 * an error whose caller proved it holds a token of that session).
 */
export function sessionEndMember(end: SessionEnd): Record<string, unknown> {
  const out: Record<string, unknown> = { reason: end.reason, at: end.at };
  if (end.by !== undefined) out.by = { session_id: end.by, ...(end.byDevice ? { device: end.byDevice } : {}) };
  if (end.generation !== undefined) out.generation = end.generation;
  if (end.retiredAt !== undefined) out.retired_at = end.retiredAt;
  if (end.ip !== undefined) out.ip = end.ip;
  return out;
}

/** The last `Date` header written and the second it is of: formatted once a second, not at every answer (as Node's own server does). */
let dated = { second: Number.NaN, text: '' };

/** An IMF-fixdate (RFC 9110 §5.6.7) of `ms`, in whole seconds. */
export function httpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== dated.second) dated = { second, text: new Date(second * 1000).toUTCString() };
  return dated.text;
}

const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** A JSON response, `Cache-Control: no-store` unless told otherwise (RFC 6749 §5.1 for token responses); lazy (`lazy-response.ts`). */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return lazyResponse(
    JSON.stringify(body),
    status,
    new Headers({ 'content-type': 'application/json; charset=utf-8', ...('cache-control' in headers ? {} : NO_STORE), ...headers }),
  );
}

/** An RFC 6749 §5.2 error body. */
export function oauthError(err: HttpError): Response {
  return json({ error: err.error, error_description: oauthDescription(err.description), ...err.members }, err.status, err.headers);
}

/**
 * The HTTP form of any error, the one mapping of the library (token endpoints and guards alike):
 * an `HttpError` as it is; a `BatonError` by its code — 503 and 429 with `Retry-After` (nothing
 * was lost, try again), `invalid_token` 401, `invalid_request` and the other OAuth codes 400,
 * with `session_end` when the caller proved it holds a token of the session; anything else a
 * 500 that says nothing of its cause.
 */
export function httpErrorOf(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  if (!isBatonError(err)) return new HttpError('ERR_INTERNAL', errorTable.ERR_INTERNAL.message);
  const e = err as BatonError;
  // The server's own mistake (a resource server configured against the wrong issuer): its sentence is for its logs.
  if (e.code === 'ERR_CONFIG') return new HttpError('ERR_CONFIG', 'The server is misconfigured');
  return new HttpError(e.code, e.message, { headers: headersOf(e), members: e.sessionEnd ? { session_end: sessionEndMember(e.sessionEnd) } : {} });
}

/** The headers an error's answer carries: `Retry-After` on a transient one (RFC 9110 §10.2.3), the nonce to use on `use_dpop_nonce` (RFC 9449 §8). */
function headersOf(e: BatonError): Record<string, string> {
  if (e.code === 'ERR_STORE_UNAVAILABLE') return { 'retry-after': '1' };
  if (e.code === 'ERR_RATE_LIMITED') return { 'retry-after': String(Math.max(1, Math.ceil((e.retryAfterMs ?? 1000) / 1000))) };
  // Read by shape, not `instanceof DpopError`: a DpopError of another copy of the library (which
  // `isBatonError` takes) would lose its nonce, and the client could never retry.
  const nonce = (e as Partial<DpopError>).nonce;
  if ((e.code === 'ERR_DPOP_NONCE' || e.code === 'ERR_DPOP_INVALID') && typeof nonce === 'string') return { 'dpop-nonce': nonce };
  return {};
}

/** Reads a body of at most `limit` bytes: 413 beyond it, whatever Content-Length says. */
export async function readBody(request: Request, limit: number): Promise<string> {
  const buffered = (request as { [BUFFERED_BODY]?: Uint8Array | null })[BUFFERED_BODY];
  const text = await boundedText(buffered === undefined ? request.body : buffered, limit, request.headers.get('content-length'));
  if (text === undefined) throw new HttpError('ERR_BODY_TOO_LARGE', `The request body is larger than ${limit} bytes`);
  return text;
}

/** Parameters that may be given more than once (RFC 8707 §2: `resource`); read space-joined (a URI holds no space). */
const REPEATABLE = new Set(['resource']);

/** Parses a JSON or form body into string fields; 400 for anything else. */
export async function readFields(request: Request, limit: number, allowJson = true): Promise<Record<string, string>> {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  const text = await readBody(request, limit);
  if (type === 'application/x-www-form-urlencoded') {
    // No prototype: `__proto__` is a key like any other (given twice, it is a repeat), and an absent
    // `constructor` or `toString` reads as absent.
    const fields = Object.create(null) as Record<string, string>;
    // One pass over the pairs (a form is on every token request's path), in their order.
    for (const [key, value] of new URLSearchParams(text)) {
      if (!Object.hasOwn(fields, key)) fields[key] = value;
      // RFC 6749 §3.2: request parameters must not be included more than once.
      else if (REPEATABLE.has(key)) fields[key] += ` ${value}`;
      else throw new HttpError('ERR_INVALID_REQUEST', `The parameter ${key} is repeated`);
    }
    return fields;
  }
  if (type === 'application/json' && allowJson) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new HttpError('ERR_INVALID_REQUEST', 'The body is not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new HttpError('ERR_INVALID_REQUEST', 'The body must be a JSON object');
    const fields = Object.create(null) as Record<string, string>;
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v === 'string') fields[k] = v;
      else if (REPEATABLE.has(k) && Array.isArray(v) && v.every((x) => typeof x === 'string')) fields[k] = v.join(' ');
      else if (typeof v === 'boolean' || typeof v === 'number') fields[k] = String(v);
      else if (v !== null) throw new HttpError('ERR_INVALID_REQUEST', `The field ${k} must be a string`);
    }
    return fields;
  }
  throw new HttpError(
    'ERR_INVALID_REQUEST',
    allowJson ? 'Send application/json or application/x-www-form-urlencoded' : 'Send application/x-www-form-urlencoded (RFC 6749 §4.1.3)',
  );
}
