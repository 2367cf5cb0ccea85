/**
 * How a person runs `baton` where this process runs: `npm run baton --` in a clone of the
 * repository (the npm scripts), `npx baton` where the package is installed. Messages that tell
 * someone a command to type use it (#22: an installed service told its users `npm run baton --`).
 */
export function batonCommand(env: NodeJS.ProcessEnv = process.env): string {
  const viaScript = env.npm_lifecycle_event === 'baton' || env.npm_lifecycle_event === 'start';
  return viaScript && env.npm_package_name === 'baton-monorepo' ? 'npm run baton --' : 'npx baton';
}
