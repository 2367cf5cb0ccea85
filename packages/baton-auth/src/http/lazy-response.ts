/**
 * The handler's JSON answers as lazy `Response`s: status, headers (a real `Headers`) and the text,
 * with undici's `Response` and its body stream built only when something asks for more (`body`,
 * `text()`, `clone()`…). The Node adapters write status, headers and text as they are; for every
 * other caller the handler hands over the real object (`answerFor`), since runtimes and
 * frameworks check a `Response` by its brand. Building the `Response` and its stream was about 8 %
 * of an introspection's CPU through the Node adapter (a profile of `npm run bench`, 2026-12-07).
 */

import { delegateTo, isLazyRequest, underCurrent } from '../protocol/lazy-request.ts';

const parts = Symbol('parts');

interface Parts {
  status: number;
  headers: Headers;
  text: string;
  real: Response | undefined;
}

interface LazyResponse {
  [parts]: Parts;
}

function built(r: LazyResponse): Response {
  const p = r[parts];
  p.real ??= new Response(p.text, { status: p.status, headers: p.headers });
  return p.real;
}

const prototype = {
  get status(): number {
    return (this as unknown as LazyResponse)[parts].status;
  },
  get ok(): boolean {
    const { status } = (this as unknown as LazyResponse)[parts];
    return status >= 200 && status <= 299;
  },
  get headers(): Headers {
    const p = (this as unknown as LazyResponse)[parts];
    return p.real?.headers ?? p.headers;
  },
};
delegateTo(
  prototype,
  Response,
  built,
  ['body', 'bodyUsed', 'redirected', 'statusText', 'type', 'url'],
  ['arrayBuffer', 'blob', 'bytes', 'clone', 'formData', 'json', 'text'],
);

/** A response of `status` with `headers` and the body `text`, built only when something needs more than these. */
export function lazyResponse(text: string, status: number, headers: Headers): Response {
  underCurrent(prototype, Response);
  const response = Object.create(prototype) as LazyResponse;
  response[parts] = { status, headers, text, real: undefined };
  return response as unknown as Response;
}

/** The text of a lazy response nothing has built yet (what the Node adapters write), else undefined. */
export function unbuiltText(response: Response): string | undefined {
  const p = (response as unknown as Partial<LazyResponse>)[parts];
  return p !== undefined && p.real === undefined ? p.text : undefined;
}

/**
 * The answer to `request` as the handler hands it over: lazy only to this package's Node adapters
 * (which sent a lazy request and write it as it is), a real `Response` to anyone else.
 */
export function answerFor(request: Request, response: Response): Response {
  const lazy = (response as unknown as Partial<LazyResponse>)[parts] !== undefined;
  return lazy && !isLazyRequest(request) ? built(response as unknown as LazyResponse) : response;
}
