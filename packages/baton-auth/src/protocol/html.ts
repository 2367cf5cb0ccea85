/**
 * Text inside HTML the library, the service and the client SDK write by hand (the hosted pages,
 * a CLI's loopback answer): escaped once, the same way, for a text node or a double-quoted attribute.
 */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
