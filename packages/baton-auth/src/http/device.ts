/**
 * A session's device as a person names it, parsed from its recorded user agent with `bowser`
 * (MIT): "Chrome 131 on Linux", "Firefox 133 on Windows". Parsed where sessions are answered, so
 * that sessions recorded before keep up with the parser, and every client — the page, an app, a
 * script — shows the same names without a parser of its own.
 */
import Bowser from 'bowser';
import { LRUCache } from 'lru-cache';
import type { DeviceInfo } from '../core/store.ts';

/** A device as answered: the recorded fields, and the browser, system and name its user agent gives. */
export interface DescribedDevice extends DeviceInfo {
  /** The browser and its major version ("Chrome 131"), when the user agent names one. */
  browser?: string;
  /** The operating system ("Linux", "Windows", "macOS", "iOS", "Android"), when it names one. */
  os?: string;
}

type Parsed = Pick<DescribedDevice, 'browser' | 'os' | 'name'>;

/** Browsers by their everyday names. */
const SHORT: Record<string, string> = { 'Microsoft Edge': 'Edge', 'Samsung Internet for Android': 'Samsung Internet' };

/** What is parsed of a user agent: what the service's login records (routes/login.ts). */
const MAX_USER_AGENT = 256;
// A few distinct user agents make most answers: each is parsed once.
const parsed = new LRUCache<string, Parsed>({ max: 1000 });

function parse(recorded: string): Parsed {
  // An application's own logins (`baton.login`) may record a whole header (16 KB): the parser, and
  // the cache's keys, see only its start, so a list of sessions costs the same however they began.
  const userAgent = recorded.slice(0, MAX_USER_AGENT);
  const hit = parsed.get(userAgent);
  if (hit !== undefined) return hit;
  let b: { name?: string; version?: string } = {};
  let o: { name?: string } = {};
  try {
    ({ browser: b, os: o } = Bowser.parse(userAgent));
  } catch {
    // A user agent the parser cannot read is named by its product token below, or not at all.
  }
  const major = b.version?.split('.')[0];
  // Not a browser (curl, an SDK in Node): its first product token ("curl/8.5.0" → "curl 8").
  const product = /^([A-Za-z][\w.-]{0,31})\/(\d{1,6})/.exec(userAgent);
  const browser = b.name ? `${SHORT[b.name] ?? b.name}${major ? ` ${major}` : ''}` : product ? `${product[1]} ${product[2]}` : undefined;
  const os = o.name || undefined;
  const name = browser && os ? `${browser} on ${os}` : (browser ?? os);
  const result: Parsed = { ...(browser ? { browser } : {}), ...(os ? { os } : {}), ...(name ? { name } : {}) };
  parsed.set(userAgent, result);
  return result;
}

/** `device` with the browser, system and name of its user agent; a recorded `name` (the application's) is kept. */
export function describeDevice(device: DeviceInfo): DescribedDevice {
  if (!device.userAgent) return device;
  return { ...device, ...parse(device.userAgent), ...(device.name ? { name: device.name } : {}) };
}
