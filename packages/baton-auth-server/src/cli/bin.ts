#!/usr/bin/env node
/**
 * The installed `baton` command: checks the Node.js version before it loads the command, whose
 * modules need what `engines` names (`node:sqlite`, among others). On an older Node they would
 * fail while being linked, with a stack trace (ERR_UNKNOWN_BUILTIN_MODULE) instead of a sentence.
 * Only what every Node since 12 has is used before the check.
 */
import { readFileSync } from 'node:fs';

const { engines } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
const needed = engines.node.replace(/^>=\s*/, '');
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const [needMajor = 0, needMinor = 0] = needed.split('.').map(Number);
if (major < needMajor || (major === needMajor && minor < needMinor)) {
  console.error(
    `baton: this is Node.js ${process.versions.node}, and baton needs Node.js ${needed} or later. Install Node.js ${needed} or later (https://nodejs.org/).`,
  );
  process.exit(1);
}
await import('./main.ts');
