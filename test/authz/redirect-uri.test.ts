/**
 * Redirect URIs (authz/redirect-uri.ts): the exact-match law (RFC 9700 §4.1.3, OAuth 2.1 §2.3.1) —
 * a presented URI matches iff it is byte-equal to a registered one, or is a loopback registration
 * with only the port different (RFC 8252 §7.3) — and what may be registered.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkRedirectUri, matchRedirectUri } from '../../packages/baton-auth/src/authz/redirect-uri.ts';

/** A host label or a scheme's part: a letter first (a host ending in a number is an IPv4 address to the URL parser). */
const schemeLabel = fc.stringMatching(/^[a-z]([a-z0-9-]{0,8}[a-z0-9])?$/);
const segment = fc.stringMatching(/^[A-Za-z0-9_~-]{1,10}$/);
const path = fc.array(segment, { maxLength: 4 }).map((s) => `/${s.join('/')}`);
const query = fc.option(
  fc.tuple(segment, segment).map(([k, v]) => `?${k}=${v}`),
  { nil: '' },
);
const port = fc.integer({ min: 1, max: 65535 });
const optPort = fc.option(
  port.map((p) => `:${p}`),
  { nil: '' },
);

const https = fc
  .tuple(fc.array(schemeLabel, { minLength: 2, maxLength: 3 }), optPort, path, query)
  .map(([h, p, pa, q]) => `https://${h.join('.')}${p}${pa}${q}`);
const loopbackHost = fc.constantFrom('127.0.0.1', '[::1]', 'localhost', '127.12.0.9');
const loopback = fc.tuple(loopbackHost, optPort, fc.option(path, { nil: '' }), query).map(([h, p, pa, q]) => `http://${h}${p}${pa}${q}`);
const privateUse = fc.tuple(fc.array(schemeLabel, { minLength: 2, maxLength: 3 }), path, query).map(([s, pa, q]) => `${s.join('.')}:${pa}${q}`);
const uri = fc.oneof(https, loopback, privateUse);
const registered = fc.array(uri, { minLength: 1, maxLength: 5 });

/** Mutations a normalising matcher would forgive and an exact one must not. */
const MUTATIONS: [string, (u: string, i: number) => string][] = [
  [
    'upper case',
    (u, i) => {
      const letters = [...u.matchAll(/[a-z]/g)].map((m) => m.index);
      if (letters.length === 0) return `${u}X`;
      const at = letters[i % letters.length] as number;
      return u.slice(0, at) + (u[at] as string).toUpperCase() + u.slice(at + 1);
    },
  ],
  ['trailing slash', (u) => (u.endsWith('/') ? u.slice(0, -1) : `${u}/`)],
  [
    'percent-encoding',
    (u, i) => {
      const start = u.indexOf(':') + 1;
      const at = start + (i % Math.max(1, u.length - start));
      const ch = u[at] ?? 'a';
      return u.slice(0, at) + `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}` + u.slice(at + 1);
    },
  ],
  ['dot segment', (u) => u.replace(/(:\/\/[^/?]*|:)(\/)/, '$1/./')],
  ['dot-dot segment', (u) => u.replace(/(:\/\/[^/?]*|:)(\/)/, '$1/x/../')],
  ['userinfo', (u) => u.replace(/^([a-z.]+:\/\/)/, '$1user@').replace(/^([a-z.]+:)(?!\/\/)/, '$1//user@')],
  ['extra query', (u) => (u.includes('?') ? `${u}&x=1` : `${u}?x=1`)],
  ['fragment', (u) => `${u}#frag`],
  ['empty fragment', (u) => `${u}#`],
  ['encoded slash', (u) => u.replace(/\/([^/]*)$/, '%2F$1')],
  ['whitespace', (u) => `${u} `],
  ['host suffix', (u) => u.replace(/^(https?:\/\/[^/:?]*)/, '$1.evil.com')],
];

/** The loopback registration `r` with its port replaced by `p` (empty: none), or undefined when `r` is no loopback one. */
function withPort(r: string, p: string): string | undefined {
  const m = /^(http:\/\/(?:127\.[0-9.]+|\[::1\]|localhost))(:\d+)?(.*)$/.exec(r);
  return m === null ? undefined : `${m[1]}${p}${m[3]}`;
}

describe('matchRedirectUri: the exact-match law', () => {
  it('every registered URI matches itself, and the match is that registration', () => {
    fc.assert(
      fc.property(registered, fc.nat(), (regs, i) => {
        const r = regs[i % regs.length] as string;
        expect(matchRedirectUri(regs, r)).toBe(r);
      }),
    );
  });

  it('mutations of a registered URI (case, trailing slash, encodings, dot segments, userinfo, extra query, fragment…) never match', () => {
    for (const [name, mutate] of MUTATIONS) {
      fc.assert(
        fc.property(registered, fc.nat(), fc.nat(), (regs, i, j) => {
          const r = regs[i % regs.length] as string;
          const presented = mutate(r, j);
          // Another registration may be this very URI, or its loopback form with any port (RFC 8252 §7.3).
          fc.pre(!regs.includes(presented) && !regs.some((other) => portOnly(other, presented)));
          expect([name, matchRedirectUri(regs, presented)]).toEqual([name, undefined]);
        }),
        { numRuns: 200 },
      );
    }
  });

  it('a loopback registration matches any port (RFC 8252 §7.3), or none, every other character equal; other registrations never ignore a port', () => {
    fc.assert(
      fc.property(registered, fc.nat(), fc.option(port, { nil: undefined }), (regs, i, p) => {
        const r = regs[i % regs.length] as string;
        const presented = withPort(r, p === undefined ? '' : `:${p}`);
        if (presented !== undefined) expect(matchRedirectUri(regs, presented)).toBeDefined();
        // An https registration with another port is another URI.
        const other = /^https:\/\/[^/?]*?(:\d+)?([/?].*)?$/.exec(r);
        if (other !== null) {
          const changed = r.replace(/^(https:\/\/[^/:?]*)(:\d+)?/, `$1:${p ?? 1}`);
          fc.pre(!regs.includes(changed));
          expect(matchRedirectUri(regs, changed)).toBeUndefined();
        }
      }),
    );
  });

  it('law: a presented URI matches iff it is a registered one, or a loopback one with only the port different', () => {
    const presented = (regs: string[]) =>
      fc.oneof(
        uri,
        fc.constantFrom(...regs),
        fc.tuple(fc.constantFrom(...regs), fc.nat(), fc.constantFrom(...MUTATIONS)).map(([r, j, [, m]]) => m(r, j)),
        fc.tuple(fc.constantFrom(...regs), port).map(([r, p]) => withPort(r, `:${p}`) ?? r),
      );
    fc.assert(
      fc.property(
        registered.chain((regs) => fc.tuple(fc.constant(regs), presented(regs))),
        ([regs, p]) => {
          const expected = regs.includes(p) || regs.some((r) => portOnly(r, p));
          expect(matchRedirectUri(regs, p) !== undefined).toBe(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('hostile presentations against loopback and https registrations', () => {
    const regs = ['http://127.0.0.1/cb', 'http://localhost:3000', 'https://app.example.com/cb?x=1'];
    const hostile = [
      'http://127.0.0.1.evil.com/cb',
      'http://127.0.0.1:80@evil.com/cb',
      'http://127.0.0.1@evil.com/cb',
      'http://127.0.0.1:0/cb',
      'http://127.0.0.1:65536/cb',
      'http://127.0.0.1:080/cb',
      'http://127.0.0.1:/cb',
      'http://127.0.0.1:8080:9090/cb',
      'http://127.0.0.1:8080/cb/',
      'http://127.0.0.1:8080/CB',
      'http://127.0.0.2/cb',
      'http://[::1]/cb',
      'https://127.0.0.1/cb',
      'HTTP://127.0.0.1/cb',
      'http://localhost:3000/',
      'http://localhost:3000\\@evil.com',
      'http://localhost:3000.evil.com',
      'http://localhost:4000/x',
      'https://app.example.com/cb',
      'https://app.example.com/cb?x=1&x=2',
      'https://app.example.com:443/cb?x=1',
      'https://APP.example.com/cb?x=1',
      'https://app.example.com/cb?x=%31',
      'https://app.example.com/cb/../cb?x=1',
      'https://app.example.com.evil.com/cb?x=1',
      'https://evil.com#https://app.example.com/cb?x=1',
      '',
      `https://app.example.com/cb?x=1${'a'.repeat(3000)}`,
    ];
    for (const h of hostile) expect([h, matchRedirectUri(regs, h)]).toEqual([h, undefined]);
    expect(matchRedirectUri(regs, 'http://127.0.0.1:51234/cb')).toBe('http://127.0.0.1/cb');
    expect(matchRedirectUri(regs, 'http://localhost:51234')).toBe('http://localhost:3000');
    expect(matchRedirectUri(regs, 'http://localhost')).toBe('http://localhost:3000');
  });
});

/** The oracle of the port exception, written apart from the matcher: same string once both ports are taken out. */
function portOnly(r: string, p: string): boolean {
  const strip = (u: string) => /^http:\/\/(127\.\d+\.\d+\.\d+|\[::1\]|localhost)(?::([1-9]\d{0,4}))?([/?].*)?$/s.exec(u);
  const a = strip(r);
  const b = strip(p);
  if (a === null || b === null) return false;
  if (b[2] !== undefined && Number(b[2]) > 65535) return false;
  return a[1] === b[1] && (a[3] ?? '') === (b[3] ?? '');
}

describe('checkRedirectUri: what may be registered', () => {
  it('accepts https, http on a loopback host, and private-use schemes with a dot', () => {
    fc.assert(
      fc.property(uri, (u) => {
        expect(checkRedirectUri(u, 'redirectUris')).toBe(u);
      }),
    );
  });

  it('refuses fragments, userinfo, dangerous schemes, plain http elsewhere, schemes without a dot, relative URIs, and says why', () => {
    const refused: [string, RegExp][] = [
      ['https://app.example.com/cb#x', /fragment/],
      ['https://app.example.com/cb#', /fragment/],
      ['https://user:pw@app.example.com/cb', /userinfo/],
      ['https://user@app.example.com/cb', /userinfo/],
      ['javascript:alert(1)', /javascript/],
      ['data:text/html,x', /data/],
      ['file:///etc/passwd', /file/],
      ['http://app.example.com/cb', /loopback/],
      ['http://127.0.0.1.evil.com/cb', /loopback/],
      ['http://LOCALHOST/cb', /loopback/],
      ['myapp:/cb', /dot/],
      ['/cb', /absolute/],
      ['cb', /absolute/],
      ['HTTPS://app.example.com/cb', /lower case/],
      ['https://app.example.com/c b', /white space/],
      ['https://app.example.com\\@evil.com/', /backslash/],
      ['', /non-empty/],
      [`https://app.example.com/${'a'.repeat(2001)}`, /longer/],
    ];
    for (const [u, why] of refused) {
      let message = 'accepted';
      try {
        checkRedirectUri(u, 'redirectUris');
      } catch (err) {
        expect((err as { code: string }).code).toBe('ERR_INVALID_ARGUMENT');
        message = (err as Error).message;
      }
      expect([u, message]).toEqual([u, expect.stringMatching(why)]);
      expect(message.startsWith('redirectUris: ')).toBe(true);
    }
  });
});
