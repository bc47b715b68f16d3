/**
 * The WebAuthn relying party of this deployment, from ISSUER alone (never the request's Host): the
 * RP ID is ISSUER's host and the only origin a ceremony may come from is ISSUER's origin.
 *
 * An IP address can never be an RP ID (WebAuthn §5.1.3 requires a valid domain; Chromium answers
 * `SecurityError: This is an invalid domain`), so an ISSUER on an IP address (npm start's default
 * http://127.0.0.1:8787) has no relying party and passkeys are off there. Loopback development
 * uses http://localhost:<port>, which browsers treat as a secure context.
 */
export interface RelyingParty {
  /** The RP ID: ISSUER's host name, without port. */
  id: string
  /** ISSUER's origin: the exact `origin` a ceremony's clientDataJSON must carry. */
  origin: string
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/

/** The relying party for `issuer`, or undefined when its host is an IP address (or it is no URL). */
export function relyingPartyFor(issuer: string): RelyingParty | undefined {
  let url: URL
  try {
    url = new URL(issuer)
  } catch {
    return undefined
  }
  const host = url.hostname
  if (host === '' || IPV4.test(host) || host.startsWith('[')) return undefined
  return { id: host, origin: url.origin }
}

/** What the passkey pages and endpoints say when ISSUER's host is an IP address. */
export const PASSKEYS_NEED_A_DOMAIN =
  'Passkeys need a domain name: start with ISSUER=http://localhost:8787 npm start'
