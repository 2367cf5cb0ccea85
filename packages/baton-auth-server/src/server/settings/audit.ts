/**
 * The audit trail (`BATON_AUDIT_LOG`): where each security event goes as one JSON line, and how far a file may grow
 * before it is rotated. One part of the settings table (`../settings.ts`); the sinks are in `../audit-log.ts`.
 */
import { z } from 'zod';
import { whole } from './setting.ts';
import type { Setting } from './setting.ts';

/** Where the audit trail goes: nowhere, standard output, or a file (rotated by size). */
export type AuditTarget = { to: 'off' } | { to: 'stdout' } | { to: 'file'; path: string; maxBytes: number; files: number };

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const MIN_BYTES = 4096;
const MAX_BYTES = 1024 ** 4;

/** A size in bytes: a whole number, or with k, M or G (powers of 1024: `10M`). Undefined: not one. */
export function bytesOf(v: string): number | undefined {
  const m = /^(\d{1,13})\s*([kmg]?)(i?b)?$/i.exec(v.trim());
  return m === null ? undefined : Number(m[1]) * (UNITS[(m[2] as string).toLowerCase()] as number);
}

/** In the order of the table (`../settings.ts`). */
export const AUDIT_SETTINGS: readonly Setting[] = [
  {
    env: 'BATON_AUDIT_LOG',
    option: 'audit',
    default: 'off',
    doc: "The audit trail, one JSON line per security event (docs/operations.md): a file path (appended, rotated by size), 'stdout' (the logs then go to standard error), or 'off'.",
    parse: z.string().refine((v) => v.trim() === v && v !== '' && !v.endsWith('/') && !v.includes('\0'), {
      message: "BATON_AUDIT_LOG must be 'off', 'stdout' or the path of a file (not a folder), like ./data/audit.log",
    }),
  },
  {
    env: 'BATON_AUDIT_LOG_MAX_BYTES',
    option: 'auditMaxBytes',
    default: '10M',
    doc: 'The size past which the audit file is rotated (audit.log → audit.log.1 → …): bytes, or with k, M or G (powers of 1024), from 4k to 1024G.',
    parse: z.string().refine(
      (v) => {
        const n = bytesOf(v);
        return n !== undefined && n >= MIN_BYTES && n <= MAX_BYTES;
      },
      { message: "BATON_AUDIT_LOG_MAX_BYTES must be a size from 4k to 1024G, in bytes or with k, M or G, like '10M'" },
    ),
  },
  {
    env: 'BATON_AUDIT_LOG_FILES',
    option: 'auditFiles',
    default: '5',
    doc: 'How many rotated audit files are kept beside the current one (audit.log.1 … audit.log.N, the oldest deleted), from 1 to 100.',
    parse: whole('BATON_AUDIT_LOG_FILES must be a whole number of files from 1 to 100', 1, 100),
  },
];

/** The audit target of the checked settings. */
export function auditTarget(text: (name: string) => string): AuditTarget {
  const to = text('BATON_AUDIT_LOG');
  if (to === 'off' || to === 'stdout') return { to };
  return { to: 'file', path: to, maxBytes: bytesOf(text('BATON_AUDIT_LOG_MAX_BYTES')) as number, files: Number(text('BATON_AUDIT_LOG_FILES')) };
}
