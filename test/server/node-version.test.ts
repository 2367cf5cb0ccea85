/**
 * The installed `baton` command on a Node.js older than `engines` says so in a sentence and exits
 * 1 (#22's newcomer: on the system's Node 20 it crashed with ERR_UNKNOWN_BUILTIN_MODULE
 * node:sqlite and a stack trace). Run with the machine's own Node (Debian's, 20) on the built
 * command, as `npx baton` would run it there.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { expect, it } from 'vitest';

const BIN = new URL('../../packages/baton-auth-server/dist/cli/bin.js', import.meta.url).pathname;
const SYSTEM_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((path) => {
  if (!existsSync(path)) return false;
  const [major = 0, minor = 0] = execFileSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number);
  return major < 24 || (major === 24 && minor < 7);
});
if (SYSTEM_NODE === undefined)
  console.warn('\n*** SKIPPED: test/server/node-version.test.ts: no Node.js older than 24.7 at /usr/bin/node or /usr/local/bin/node. ***\n');

it.skipIf(SYSTEM_NODE === undefined)(`on ${SYSTEM_NODE ?? 'an old Node.js'}, baton says which Node.js it needs and exits 1, without a stack trace`, () => {
  const run = spawnSync(SYSTEM_NODE as string, [BIN, '--version'], { encoding: 'utf8' });
  expect(run.status).toBe(1);
  expect(run.stderr).toMatch(
    /^baton: this is Node\.js 2\d\.\d+\.\d+, and baton needs Node\.js 24\.7 or later\. Install Node\.js 24\.7 or later \(https:\/\/nodejs\.org\/\)\.\n$/,
  );
});

it('on this Node.js, the same command runs', () => {
  expect(execFileSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' }).trim()).toMatch(/^\d+\.\d+\.\d+$/);
});
