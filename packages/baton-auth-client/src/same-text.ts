/**
 * Whether two strings are equal, in a time that depends on their length only — for the values a
 * sign-in compares with what it sent (`state`, `nonce`), which a page's script or a network
 * observer should learn nothing about from how long a refusal took.
 */
export function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
