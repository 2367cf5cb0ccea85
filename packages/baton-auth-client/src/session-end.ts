/**
 * Why a session ended, said as a sentence a user understands: "Signed out: you signed in on
 * Firefox on Linux at 14:02, and this account allows one device."
 */
import type { SessionEnd } from './types.ts';

/** A device as a person names it: its recorded name, else the browser and system its user agent names. */
export function deviceName(device: SessionEnd['device']): string | undefined {
  if (device?.name) return device.name;
  const ua = device?.userAgent;
  if (!ua) return undefined;
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : /curl\//.test(ua)
            ? 'curl'
            : undefined;
  const system = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Windows/.test(ua)
        ? 'Windows'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : undefined;
  return browser && system ? `${browser} on ${system}` : (browser ?? system ?? 'another device');
}

/** The sentence for `sessionEnded`'s payload, in English; `time` formats a moment (default: the locale's time of day). */
export function sessionEndMessage(
  end: SessionEnd,
  time: (ms: number) => string = (ms) => new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }),
): string {
  const on = end.device ? ` on ${deviceName(end.device)}` : ' on another device';
  const at = end.at !== undefined ? ` at ${time(end.at)}` : '';
  switch (end.reason) {
    case 'logout':
      return 'You signed out.';
    case 'logout_everywhere':
      return `Signed out: you signed out of every device${on}${at}.`;
    case 'kicked':
      return `Signed out: this device was signed out from${on.replace(' on', '')}${at}.`;
    case 'evicted':
      return `Signed out: you signed in${on}${at}, and this account allows one device at a time.`;
    case 'reused':
      return `Signed out for your safety: an old sign-in token of this session was used again${end.ip ? ` from ${end.ip}` : ''}${at}. Sign in again; if it was not you, change your password.`;
    case 'idle_timeout':
      return 'Signed out after a long time without activity.';
    case 'absolute_timeout':
      return 'Signed out: sessions last a limited time. Please sign in again.';
    case 'key_revoked':
      return 'Signed out: the service replaced one of its keys. Please sign in again.';
    case 'password_changed':
      return `Signed out: the password was changed${at}.`;
    case 'admin':
      return `Signed out by an administrator${at}.`;
    case 'signed_out_elsewhere':
      return 'Signed out in another tab or process.';
    default:
      return 'Your session ended. Please sign in again.';
  }
}
