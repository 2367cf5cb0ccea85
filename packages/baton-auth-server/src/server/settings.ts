/**
 * The service's settings, once: one row per variable — its name, the option it becomes (the
 * library's name where the library has the option: `BATON_ACCESS_TTL` is `accessTokenTtl`), its
 * default, what it does, and how its text is checked. The zod schema (`config.ts`), `baton serve
 * --help` and docs/configuration.md (`npm run docs:config`) are all made from this table, whose
 * rows live by group in `settings/` (a row's shape and checks in `settings/setting.ts`).
 */
import { z } from 'zod';
import { BatonConfigError } from 'baton-auth';
import { ADDRESS_SETTINGS } from './settings/address.ts';
import { AUDIT_SETTINGS } from './settings/audit.ts';
import { AUTHORIZATION_SETTINGS } from './settings/authorization.ts';
import { CALLER_SETTINGS } from './settings/callers.ts';
import { LIMIT_SETTINGS } from './settings/limits.ts';
import { OPERATION_SETTINGS } from './settings/operations.ts';
import { PASSKEY_SETTINGS } from './settings/passkeys.ts';
import type { Setting } from './settings/setting.ts';
import { STORE_SETTINGS } from './settings/store.ts';
import { TOKEN_SETTINGS } from './settings/tokens.ts';

export { MAX_WORKERS } from './settings/operations.ts';
export { durationMs, durationText, list } from './settings/setting.ts';
export type { Setting } from './settings/setting.ts';

/** Every setting, in the order `serve --help` and docs/configuration.md list them. */
export const SETTINGS_TABLE: readonly Setting[] = [
  ...ADDRESS_SETTINGS,
  ...STORE_SETTINGS,
  ...TOKEN_SETTINGS,
  ...CALLER_SETTINGS,
  ...AUTHORIZATION_SETTINGS,
  ...PASSKEY_SETTINGS,
  ...LIMIT_SETTINGS,
  ...OPERATION_SETTINGS,
  ...AUDIT_SETTINGS,
];

/** The rows checked by the schema (those with a `parse`). */
export const SCHEMA_SETTINGS = SETTINGS_TABLE.filter((s): s is Setting & { parse: z.ZodType } => s.parse !== undefined);

/** The default of a row as a reader sees it. */
export const defaultOf = (s: Setting): string => (s.default === undefined ? (s.unset ?? 'unset') : s.default === '' ? 'none' : s.default);

/** The `Environment:` section of `baton serve --help`, a line per setting. */
export function settingsHelp(): string {
  const width = Math.max(...SETTINGS_TABLE.map((s) => s.env.length));
  return SETTINGS_TABLE.map((s) => `  ${s.env.padEnd(width)}  ${s.doc} (default: ${defaultOf(s)})`).join('\n');
}

/** OpenTelemetry's own variables, read by `server/tracing.ts` rather than this table. */
export const TRACES_HELP =
  "Traces: OpenTelemetry's own variables, OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP; unset, no SDK is loaded), OTEL_SERVICE_NAME (default baton), OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, OTEL_SDK_DISABLED";

/** docs/configuration.md, as `npm run docs:config` writes it. */
export function configurationReference(): string {
  const code = (v: string): string => v.replace(/\|/g, '\\|');
  // Outside code spans, `<count>` would be an HTML tag to a Markdown renderer (and an unclosed element to VitePress's Vue).
  const cell = (v: string): string => code(v).replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from packages/baton-auth-server/src/server/settings.ts by `npm run docs:config`; test/server/settings.test.ts fails when it is stale. Do not edit by hand. -->',
    '',
    "The service (`baton serve`) reads these from the environment, or from the JSON file `BATON_CONFIG` names (the environment wins); a mistake stops it with a sentence that names the variable. Durations are whole seconds (`90`) or a duration string (`90s`, `15m`, `14d`, `1d`). `option` is the name the setting has in the service's configuration — the library's option name where `createBaton` or `createAuthHandler` has the same setting.",
    '',
    '| variable | option | default | what it does |',
    '| --- | --- | --- | --- |',
    ...SETTINGS_TABLE.map(
      (s) =>
        `| \`${s.env}\` | \`${s.option}\` | ${s.default === undefined || s.default === '' ? cell(defaultOf(s)) : `\`${code(s.default)}\``} | ${cell(s.doc)} |`,
    ),
    '',
    `${TRACES_HELP.replace(/(OTEL_[A-Z_]+)/g, '`$1`')}: [Traces](./operations.md#traces).`,
    '',
  ].join('\n');
}

/** Throws the BatonConfigError of a zod issue: its sentence, and the variable it is about. */
export function configError(issue: { message?: string; path: PropertyKey[] } | undefined): never {
  throw new BatonConfigError(`Configuration error: ${issue?.message ?? 'invalid value'}${issue?.path.length ? ` (${issue.path.map(String).join('.')})` : ''}.`);
}
