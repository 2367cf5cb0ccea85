/**
 * Sign-in for a command-line program with the system browser (RFC 8252, OAuth for native apps):
 * a loopback HTTP server on `127.0.0.1` with a port the system picks (§7.3; `127.0.0.1` rather
 * than `localhost`, §8.3), path `/callback`, the browser opened on the authorization URL, and
 * exactly one answer taken — the one whose `state` is this sign-in's; any other request is
 * answered 400 (or 404 off the path) and ignored. Then a small "you can close this tab" page, and
 * the server closes — on success, failure, timeout or abort alike. Import from `baton-auth-client/node`.
 *
 * @example
 * ```ts
 * import { createTokenClient } from 'baton-auth-client';
 * import { fileStorage, signInWithBrowser } from 'baton-auth-client/node';
 * const client = createTokenClient({ issuer, clientId: 'my-cli', storage: fileStorage(path) });
 * await signInWithBrowser(client, { scope: 'openid offline_access' });
 * ```
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { escapeHtml } from 'baton-auth/protocol';
import type { TokenClient } from './client.ts';
import { authorizationRequest, checkFlowOptions, codeOf, redeemCode, stateMatches } from './code-flow.ts';
import type { CodeFlowOptions, CodeSignIn, PendingSignIn } from './code-flow.ts';
import { BatonClientError, checkNumbers, configError } from './errors.ts';
import { partsOf } from './internals.ts';
import type { ClientParts } from './internals.ts';

/** Options of `signInWithBrowser`. */
export interface BrowserSignInOptions extends CodeFlowOptions {
  /**
   * Opens the authorization URL. Default (`showAndOpen`): the URL on standard error, then the system
   * browser (`xdg-open`, `open`, or on Windows `rundll32 url.dll,FileProtocolHandler`); on a machine
   * with no browser (SSH, a container) the user opens the printed URL elsewhere.
   */
  open?: (url: string) => void | Promise<void>;
  /** How long to wait for the browser to come back, ms. Default 5 minutes. */
  timeoutMs?: number;
  /** Aborts the wait; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

/**
 * `signInWithBrowser`'s default `open`: `url` on standard error, then the system browser. A
 * browser that cannot be started is said on the same line and the sign-in keeps waiting: on a
 * machine without one (over SSH, in a container) the user opens the URL on another — RFC 8252 §7.3's
 * loopback redirect then needs that browser on this machine, so the sentence says so.
 */
export async function showAndOpen(url: string, o: { write?: (line: string) => void; open?: (url: string) => Promise<void> } = {}): Promise<void> {
  const write = o.write ?? ((line: string) => void process.stderr.write(line));
  write(`To sign in, open this URL in a browser on this machine:\n  ${url}\n`);
  try {
    await (o.open ?? openInSystemBrowser)(url);
  } catch (err) {
    write(`(No browser could be opened: ${(err as Error).message.slice(0, 200)} Open the URL above yourself.)\n`);
  }
}

/**
 * The system browser on `url`, started without a shell (the URL is one argument, never parsed by
 * one). Not `cmd /c start` on Windows: cmd would read the URL's `&` as a command separator and
 * expand its `%…%`; `rundll32 url.dll,FileProtocolHandler` takes it as it is.
 */
export function openInSystemBrowser(url: string): Promise<void> {
  if (!/^https?:\/\//.test(url)) return Promise.reject(configError(`Only an http(s) URL is opened in the browser, not ${JSON.stringify(url.slice(0, 40))}.`));
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['rundll32', ['url.dll,FileProtocolHandler', url]] : ['xdg-open', [url]];
  return new Promise((resolve, reject) => {
    const child = spawn(command as string, args as string[], { stdio: 'ignore', detached: true, shell: false });
    child.once('error', (err) =>
      reject(
        new BatonClientError('ERR_BROWSER_NOT_OPENED', `The browser could not be opened (${command}: ${err.message}); pass \`open\` to show the URL yourself.`),
      ),
    );
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}

/** The page the browser shows at the end; no script, no outside resource, and no `Referer` from it (its URL held the code). */
function page(res: ServerResponse, status: number, text: string): Promise<void> {
  const html = `<!doctype html><meta charset="utf-8"><title>Sign-in</title><p style="font:16px system-ui;margin:3em">${escapeHtml(text)}</p>`;
  return new Promise((resolve) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      connection: 'close',
    });
    res.end(html, () => resolve());
  });
}

/** One sign-in's wait for its answer: the request handler, settled once. */
function answerHandler(p: ClientParts, pending: PendingSignIn, origin: string, signal: AbortSignal, settle: (r: Promise<CodeSignIn>) => void) {
  let taken = false;
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', origin);
    // Only requests to this server by its own name (not a page's request through DNS rebinding).
    if (req.headers.host !== new URL(origin).host) return void page(res, 400, 'This address only answers the sign-in it was made for.');
    if (req.method !== 'GET' || url.pathname !== '/callback') return void page(res, 404, 'Not found.');
    if (taken || !stateMatches(url.searchParams, pending))
      return void page(res, 400, 'This is not the answer the sign-in in your terminal is waiting for. Start the sign-in again there if it is stuck.');
    taken = true;
    // Settled once the page is written, so that closing the server does not cut it off.
    const done = (async () => redeemCode(p, pending, codeOf(url.searchParams, pending), signal))().then(
      async (signedIn) => {
        await page(res, 200, 'Signed in. You can close this tab and return to the terminal.');
        return signedIn;
      },
      async (err: unknown) => {
        await page(res, 400, `Sign-in failed: ${(err as Error).message} Return to the terminal.`);
        throw err;
      },
    );
    settle(done);
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Throws `ERR_CONFIG` unless the options are as documented. */
function checkOptions(o: BrowserSignInOptions): void {
  if (typeof o !== 'object' || o === null) throw configError('signInWithBrowser: `options` must be an object.');
  if (o.open !== undefined && typeof o.open !== 'function') throw configError('signInWithBrowser: `open` must be a function of the URL.');
  checkNumbers('signInWithBrowser', o, ['timeoutMs'], 1);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw configError('signInWithBrowser: `signal` must be an AbortSignal.');
  checkFlowOptions(o, 'signInWithBrowser');
}

/**
 * Signs in through the system browser and a loopback server (see the file's comment), with the
 * code flow of `signInWithRedirect`: PKCE, `state`, `nonce` with `openid`, `dpop_jkt`, PAR when
 * required or asked, `iss` checked. Resolves with the tokens (stored in the client) once the
 * browser came back and the code was redeemed; rejects with `ERR_SIGN_IN_TIMEOUT` after
 * `timeoutMs`, the signal's reason on abort, `ERR_BROWSER_NOT_OPENED`, or the flow's own errors.
 */
export async function signInWithBrowser(client: TokenClient, options: BrowserSignInOptions = {}): Promise<CodeSignIn> {
  const p = partsOf(client, 'signInWithBrowser');
  checkOptions(options);
  options.signal?.throwIfAborted();
  const stop = new AbortController(); // ends the code's redemption when the wait ends first
  const server = createServer();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  // The whole sign-in is bounded, discovery and PAR included: every step races this.
  const ended = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BatonClientError('ERR_SIGN_IN_TIMEOUT', `The sign-in did not complete within ${Math.round(timeoutMs / 1000)} s; sign in again.`)),
      timeoutMs,
    );
    onAbort = () => reject(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  ended.catch((err: unknown) => stop.abort(err));
  try {
    const origin = `http://127.0.0.1:${await Promise.race([listen(server), ended])}`;
    const request = authorizationRequest(p, { ...options, redirectUri: `${origin}/callback` }, 'signInWithBrowser');
    const { url, pending } = await Promise.race([request, ended]);
    const answered = new Promise<CodeSignIn>((resolve, reject) => {
      server.on(
        'request',
        answerHandler(p, pending, origin, stop.signal, (done) => done.then(resolve, reject)),
      );
      Promise.resolve()
        .then(() => (options.open ?? ((u: string) => showAndOpen(u)))(url))
        .catch(reject);
    });
    return await Promise.race([answered, ended]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) options.signal?.removeEventListener('abort', onAbort);
    stop.abort();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
