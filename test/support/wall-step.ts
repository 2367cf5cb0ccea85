/**
 * A preload for a process a test starts (`node --import ./test/support/wall-step.ts …`): it steps
 * the process's wall clock as NTP, a resumed VM or `date -s` would — `Date.now()`, `new Date()`
 * and the `Date` header Node writes move by an offset, `performance.now()` does not (Node's own
 * Date header reads internal copies of `Date`, so it is written here). The offset (ms) is read from the file named by
 * `WALL_STEP_FILE` at start and on each SIGUSR2, and each reading is acknowledged on stderr
 * (`wall-step <offset>`). For tests only: nothing shipped imports it.
 */
import { readFileSync } from 'node:fs';
import { ServerResponse } from 'node:http';

const file = process.env.WALL_STEP_FILE;
if (file === undefined) throw new Error('wall-step: set WALL_STEP_FILE to the file holding the offset in ms');
const RealDate = Date;
let offset = 0;

class SteppedDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + offset);
    else super(...(args as [string | number | Date]));
  }

  static override now(): number {
    return RealDate.now() + offset;
  }
}

function read(): void {
  offset = Number(readFileSync(file as string, 'utf8').trim() || '0');
  process.stderr.write(`wall-step ${offset}\n`);
}

globalThis.Date = SteppedDate as DateConstructor;
const writeHead = ServerResponse.prototype.writeHead;
// Headers given to writeHead win over this one, as Node merges them.
ServerResponse.prototype.writeHead = function (this: ServerResponse, ...args: Parameters<typeof writeHead>) {
  if (!this.headersSent && !this.hasHeader('date')) this.setHeader('date', new SteppedDate().toUTCString());
  return writeHead.apply(this, args);
} as typeof writeHead;
process.on('SIGUSR2', read);
read();
