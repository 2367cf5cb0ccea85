/**
 * Red team (authz2): a page theme value is checked so that it cannot leave its declaration
 * (authz/context.ts `checkPage`): parentheses must close, comments are refused. A square bracket
 * opens a simple block just as `(` opens a function (CSS Syntax 3, "consume a simple block"): an
 * unclosed `[` swallows the `}` of `:root` and every rule after it, so the hosted sign-in and
 * consent pages lose their whole stylesheet — the failure the parenthesis rule was written for.
 */
import { describe, expect, it } from 'vitest';
import { BatonConfigError } from '../../packages/baton-auth/src/core/errors.ts';
import { checkPage } from '../../packages/baton-auth/src/authz/context.ts';

describe('a theme value with an unbalanced bracket', () => {
  it.each(['#0a7 [', '[#0a7', 'calc([1px)', '(])', '[(])'])('%j is refused at start', (value) => {
    expect(() => checkPage({ theme: { '--baton-accent': value } })).toThrow(BatonConfigError);
  });

  it('balanced ones still pass', () => {
    expect(checkPage({ theme: { '--baton-accent': 'rgb(0 170 119)', '--baton-font': '[a] system-ui' } }).theme['--baton-accent']).toBe('rgb(0 170 119)');
  });
});
