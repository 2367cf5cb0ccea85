/**
 * The system browser `signInWithBrowser` opens by default (`openInSystemBrowser`): `xdg-open` here
 * (Linux), started without a shell — the URL reaches it as one argument, byte for byte, whatever
 * it holds (`&`, `;`, `$(…)`, backticks, quotes: none is run). A stand-in `xdg-open` on `PATH`
 * records its arguments. Without one, `ERR_BROWSER_NOT_OPENED` says to pass `open`. Anything but
 * an http(s) URL is refused before a process starts.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openInSystemBrowser, showAndOpen } from 'baton-auth-client/node';
import { eventually } from '../support/eventually.ts';

describe.runIf(process.platform === 'linux')('openInSystemBrowser (Linux: xdg-open)', () => {
  let dir = '';
  let path = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'baton-open-'));
    const fake = join(dir, 'xdg-open');
    writeFileSync(
      fake,
      `#!${process.execPath}\nrequire('node:fs').writeFileSync(${JSON.stringify(join(dir, 'argv.json'))}, JSON.stringify(process.argv.slice(2)));\n`,
    );
    chmodSync(fake, 0o755);
    path = process.env.PATH ?? '';
  });
  afterAll(() => {
    process.env.PATH = path;
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes the URL as one argument, never through a shell', async () => {
    process.env.PATH = `${dir}:${path}`;
    const marker = join(dir, 'pwned');
    const url = `https://auth.example.com/authorize?a=1&b=2;touch ${marker}&c=$(touch ${marker})&d=\`touch ${marker}\`&e='"|x`;
    await openInSystemBrowser(url);
    await eventually(() => existsSync(join(dir, 'argv.json')), { timeoutMs: 5_000 });
    expect(JSON.parse(readFileSync(join(dir, 'argv.json'), 'utf8'))).toEqual([url]);
    expect(existsSync(marker)).toBe(false);
  });

  it('says ERR_BROWSER_NOT_OPENED when there is no xdg-open', async () => {
    process.env.PATH = join(dir, 'empty');
    await expect(openInSystemBrowser('https://auth.example.com/authorize')).rejects.toMatchObject({ code: 'ERR_BROWSER_NOT_OPENED' });
    process.env.PATH = path;
  });

  it("signInWithBrowser's default open shows the URL first, and without a browser says so and keeps waiting (SSH, containers)", async () => {
    process.env.PATH = join(dir, 'empty');
    const lines: string[] = [];
    const url = 'https://auth.example.com/authorize?client_id=cli&state=s';
    await expect(showAndOpen(url, { write: (line) => lines.push(line) })).resolves.toBeUndefined();
    process.env.PATH = path;
    expect(lines[0]).toBe(`To sign in, open this URL in a browser on this machine:\n  ${url}\n`);
    expect(lines[1]).toMatch(/^\(No browser could be opened: .*xdg-open.* Open the URL above yourself\.\)\n$/);
  });

  it('opens nothing but an http(s) URL (an argument starting with - would be an option)', async () => {
    for (const url of ['--help', 'file:///etc/passwd', 'javascript:alert(1)'])
      await expect(openInSystemBrowser(url)).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });
});
