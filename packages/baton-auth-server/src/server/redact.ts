/**
 * Store URLs in logs and messages: the credentials a URL holds, hidden (`redactUrl`, `redactIn`),
 * and a URL whose authority cannot be told refused (`checkStoreUrl`).
 */
import { BatonConfigError } from 'baton-auth';

/**
 * Query parameters that carry a credential: drivers read `?password=` (ioredis, postgres),
 * `?sslpassword=`, `?sslkey=`, tokens and secrets of every spelling.
 */
const CREDENTIAL_PARAM = /pass|pwd|secret|token|key|auth|cred/i;

/** A URL's scheme, user part (before the last `@` of the authority), the rest of the authority and path, and its query and fragment. */
function urlParts(url: string): { scheme: string; user: string | undefined; rest: string; query: string; fragment: string } {
  const scheme = /^[a-z][a-z0-9+.-]*:(?:\/\/)?/i.exec(url)?.[0] ?? '';
  let rest = url.slice(scheme.length);
  const hash = rest.indexOf('#');
  const fragment = hash === -1 ? '' : rest.slice(hash);
  if (hash !== -1) rest = rest.slice(0, hash);
  const mark = rest.indexOf('?');
  const query = mark === -1 ? '' : rest.slice(mark);
  if (mark !== -1) rest = rest.slice(0, mark);
  const authority = scheme.endsWith('//') ? (rest.split('/')[0] as string) : '';
  const at = authority.lastIndexOf('@');
  return at === -1 ? { scheme, user: undefined, rest, query, fragment } : { scheme, user: rest.slice(0, at), rest: rest.slice(at + 1), query, fragment };
}

/**
 * The user part of a URL whose authority cannot be told: an `@` after it (a raw `/`, `?` or `#`
 * in a password ends the authority early, `redis://:pa/ss@host`, and drivers disagree on where
 * it ends), or an `@` with no `//` before it (`redis:pw@host`) — everything between the scheme
 * and the last `@`; undefined for a URL that parses as written.
 */
function ambiguousUser(url: string): string | undefined {
  if (/^(sqlite|memory):/i.test(url)) return undefined; // a file path, which may hold an @
  const { scheme, rest, query, fragment } = urlParts(url);
  if (!`${rest}${query}${fragment}`.includes('@')) return undefined;
  return url.slice(scheme.length, url.lastIndexOf('@'));
}

const decoded = (v: string): string => {
  try {
    return decodeURIComponent(v.replace(/\+/g, ' '));
  } catch {
    return v;
  }
};

/** A `name=value` pair (in the query, or `;`-separated in the path) that carries a credential: its name says so, or its value sets one (`options=-c password=…`). */
const PAIR = /([?&;])([^=&;?#]*)=([^&;#]*)/g;
const holdsCredential = (name: string, value: string): boolean =>
  CREDENTIAL_PARAM.test(decoded(name)) || /(?:pass|pwd|secret|token|key|auth|cred)[^=]*=/i.test(decoded(value));

/** The password of a user part, raw or percent-encoded (`%3A` spelling the colon). */
function passwordOf(user: string): string | undefined {
  if (user.includes(':')) return user.slice(user.indexOf(':') + 1);
  const plain = decoded(user);
  return plain.includes(':') ? plain.slice(plain.indexOf(':') + 1) : undefined;
}

/** The credentials a URL holds — its user part's password, the values of credential-like parameters — as written and decoded. */
export function credentialsOf(url: string): string[] {
  const found: string[] = [];
  const unclear = ambiguousUser(url);
  if (unclear !== undefined) {
    // Its password's pieces too (≥ 3 characters), as a driver that split it may print them.
    const password = passwordOf(unclear) ?? unclear;
    found.push(unclear, password, ...password.split(/[/?#;@]/).filter((piece) => piece.length >= 3));
  }
  const { user, rest, query } = urlParts(url);
  const password = user === undefined ? undefined : passwordOf(user);
  if (password !== undefined) found.push(password, ...(user?.includes(':') ? [] : [user as string]));
  for (const [, , name, value] of `${rest}${query}`.matchAll(PAIR)) {
    if (holdsCredential(name as string, value as string))
      found.push(value as string, ...[...decoded(value as string).matchAll(/=(\S+)/g)].map((m) => m[1] as string));
  }
  return [...new Set(found.flatMap((v) => [v, decoded(v)]))].filter((v) => v !== '');
}

/**
 * A URL fit for a log line or a message (the one helper for every store URL the service and the
 * commands print): the user part's password and every credential-like parameter's value become
 * `***`; the user name, hosts, path and other parameters stay, to say which store it is. A URL
 * whose authority cannot be told (`ambiguousUser`) is shown as its scheme alone.
 */
export function redactUrl(url: string): string {
  const { scheme, user, rest, query, fragment } = urlParts(url);
  if (ambiguousUser(url) !== undefined) return `${scheme}<redacted>`;
  const who = user === undefined ? '' : `${passwordOf(user) === undefined ? user : user.includes(':') ? `${user.slice(0, user.indexOf(':'))}:***` : '***'}@`;
  const masked = `${rest}${query}`.replace(PAIR, (pair, sep: string, name: string, value: string) =>
    holdsCredential(name, value) ? `${sep}${name}=***` : pair,
  );
  return `${scheme}${who}${masked}${fragment}`;
}

/**
 * Refuses a network store URL whose authority cannot be told (`ambiguousUser`): a driver would
 * read another host, user or password than meant, and the URL could not be printed safely.
 */
export function checkStoreUrl(url: string): void {
  if (!/^(rediss?|redis\+cluster|postgres(ql)?):/i.test(url) || ambiguousUser(url) === undefined) return;
  throw new BatonConfigError(
    `BATON_STORE ${redactUrl(url)} has an @ after its host, or no // before its user part: percent-encode /, ?, #, @ and : in the user name and password (%2F, %3F, %23, %40, %3A), as in redis://:p%2Fss@host:6379.`,
  );
}

/** `text` (a driver's error message, say) with the URL and each credential it holds replaced by their redacted forms. */
export function redactIn(text: string, url: string): string {
  let out = text.split(url).join(redactUrl(url));
  // Longest first: a password that contains another credential is hidden whole.
  for (const secret of credentialsOf(url).sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}
