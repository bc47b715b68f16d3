/**
 * Header names as upstream servers read them. In its own low module because the settings schema
 * (the operator's `strip_request_headers`) and the proxy's header filter must agree on it exactly.
 */

/** RFC 9110 §5.1: a field name is a `token`. */
export const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,256}$/

/** Lowercase, with `_` and `.` read as `-`: how some servers (CGI, WSGI, nginx) see a name. */
export function normalizeHeaderName(name: string): string {
  return name.toLowerCase().replace(/[_.]/g, '-')
}
