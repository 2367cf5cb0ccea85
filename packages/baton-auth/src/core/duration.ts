import { BatonConfigError } from './errors.ts';

/** A duration: seconds as a number, or a string such as `'90s'`, `'15m'`, `'12h'`, `'7d'`, `'2w'`. */
export type Duration = number | string;

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const PATTERN = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?$/;

/**
 * Parses a duration into milliseconds. `name` is the option's name, used in the error message.
 * @throws BatonConfigError for anything that is not a non-negative finite duration.
 */
export function toMs(value: Duration, name: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new BatonConfigError(`${name} must be a non-negative number of seconds or a string like '15m', got ${String(value)}.`);
    }
    return Math.round(value * 1000);
  }
  const match = typeof value === 'string' ? PATTERN.exec(value.trim()) : null;
  if (!match) {
    throw new BatonConfigError(`${name} must be seconds or a duration like '90s', '15m', '12h', '7d', got ${JSON.stringify(value)}.`);
  }
  return Math.round(Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] ?? 1) * 1000);
}
