/** OAuth error answers (RFC 6749 §5.2, RFC 6750 §3), as every endpoint and guard writes them. */

/**
 * An `error_description` as RFC 6749 §5.2 allows it — printable ASCII but `"` and `\`
 * (%x20-21 / %x23-5B / %x5D-7E) — so that strict clients take it, in a body or in an RFC 6750 §3
 * header value: `§` reads "section", quotes become `'`, dashes and ellipses ASCII, anything else `?`.
 */
export function oauthDescription(text: string): string {
  return text
    .replace(/§ ?/g, 'section ')
    .replace(/"/g, "'")
    .replace(/\\/g, '/')
    .replace(/[—–]/g, '-')
    .replace(/…/g, '...')
    .replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '?');
}
