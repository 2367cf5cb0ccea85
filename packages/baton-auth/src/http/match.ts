/** Which endpoint of the route table (`handler.ts`) a path is. */
import type { Route } from './context.ts';

/** A route found: its endpoint, its table entry (`name`, what logs and spans carry) and its parameters. */
export type Found = { route: Route; name: string; params: string[] };

/** The route of a path, with its table entry (`name`, what logs carry) and its parameters. */
export function match(routes: Record<string, Route>, path: string): Found | undefined {
  const exact = routes[path];
  if (exact) return { route: exact, name: path, params: [] };
  const slash = path.lastIndexOf('/');
  const name = `${path.slice(0, slash)}/*`;
  const wildcard = routes[name];
  let param: string;
  try {
    param = decodeURIComponent(path.slice(slash + 1));
  } catch {
    return undefined;
  }
  return wildcard && param ? { route: wildcard, name, params: [param] } : undefined;
}
