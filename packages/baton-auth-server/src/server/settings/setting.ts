/**
 * One row of the settings table, and the checks a row's text goes through: durations, "so many per window", whole
 * numbers, secrets, and the library's own checks run as zod refinements.
 */
import { z } from 'zod';
import { toMs } from 'baton-auth';
import { batonCommand } from '../../cli/command.ts';

const BATON = batonCommand();

/** One setting. */
export interface Setting {
  /** The environment variable (or key of the `BATON_CONFIG` file). */
  env: string;
  /** The option of the service's configuration it becomes: the library's option of the same meaning, where it has one. */
  option: string;
  /** The default, as it would be written in the environment; undefined: unset (`unset` says what that means). */
  default?: string;
  /** What an unset variable means, when it has no literal default. */
  unset?: string;
  /** What it does, one sentence or two: units and forms included. */
  doc: string;
  /** The check of its text; absent for a variable read before the schema (`BATON_CONFIG`, `BATON_RUNTIME_FILE`). */
  parse?: z.ZodType;
}

/** A list given with commas or spaces. */
export function list(v: string): string[] {
  return v.split(/[\s,]+/).filter((x) => x !== '');
}

/** A duration as the service reads it: whole seconds (`90`) or a duration string (`90s`, `15m`, `1d`). */
export const durationText = (v: string): string => (/^\d+$/.test(v) ? `${v}s` : v);

/** The one duration reader of every setting: ms, or a BatonConfigError naming `name`. */
export function durationMs(v: string, name: string): number {
  return toMs(durationText(v), name);
}

/** A library check run as a zod refinement: its sentence becomes the issue's. */
export const byLibrary = (check: (v: string) => unknown) =>
  z.string().superRefine((v, ctx) => {
    try {
      check(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

/** A duration from `min` to `max` ms (inclusive). */
export const duration = (name: string, min = 0, max = Number.MAX_SAFE_INTEGER, shape = "seconds or a duration like '90s', '15m', '7d'") =>
  z.string().refine(
    (v) => {
      try {
        const ms = durationMs(v, name);
        return ms >= min && ms <= max;
      } catch {
        return false;
      }
    },
    { message: `${name} must be ${shape}` },
  );

/** `off`, or `<count>/<duration>` with a count of at least 1: the one form of every "so many per window" setting. */
export const perWindow = (name: string, shape: string) =>
  // A window of 0 would be no limit at all (every attempt opens a new window): at least a second.
  z.string().refine((v) => v === 'off' || (/^[1-9]\d*\/.+$/.test(v) && duration(name, 1000).safeParse(v.slice(v.indexOf('/') + 1)).success), {
    message: `${name} must be 'off' or ${shape}, with a duration of at least 1s`,
  });

/** A whole number from `min` to `max`, with one sentence for every way to miss. */
export const whole = (message: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number({ message }).int({ message }).min(min, { message }).max(max, { message });

/** A secret of at least 32 characters, with the command that makes one. */
export const secret = (name: string) => z.string().min(32, { message: `${name} must be at least 32 characters (make one with \`${BATON} secret generate\`)` });
