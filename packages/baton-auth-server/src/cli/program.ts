/** The `baton` program that every command file (`commands/*.ts`) adds its commands to; `main.ts` parses the arguments. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { batonCommand } from './command.ts';

export const BATON = batonCommand();

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export const program = new Command('baton')
  .description('Baton token service: access and refresh tokens for web APIs')
  .version(VERSION, '-V, --version', 'print the version')
  .addHelpText('after', `\nEach command has its own help, e.g. ${BATON} users add --help.`)
  .showHelpAfterError();
