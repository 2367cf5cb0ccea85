/**
 * `npm run release:check`: the three packages as a user would get them. Builds, packs each
 * workspace (`npm pack`), checks what the tarballs hold (no tests, no data, no secrets, every
 * source map's sources inside the package) and each entry point's types (arethetypeswrong),
 * installs the three tarballs together into an empty project and uses them there: every export imported by name (ESM), their types through `tsc`,
 * the installed `baton` command (`--help`, `secret generate`, `serve` on `BATON_STORE=memory:`
 * answering `/healthz`). Exits 1 with a sentence at the first failure.
 *
 * Options: `--out <dir>` keeps the tarballs there (default `release/`, for installing from a
 * clone); `--no-build` when dist is fresh (`npm test` builds first).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const PACKAGES = ['baton-auth', 'baton-auth-client', 'baton-auth-server'];

/** A failed check: its message is the sentence printed. */
class CheckFailed extends Error {}
const fail = (sentence: string): never => {
  throw new CheckFailed(sentence);
};

/** The children run on this process's Node (the project's 24), whatever `node` the PATH has first. */
const env = {
  ...process.env,
  PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
  NODE_OPTIONS: '',
  npm_config_update_notifier: 'false',
  npm_config_fund: 'false',
  npm_config_audit: 'false',
};

async function sh(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { cwd, env, timeout, maxBuffer: 32 * 1024 * 1024, encoding: 'utf8' });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    return fail(`\`${cmd} ${args.join(' ')}\` failed in ${cwd}: ${(e.stderr || e.stdout || e.message).trim().split('\n').slice(-15).join('\n')}`);
  }
}

interface Manifest {
  name: string;
  version: string;
  exports: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** What a published package must never hold. */
const FORBIDDEN: [RegExp, string][] = [
  [/(^|\/)(test|tests|__tests__)\//, 'a test folder'],
  [/\.(test|spec)\.[cm]?[jt]sx?(\.map)?$/, 'a test file'],
  [/(^|\/)data\//, 'a data/ folder'],
  [/\.(sqlite|sqlite-wal|sqlite-shm|db)$/, 'a database'],
  [/(^|\/)\.env/, 'an environment file'],
  [/\.(secret|pem|key|p12|pfx)$/, 'a secret or key file'],
  [/(^|\/)\.npmrc$/, 'an .npmrc'],
  [/\.tsbuildinfo$/, 'a TypeScript build cache'],
];

/** Checks an unpacked tarball (`dir/package`): the files it must hold and those it must not, and the source maps. */
export function checkContents(name: string, dir: string): void {
  const files: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at)) {
      const path = join(at, entry);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(relative(dir, path).split('\\').join('/'));
    }
  };
  walk(dir);
  const present = new Set(files);
  for (const required of ['package.json', 'README.md', 'LICENSE']) if (!present.has(required)) fail(`${name}'s tarball has no ${required}.`);
  for (const file of files) {
    for (const [pattern, what] of FORBIDDEN) if (pattern.test(file)) fail(`${name}'s tarball holds ${what}: ${file}. Exclude it with the package's "files".`);
  }
  for (const file of files.filter((f) => f.endsWith('.map'))) {
    const map = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { sources?: string[]; sourceRoot?: string };
    for (const source of map.sources ?? []) {
      const target = posix.normalize(posix.join(posix.dirname(file), map.sourceRoot ?? '', source));
      if (!present.has(target)) fail(`${name}'s source map ${file} points to ${source}, which the tarball does not hold.`);
    }
  }
}

/** A port free now on 127.0.0.1. */
async function freePort(): Promise<number> {
  return new Promise((ok, ko) => {
    const server = createServer()
      .listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => ok(port));
      })
      .on('error', ko);
  });
}

/** `npx baton serve` on memory: until `/healthz` answers 200, then SIGTERM and its exit. */
async function checkServe(project: string): Promise<void> {
  const port = await freePort();
  const child = spawn('npx', ['--no-install', 'baton', 'serve'], {
    cwd: project,
    env: { ...env, BATON_STORE: 'memory:', PORT: String(port), HOST: '127.0.0.1', BATON_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npx and the service stop together
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  let status = 0;
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && child.exitCode === null) {
      status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
  }
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 10_000).unref())]);
  if (code === 'hung' && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  if (status !== 200)
    fail(
      `The installed \`npx baton serve\` (BATON_STORE=memory:) never answered /healthz with 200 (last ${status || 'no answer'}): ${output.trim().slice(-800)}`,
    );
  if (code === 'hung') fail('The installed `npx baton serve` did not stop within 10 s of SIGTERM.');
}

/** Every export subpath of every installed package, imported by name in a fresh Node process. */
async function checkImports(project: string, manifests: Manifest[]): Promise<void> {
  const specifiers = manifests.flatMap((m) =>
    Object.keys(m.exports)
      .filter((p) => !p.endsWith('.json'))
      .map((p) => (p === '.' ? m.name : `${m.name}/${p.slice(2)}`)),
  );
  // An optional peer an app installs for the subpath that needs it (a framework, fast-check): missing is fine.
  const optional = manifests.flatMap((m) =>
    Object.entries(m.peerDependenciesMeta ?? {})
      .filter(([, v]) => v.optional)
      .map(([k]) => k),
  );
  const script = `
    const out = {};
    for (const s of ${JSON.stringify(specifiers)}) {
      try { out[s] = Object.keys(await import(s)); }
      catch (e) { out[s] = { error: e.code ?? e.name, message: String(e.message).slice(0, 300) }; }
    }
    console.log(JSON.stringify(out));`;
  writeFileSync(join(project, 'imports.mjs'), script);
  const out = JSON.parse(await sh(process.execPath, ['imports.mjs'], project)) as Record<string, string[] | { error: string; message: string }>;
  for (const [specifier, names] of Object.entries(out)) {
    if (Array.isArray(names)) {
      if (names.length === 0) fail(`${specifier} imports, but exports nothing.`);
      continue;
    }
    const peer = optional.find((p) => names.error === 'ERR_MODULE_NOT_FOUND' && names.message.includes(`'${p}'`));
    if (peer === undefined) fail(`${specifier} does not import in the installed project: ${names.error} ${names.message}`);
  }
}

/** Their types, through the repository's `tsc` on a file of the empty project (nodenext, strict). */
async function checkTypes(project: string, manifests: Manifest[]): Promise<void> {
  const specifiers = manifests.flatMap((m) =>
    Object.keys(m.exports)
      .filter((p) => !p.endsWith('.json'))
      .map((p) => (p === '.' ? m.name : `${m.name}/${p.slice(2)}`)),
  );
  const lines = specifiers.map((s, i) => `import * as m${i} from '${s}';`);
  lines.push(
    `export const all = [${specifiers.map((_, i) => `m${i}`).join(', ')}];`,
    `import { createBaton } from 'baton-auth';`,
    `import { createTokenClient } from 'baton-auth-client';`,
    `import { loadConfig } from 'baton-auth-server';`,
    // Typed, not any: a call without its options is an error (an unused @ts-expect-error would be one too).
    '// @ts-expect-error createBaton needs its options',
    'createBaton();',
    '// @ts-expect-error createTokenClient needs its options',
    'createTokenClient();',
    `export const port: number = loadConfig({ PORT: '3000', BATON_STORE: 'memory:' }).port;`,
  );
  writeFileSync(join(project, 'check.ts'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2024', strict: true, noEmit: true, skipLibCheck: true, types: [] },
      files: ['check.ts'],
    }),
  );
  await sh(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project);
}

export async function releaseCheck(options: { out: string; build: boolean; log?: (line: string) => void }): Promise<{ tarballs: string[] }> {
  const log = options.log ?? ((line: string) => console.info(line));
  if (options.build) {
    log('building');
    await sh('npm', ['run', 'build'], root, 300_000);
  }
  mkdirSync(options.out, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'baton-release-'));
  try {
    const manifests = PACKAGES.map((name) => JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) as Manifest);
    // One version for the three, and each one's dependency on another a range that version satisfies.
    const versions = new Set(manifests.map((m) => m.version));
    if (versions.size !== 1) fail(`The three packages must share one version; they have ${[...versions].join(', ')}.`);
    const version = manifests[0]?.version as string;
    for (const m of manifests) {
      for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
        if (PACKAGES.includes(dep) && range !== `^${version}`)
          fail(`${m.name} depends on ${dep}@${range}: it must be ^${version}, the version released with it.`);
      }
    }
    log('packing');
    const tarballs: string[] = [];
    for (const name of PACKAGES) {
      const [packed] = JSON.parse(await sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', options.out], join(root, 'packages', name))) as {
        filename: string;
      }[];
      const tarball = join(options.out, (packed as { filename: string }).filename);
      tarballs.push(tarball);
      const unpacked = join(work, 'unpacked', name);
      mkdirSync(unpacked, { recursive: true });
      await sh('tar', ['-xzf', tarball, '-C', unpacked], work);
      checkContents(name, join(unpacked, 'package'));
    }
    // Types as TypeScript resolves them for each entry point (arethetypeswrong, offline on the
    // tarball): ESM only, so CommonJS's require and node10 resolution are not checked.
    log('checking the types of each entry point (arethetypeswrong)');
    await Promise.all(
      tarballs.map((tarball) =>
        sh(process.execPath, [join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js'), '--profile', 'esm-only', '--format', 'ascii', tarball], work),
      ),
    );
    log('installing the three tarballs into an empty project');
    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'baton-release-check', version: '1.0.0', private: true, type: 'module' }));
    await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], project, 300_000);
    // One copy of each: the server's and the client's ranges resolved to the tarballs installed beside them.
    for (const name of PACKAGES) {
      const installed = JSON.parse(readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8')) as Manifest;
      if (installed.version !== version) fail(`${name} installed at ${installed.version}, not ${version}.`);
      for (const other of PACKAGES) {
        if (existsSync(join(project, 'node_modules', name, 'node_modules', other)))
          fail(`${name} installed its own ${other} instead of the one packed with it: their versions do not resolve together.`);
      }
    }
    await sh('npm', ['ls', '--all', '--loglevel=error'], project);
    log('importing every export');
    await checkImports(project, manifests);
    log('checking the types');
    await checkTypes(project, manifests);
    log('running the installed baton command');
    const help = await sh('npx', ['--no-install', 'baton', '--help'], project);
    if (!help.includes('npx baton')) fail(`The installed \`baton --help\` does not say how to run it (npx baton): ${help.slice(0, 300)}`);
    if (help.includes('npm run baton'))
      fail('The installed `baton --help` tells its users to type `npm run baton --`, which only works in the repository: it must say `npx baton`.');
    const secret = (await sh('npx', ['--no-install', 'baton', 'secret', 'generate'], project)).trim();
    if (!/^[A-Za-z0-9_-]{43,}$/.test(secret.split('\n').at(-1) ?? ''))
      fail('The installed `npx baton secret generate` printed no secret (43 or more base64url characters) on its last line.');
    await checkServe(project);
    log(`ok: ${tarballs.map((t) => relative(process.cwd(), t)).join(' ')}`);
    return { tarballs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--out');
  const out = resolve(at === -1 ? join(root, 'release') : (args[at + 1] ?? fail('--out needs a folder')));
  releaseCheck({ out, build: !args.includes('--no-build') }).catch((err: unknown) => {
    console.error(err instanceof CheckFailed ? `release check failed: ${err.message}` : err);
    process.exitCode = 1;
  });
}
