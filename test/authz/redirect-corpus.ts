/**
 * Hostile `redirect_uri` values (issue #25): what an attacker presents to an authorization
 * endpoint hoping to be redirected to, generated from three registered URIs — a web app's
 * (`https://app.example.com/callback`), a native app's loopback one (`http://127.0.0.1/cb`, which
 * matches with any port, RFC 8252 §7.3) and a private-use scheme (`com.example.app:/cb`, RFC 8252
 * §7.1). The rule under test is exact string comparison (RFC 9700 §4.1.3, OAuth 2.1 §2.3.1): every
 * value here differs from every registered URI in something other than a loopback port, so every
 * one must be refused. Known bypasses it covers: openauth#299 (unchecked redirect_uri), Zitadel
 * #12559 and Keycloak #48430 (matching that normalised or prefix-matched).
 */

import { DANGEROUS, LOOPBACK_NOTATIONS } from './redirect-corpus-values.ts';

export const REGISTERED = ['https://app.example.com/callback', 'http://127.0.0.1/cb', 'com.example.app:/cb'] as const;

/** A registered URI split where the mutations go: scheme (with its separator), authority, path. */
interface Parts {
  scheme: string;
  sep: string;
  host: string;
  path: string;
}

const PARTS: readonly Parts[] = [
  { scheme: 'https', sep: '://', host: 'app.example.com', path: '/callback' },
  { scheme: 'http', sep: '://', host: '127.0.0.1', path: '/cb' },
  { scheme: 'com.example.app', sep: ':', host: '', path: '/cb' },
];

const join = (p: Parts, o: Partial<Parts> = {}): string => {
  const q = { ...p, ...o };
  return `${q.scheme}${q.sep}${q.host}${q.path}`;
};

/** Path traversal, dot segments and their percent-encodings (single, double, mixed case). */
function traversal(p: Parts): string[] {
  const dots = ['..', '.', '%2e%2e', '%2E%2E', '%2e.', '.%2e', '%2E.', '%252e%252e', '%252E%252E', '%%32%65%%32%65', '%c0%ae%c0%ae', '%u002e%u002e'];
  const slashes = ['/', '%2f', '%2F', '%5c', '%5C', '\\', '%252f', '%255c', '//', '/./'];
  const out: string[] = [];
  for (const d of dots)
    for (const s of slashes) {
      out.push(join(p, { path: `${p.path}${s}${d}${s}evil` }));
      out.push(join(p, { path: `/evil${s}${d}${p.path}` }));
    }
  out.push(join(p, { path: `${p.path}/..` }), join(p, { path: `${p.path}/.` }), join(p, { path: `/.${p.path}` }), join(p, { path: `/${p.path}` }));
  out.push(join(p, { path: `${p.path}/../../../../etc/passwd` }), join(p, { path: `${p.path};/../evil` }), join(p, { path: `${p.path};x=1` }));
  return out;
}

/** Every character of the path, and the host's dots, percent-encoded one at a time (RFC 3986 §2.1 says equivalent; exact matching says different). */
function encodings(p: Parts): string[] {
  const out: string[] = [];
  const enc = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  for (let i = 0; i < p.path.length; i++) {
    const e = enc(p.path[i] as string);
    out.push(join(p, { path: p.path.slice(0, i) + e + p.path.slice(i + 1) }));
    out.push(join(p, { path: p.path.slice(0, i) + e.toUpperCase() + p.path.slice(i + 1) }));
    out.push(join(p, { path: p.path.slice(0, i) + `%25${e.slice(1)}` + p.path.slice(i + 1) }));
  }
  if (p.host !== '') {
    out.push(
      join(p, { host: p.host.replaceAll('.', '%2e') }),
      join(p, { host: p.host.replace('.', '%2E') }),
      join(p, { host: `%${p.host.charCodeAt(0).toString(16)}${p.host.slice(1)}` }),
    );
  }
  out.push(join(p, { path: `${p.path}%00` }), join(p, { path: `${p.path}%20` }), join(p, { path: `${p.path}%23` }), join(p, { path: `${p.path}%3f` }));
  out.push(join(p, { path: `${p.path}%0d%0aLocation:%20https://evil.com` }), join(p, { path: `${p.path}%E2%80%AE` }));
  return out;
}

/** Userinfo and the look of a host that is not the one the browser goes to (RFC 3986 §3.2.1). */
function userinfo(p: Parts): string[] {
  const h = p.host === '' ? 'app.example.com' : p.host;
  const out = [
    `${p.scheme}://${h}@evil.com${p.path}`,
    `${p.scheme}://${h}:443@evil.com${p.path}`,
    `${p.scheme}://${h}%40evil.com${p.path}`,
    `${p.scheme}://evil.com#@${h}${p.path}`,
    `${p.scheme}://evil.com?@${h}${p.path}`,
    `${p.scheme}://evil.com\\@${h}${p.path}`,
    `${p.scheme}://evil.com%23@${h}${p.path}`,
    `${p.scheme}://evil.com%2523@${h}${p.path}`,
    `${p.scheme}://evil.com;@${h}${p.path}`,
    `${p.scheme}://user:pass@${h}${p.path}`,
    `${p.scheme}://${h}@${h}${p.path}`,
    `${p.scheme}://@${h}${p.path}`,
    `${p.scheme}://:@${h}${p.path}`,
    `${p.scheme}://${h}&@evil.com${p.path}`,
    `${p.scheme}://${h} @evil.com${p.path}`,
    `${p.scheme}://${h}\t@evil.com${p.path}`,
    `${p.scheme}://evil.com/${h}${p.path}`,
    `${p.scheme}://evil.com/${join(p)}`,
    `${p.scheme}://evil.com?${join(p)}`,
    `${p.scheme}://${h}.evil.com${p.path}`,
    `${p.scheme}://evil${h}${p.path}`,
    `${p.scheme}://${h}evil.com${p.path}`,
  ];
  return out;
}

/** Ports: explicit defaults, others, junk (for the loopback URI a port is allowed, so only what is not a port). */
function ports(p: Parts): string[] {
  if (p.host === '') return [`${p.scheme}://:443${p.path}`, `${p.scheme}:443${p.path}`, `${p.scheme}::${p.path}`];
  const loopback = p.host === '127.0.0.1';
  const numeric = loopback ? [] : [':443', ':80', ':444', ':8443', ':0', ':1', ':65535', ':65536', ':99999', ':', ':0443', ':00443'];
  const junk = [
    ':443.evil.com',
    ':80@evil.com',
    ': 443',
    ':+443',
    ':-1',
    ':0x1bb',
    ':443:443',
    ':443a',
    ':a',
    ':８０',
    ':%34%34%33',
    ':443\\',
    ':443#',
    ':443?',
  ];
  return [...numeric, ...junk].map((port) => join(p, { host: `${p.host}${port}` }));
}

/** Scheme changes, case and malformed separators. */
function schemes(p: Parts): string[] {
  const rest = `${p.host}${p.path}`;
  const variants = [
    p.scheme.toUpperCase(),
    p.scheme[0]!.toUpperCase() + p.scheme.slice(1),
    p.scheme.replace(/[a-z]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c)),
    p.scheme === 'https' ? 'http' : 'https',
    p.scheme === 'http' ? 'ws' : 'wss',
    'ftp',
    `${p.scheme}s`,
    p.scheme.slice(1),
    `x-${p.scheme}`,
  ];
  const out = variants.map((s) => `${s}${p.sep}${rest}`);
  out.push(
    `${p.scheme}:${rest}`,
    `${p.scheme}:/${rest}`,
    `${p.scheme}:///${rest}`,
    `${p.scheme}:\\\\${rest}`,
    `${p.scheme}:/\\${rest}`,
    `//${rest}`,
    `///${rest}`,
    `\\\\${rest}`,
    `${rest}`,
  );
  out.push(`${p.scheme} ${p.sep}${rest}`, `${p.scheme}${p.sep}${p.sep}${rest}`, `${p.scheme};${p.sep}${rest}`);
  return out;
}

/** The host changed while looking alike: case, trailing dots, prefixes and suffixes. */
function hosts(p: Parts): string[] {
  if (p.host === '') {
    return [
      'COM.EXAMPLE.APP:/cb',
      'com.example.App:/cb',
      'com.example.app.evil:/cb',
      'com.example:/cb',
      'com.example.ap:/cb',
      'com.evil.app:/cb',
      'app.example.com:/cb',
      'com.example.app.:/cb',
      'com-example-app:/cb',
    ];
  }
  const labels = p.host.split('.');
  const out = [
    p.host.toUpperCase(),
    `${p.host}.`,
    `${p.host}..`,
    `.${p.host}`,
    `www.${p.host}`,
    `${p.host}.evil.com`,
    `${p.host}-evil.com`,
    `${p.host}%00.evil.com`,
    `${p.host}\u0000.evil.com`,
  ];
  out.push(labels.slice(0, -1).join('.'), `${p.host}x`, `x${p.host}`, labels.join('-'), labels.reverse().join('.'));
  return out.map((host) => join(p, { host }));
}

function loopbackNotations(p: Parts): string[] {
  if (p.host !== '127.0.0.1') return [];
  return LOOPBACK_NOTATIONS.flatMap((host) => [join(p, { host }), join(p, { host: `${host}:8080` })]);
}

/** Unicode look-alikes: Cyrillic and Greek letters, fullwidth forms, IDN (punycode), invisible and bidi characters, other slashes and dots. */
function unicode(p: Parts): string[] {
  const swaps: [string, string][] = [
    ['a', '\u0430'],
    ['e', '\u0435'],
    ['o', '\u043e'],
    ['p', '\u0440'],
    ['c', '\u0441'],
    ['x', '\u0445'],
    ['l', '\u04cf'],
    ['b', '\u042c'],
    ['a', '\uff41'],
    ['.', '\u3002'],
    ['.', '\uff0e'],
    ['.', '\u2024'],
    ['/', '\uff0f'],
    ['/', '\u2215'],
    ['/', '\u2044'],
    ['e', '\u212f'],
    ['1', '\uff11'],
    ['c', '\u217d'],
    ['a', '\u0251'],
    ['o', '\u03bf'],
  ];
  const out: string[] = [];
  const base = join(p);
  for (const [from, to] of swaps) {
    const at = base.indexOf(from, p.scheme.length + p.sep.length);
    if (at >= 0) out.push(base.slice(0, at) + to + base.slice(at + 1));
  }
  const invisible = ['\u200b', '\u200c', '\u200d', '\u2060', '\u00ad', '\ufeff', '\u202e', '\u202d', '\u034f', '\u180e'];
  for (const z of invisible) out.push(join(p, { path: `${p.path.slice(0, 2)}${z}${p.path.slice(2)}` }), join(p, { host: `${p.host}${z}` }));
  if (p.host === 'app.example.com')
    out.push('https://xn--pp-8cd.example.com/callback', 'https://app.xn--exmple-4nf.com/callback', 'https://app.example.xn--com-9o0a/callback');
  out.push(join(p, { path: `${p.path}\u0301` }), join(p, { path: p.path.normalize('NFD') + '\u0327' }));
  return out;
}

/** Whitespace and control characters: leading, trailing, inside (a URL parser strips tab and newlines; exact matching does not). */
function whitespace(p: Parts): string[] {
  const chars = [' ', '\t', '\n', '\r', '\r\n', '\u0000', '\u000b', '\u000c', '\u001f', '\u007f', '\u00a0', '\u2028', '\u2029', '\u3000', '\u0085'];
  const base = join(p);
  const out: string[] = [];
  for (const c of chars) {
    out.push(`${c}${base}`, `${base}${c}`, `${p.scheme.slice(0, 2)}${c}${base.slice(2)}`, join(p, { path: `${p.path.slice(0, 2)}${c}${p.path.slice(2)}` }));
  }
  out.push(`${base}\r\nLocation: https://evil.com`, `${base}\nSet-Cookie: x=1`, `  ${base}  `);
  return out;
}

/** Fragments (RFC 6749 §3.1.2 forbids them), queries added, trailing dots and slashes, backslashes, truncations and extensions. */
function tails(p: Parts): string[] {
  const suffixes = [
    '#',
    '#x',
    '#@evil.com',
    '#/../evil',
    '?',
    '?x=1',
    '?redirect=https://evil.com',
    '?code=stolen',
    '&x=1',
    '?#',
    '/',
    '//',
    '/.',
    '.',
    '..',
    '\\',
    '\\evil.com',
    '/evil',
    'x',
    '.evil.com',
    '/https://evil.com',
    ';',
    '%',
    '%2',
    '%zz',
    '?\u0000',
  ];
  const out = suffixes.map((s) => `${join(p)}${s}`);
  out.push(
    join(p, { path: p.path.slice(0, -1) }),
    join(p, { path: '' }),
    join(p, { path: '/' }),
    join(p, { path: p.path.toUpperCase() }),
    join(p, { path: p.path.replaceAll('/', '\\') }),
  );
  return out;
}

/** Every generated value: distinct, none equal to a registered URI, none a loopback URI that only changes the port. */
export function hostileRedirectUris(): string[] {
  const all = [
    ...PARTS.flatMap((p) => [traversal, encodings, userinfo, ports, schemes, hosts, loopbackNotations, unicode, whitespace, tails].flatMap((f) => f(p))),
    ...DANGEROUS,
  ];
  const legitimate = (v: string) => (REGISTERED as readonly string[]).includes(v) || /^http:\/\/127\.0\.0\.1(?::\d*)?\/cb$/.test(v);
  return [...new Set(all)].filter((v) => !legitimate(v));
}

/** A printable form of a value for a failure message (control characters and invisibles escaped). */
export const show = (v: string): string =>
  JSON.stringify(v.length > 120 ? `${v.slice(0, 120)}…(${v.length})` : v).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
