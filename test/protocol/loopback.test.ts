/**
 * The loopback rule (`baton-auth/protocol`), the one every package uses: 127.0.0.0/8, `[::1]` and
 * `localhost` are this machine; look-alikes are other hosts. Properties over generated hosts, and
 * the same answer through the URL parser as the packages read hosts.
 */
import fc from 'fast-check';
import { isLoopbackHost, isSecureUrl, sameMachine } from 'baton-auth/protocol';
import { describe, expect, it } from 'vitest';

const octet = fc.integer({ min: 0, max: 255 });
const loopbackV4 = fc.tuple(octet, octet, octet).map(([a, b, c]) => `127.${a}.${b}.${c}`);
const loopback = fc.oneof(loopbackV4, fc.constant('localhost'), fc.constant('[::1]'));
const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);

/** Hosts that look like loopback and are not: a loopback name as a label of another domain, other spellings, other networks. */
const lookAlike = fc.oneof(
  fc.tuple(loopback, label).map(([host, domain]) => `${host}.${domain}.com`), // 127.0.0.1.evil.com, localhost.evil.com
  fc.tuple(loopback, label).map(([host, domain]) => `${domain}.${host}`), // evil.localhost, evil.127.0.0.1
  label.map((domain) => `localhost.${domain}`), // localhost.evil
  fc.tuple(octet, octet, octet).map(([a, b, c]) => `0x7f.${a}.${b}.${c}`),
  fc.constantFrom(
    '0x7f.1',
    '127.1',
    '2130706433',
    '0177.0.0.1',
    '127.0.0.01',
    '127.0.0.256',
    '127.0.0.1.',
    'localhost.',
    'LOCALHOST',
    '[::2]',
    '::1',
    '[::ffff:7f00:1]',
    '128.0.0.1',
    '126.255.255.255',
    '',
  ),
  fc
    .tuple(
      fc.integer({ min: 0, max: 255 }).filter((a) => a !== 127),
      octet,
      octet,
      octet,
    )
    .map((parts) => parts.join('.')),
);

describe('the loopback rule', () => {
  it('holds every address of 127.0.0.0/8, [::1] and localhost', () => {
    fc.assert(fc.property(loopback, (host) => isLoopbackHost(host)));
  });

  it('refuses every look-alike', () => {
    fc.assert(fc.property(lookAlike, (host) => !isLoopbackHost(host)));
  });

  it('answers on the host as the URL parser writes it: a hex or short spelling of 127.0.0.1 is loopback once parsed, a look-alike domain never', () => {
    fc.assert(fc.property(loopback, fc.integer({ min: 1, max: 65_535 }), (host, port) => isSecureUrl(new URL(`http://${host}:${port}/x`))));
    for (const spelled of ['0x7f.1', '127.1', '2130706433', '[0:0:0:0:0:0:0:1]', 'LOCALHOST'])
      expect(isLoopbackHost(new URL(`http://${spelled}/`).hostname), spelled).toBe(true);
    fc.assert(
      fc.property(fc.tuple(fc.oneof(loopbackV4, fc.constant('localhost')), label), ([host, domain]) => !isSecureUrl(new URL(`http://${host}.${domain}.com/`))),
    );
    expect(isSecureUrl(new URL('https://api.example.com/'))).toBe(true);
    expect(isSecureUrl(new URL('http://api.example.com/'))).toBe(false);
  });

  it('names a loopback origin under each loopback name, and any other origin alone', () => {
    fc.assert(
      fc.property(loopbackV4, fc.integer({ min: 1, max: 65_535 }), (host, port) => {
        const names = sameMachine(new URL(`http://${host}:${port}/a`));
        return (
          names[0] === `http://${host}:${port}` &&
          ['localhost', '127.0.0.1', '[::1]'].every((n) => names.includes(`http://${n}:${port}`)) &&
          new Set(names).size === names.length
        );
      }),
    );
    expect(sameMachine(new URL('https://127.0.0.1.evil.com/'))).toEqual(['https://127.0.0.1.evil.com']);
  });
});
