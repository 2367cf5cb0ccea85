/**
 * Red team: BATON_PAGE_THEME (the hosted pages' CSS variables) is written into the page's
 * `<style>`. Its check kept a value inside its declaration against `;`, braces, `<`, quotes and
 * backslashes, but not against a comment or a parenthesis left open: `--baton-accent:#0a7 /*`
 * opened a comment that swallowed the rest of the stylesheet, and `--baton-radius:calc(8px` a
 * function that swallowed every rule after it — the page's whole look gone, from one setting that
 * starts without a word. Both are now refused with the sentence, at start.
 */
import { describe, expect, it } from 'vitest';
import { BatonConfigError } from 'baton-auth';
import { pageOf } from '../../packages/baton-auth-server/src/server/settings/authorization.ts';

describe('BATON_PAGE_THEME', () => {
  it('refuses a value that opens a comment or leaves a parenthesis open', () => {
    for (const theme of [
      '--baton-accent:#0a7 /*',
      '--baton-accent:#0a7*/',
      '--baton-radius:calc(8px',
      '--baton-radius:8px)',
      '--baton-background:url(https://x.test/a.png',
    ]) {
      expect(() => pageOf(undefined, undefined, theme), theme).toThrow(BatonConfigError);
      expect(() => pageOf(undefined, undefined, theme), theme).toThrow(/BATON_PAGE_THEME/);
    }
  });

  it('still takes plain values, functions and products', () => {
    const page = pageOf(
      undefined,
      undefined,
      '--baton-accent:#0a7;--baton-radius:calc(2px * 4);--baton-background:url(https://x.test/a.png);--baton-font:var(--x, serif)',
    );
    expect(page.theme).toEqual({
      '--baton-accent': '#0a7',
      '--baton-radius': 'calc(2px * 4)',
      '--baton-background': 'url(https://x.test/a.png)',
      '--baton-font': 'var(--x, serif)',
    });
  });
});
