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
  if (wildcard === undefined) return middle(routes, path, slash);
  let param: string;
  try {
    param = decodeURIComponent(path.slice(slash + 1));
  } catch {
    return undefined;
  }
  return param ? { route: wildcard, name, params: [param] } : undefined;
}

/** A route whose next-to-last segment is the parameter (the provider's name of `/auth/providers/<name>/callback`). */
function middle(routes: Record<string, Route>, path: string, slash: number): Found | undefined {
  const prev = path.lastIndexOf('/', slash - 1);
  if (prev < 0) return undefined;
  const name = `${path.slice(0, prev)}/*${path.slice(slash)}`;
  const route = routes[name];
  if (route === undefined) return undefined;
  let param: string;
  try {
    param = decodeURIComponent(path.slice(prev + 1, slash));
  } catch {
    return undefined;
  }
  return param ? { route, name, params: [param] } : undefined;
}
