/**
 * The runtime matrix (issue #23, item 8): the probe in test/runtimes/probe/ — `remoteIssuer`,
 * `requireAuth` through Hono's Web `Request`, and the client SDK — bundled with esbuild and run on
 * another runtime against a Baton service this process started on 127.0.0.1. The runtime prints a
 * JSON line per step; `runtimeSuite` holds every runtime to the same lines.
 *
 * A runtime whose binary is missing is skipped with the reason printed, unless
 * BATON_REQUIRE_RUNTIMES=1 (CI) makes that a failure.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { clients, loadConfig, startServer, users } from 'baton-auth-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Line, ProbeConfig } from '../runtimes/probe/probe.ts';

const PROBE = new URL('../runtimes/probe/', import.meta.url).pathname;
const API = 'https://api.test';

/** The probe bundled for a runtime: `cli` prints its lines when run (Node, Bun, Deno); `worker` is a Workers module. */
export interface ProbeBundle {
  dir: string;
  cli: string;
  worker: string;
}

/** How a runtime runs the probe: its output (the JSON lines), or why it is not on this machine. */
export interface RuntimeDriver {
  /** Undefined when the runtime can run here; else why not (printed when skipped). */
  missing(): string | undefined;
  run(bundle: ProbeBundle, config: ProbeConfig): Promise<string>;
}

/**
 * A runtime's binary from its npm package (`file` in the package's folder), and why it cannot run
 * here if it cannot: not installed, or its install script did not put the binary in place.
 */
export function installedBinary(pkg: string, file: string): { path: string; missing: string | undefined } {
  let path: string;
  try {
    path = join(dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)), file);
  } catch {
    return { path: '', missing: `npm's ${pkg} package is not installed (npm ci installs it, a devDependency)` };
  }
  const version = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (version.status !== 0)
    return { path, missing: `${path} does not run (${version.error?.message ?? version.stderr.trim().split('\n')[0]}): was its install script allowed?` };
  return { path, missing: undefined };
}

/** A Baton service on 127.0.0.1 with a user allowed `orders:read` on the API and a `resource-server` client. */
async function startIssuer(): Promise<{ config: ProbeConfig; sub: string; stop: () => Promise<void> }> {
  const introspectionSecret = 'runtime-matrix-secret-of-32-characters';
  const server = await startServer(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      BATON_STORE: 'memory:',
      BATON_LOG_LEVEL: 'silent',
      BATON_RESOURCES: API,
      BATON_INTROSPECTION_SECRET: introspectionSecret,
    }),
  );
  const user = await users.add(server.service.store, 'ada', 'ada password 1', 'orders:read');
  await clients.setScopes(server.service.store, 'default', 'orders:read');
  const config = { issuer: server.url, api: API, username: 'ada', password: 'ada password 1', introspectionSecret };
  return { config, sub: user.id, stop: () => server.stop() };
}

/** Bundles the probe (the packages from their sources) into a private folder. */
async function bundleProbe(): Promise<ProbeBundle> {
  const dir = await mkdtemp(join(tmpdir(), 'baton-runtime-'));
  // For the Web platform (`neutral`): `node:` modules stay imports, for the runtime to provide or refuse.
  await build({
    entryPoints: { probe: join(PROBE, 'probe.ts'), worker: join(PROBE, 'worker.ts') },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['baton-source'],
    mainFields: ['module', 'main'],
    external: ['node:*'],
    logLevel: 'warning',
  });
  return { dir, cli: join(dir, 'cli.mjs'), worker: join(dir, 'worker.mjs') };
}

/** The command-line entry for `config`: runs the probe and prints its lines. */
async function writeCli(bundle: ProbeBundle, config: ProbeConfig): Promise<void> {
  await writeFile(bundle.cli, cliSource(config));
}

/**
 * The probe as a Node user of the packages runs it: transpiled alone (no bundle) into the
 * checkout's .tmp/, so that it imports `baton-auth`, `baton-auth-client` and `hono` from
 * node_modules — the packages' dist/ (`npm test` builds it first) — with `config` written in.
 * Returns the file and its removal.
 */
export async function unbundledProbe(config: ProbeConfig): Promise<{ file: string; remove: () => Promise<void> }> {
  const root = new URL('../../.tmp/', import.meta.url).pathname;
  await mkdir(root, { recursive: true });
  const dir = await mkdtemp(join(root, 'runtime-'));
  await build({
    entryPoints: [join(PROBE, 'probe.ts')],
    outfile: join(dir, 'probe.mjs'),
    format: 'esm',
    platform: 'node',
    target: 'esnext',
    logLevel: 'warning',
  });
  const file = join(dir, 'cli.mjs');
  await writeFile(file, cliSource(config));
  return { file, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A command-line entry that runs the probe of ./probe.mjs on `config` and prints its lines. */
function cliSource(config: ProbeConfig): string {
  return `import { probe } from './probe.mjs';\nawait probe(${JSON.stringify(config)}, (line) => console.log(JSON.stringify(line)));\nconsole.log(JSON.stringify({ step: 'done' }));\n`;
}

/**
 * Runs `command` with `args` in the bundle's folder (no package.json or config of the checkout is
 * found from there): its standard output, or a failure with both streams. Killed past `timeoutMs`.
 */
export function runProcess(command: string, args: string[], bundle: ProbeBundle, env: Record<string, string> = {}, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: bundle.dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? bundle.dir, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} ended with ${signal ?? code}${signal === 'SIGKILL' ? ` (past ${timeoutMs} ms)` : ''}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
          ),
        );
    });
  });
}

/** The probe's JSON lines in `output`; anything else the runtime printed is ignored. */
function linesOf(output: string): Line[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

/** What every runtime must print: the same as Node. */
function expectProbe(lines: Line[], config: ProbeConfig, sub: string): void {
  const jwks = lines[0]?.fetched;
  expect(lines).toMatchObject([
    { step: 'verify', sub, aud: config.api, scope: 'orders:read', feedConnected: true },
    { step: 'tampered', threw: 'ERR_TOKEN_INVALID' },
    { step: 'expired', threw: 'ERR_TOKEN_EXPIRED' },
    { step: 'guard', status: 200, body: { sub }, forged: 401, challenge: 'invalid_token' },
    { step: 'signIn', tokenType: 'DPoP', refreshToken: 'string', session: 'string' },
    { step: 'call', status: 200, body: { sub } },
    { step: 'refresh', rotated: true, status: 200 },
    { step: 'logout', heard: true, code: 'ERR_SESSION_REVOKED', signedOut: 'ERR_NOT_SIGNED_IN' },
    { step: 'done' },
  ]);
  // The keys came from the issuer's JWKS, found by discovery (RFC 8414).
  expect(jwks).toEqual(expect.arrayContaining(['/.well-known/oauth-authorization-server', '/.well-known/jwks.json']));
}

/** The matrix's test for one runtime: skipped (with the reason) where it is missing, unless BATON_REQUIRE_RUNTIMES=1. */
export function runtimeSuite(name: string, driver: RuntimeDriver): void {
  const missing = driver.missing();
  const required = process.env.BATON_REQUIRE_RUNTIMES === '1';
  if (missing !== undefined && !required) console.warn(`[runtimes] ${name} skipped: ${missing}`);
  describe.skipIf(missing !== undefined && !required)(`on ${name}`, () => {
    let issuer: Awaited<ReturnType<typeof startIssuer>> | undefined;
    let bundle: ProbeBundle | undefined;
    beforeAll(async () => {
      if (missing !== undefined) return;
      [issuer, bundle] = await Promise.all([startIssuer(), bundleProbe()]);
      await writeCli(bundle, issuer.config);
    });
    afterAll(async () => {
      await issuer?.stop();
      if (bundle) await rm(bundle.dir, { recursive: true, force: true });
    });
    it("verifies the issuer's tokens by its JWKS, refuses tampered, expired and revoked ones, and runs the client SDK", async () => {
      if (missing !== undefined) throw new Error(`${name} is required (BATON_REQUIRE_RUNTIMES=1) and missing: ${missing}`);
      const { config, sub } = issuer as NonNullable<typeof issuer>;
      expectProbe(linesOf(await driver.run(bundle as ProbeBundle, config)), config, sub);
    });
  });
}
