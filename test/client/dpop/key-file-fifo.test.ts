/**
 * FINDING (hang): fileStorage opens `<path>.dpop.json` (and the token file) with O_RDONLY before
 * it checks what the path is. A FIFO planted there — by anyone who can create entries in the folder,
 * e.g. another user in a sticky world-writable folder such as /tmp, which checkFolder accepts —
 * blocks that open forever: dpopKey() never settles, so signIn/refresh/fetch hang, and a libuv pool
 * thread is held for good. It should be refused (ERR_STORAGE_UNSAFE) at once, like a symlink is.
 */
import { execFileSync } from 'node:child_process';
import { constants, mkdtempSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStorage } from 'baton-auth-client/node';

const dir = mkdtempSync(join(tmpdir(), 'baton-redteam-fifo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Opens the FIFO's write end so that a reader blocked on it is let go. */
const unblock = (fifo: string) => {
  try {
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // no reader
  }
};

describe('fileStorage and a FIFO at the key path', () => {
  it('dpopKey() is refused at once, not hung', async () => {
    const path = join(dir, 'tokens.json');
    execFileSync('mkfifo', [`${path}.dpop.json`]);
    const outcome = await Promise.race([
      fileStorage(path)
        .dpopKey?.('x')
        .then(
          () => 'resolved',
          (err: { code?: string }) => err.code ?? 'rejected',
        ),
      new Promise<string>((r) => setTimeout(() => r('still pending after 2 s'), 2000)),
    ]);
    unblock(`${path}.dpop.json`);
    expect(outcome).toBe('ERR_STORAGE_UNSAFE'); // FAILS: 'still pending after 2 s'
  });
});
