/**
 * Sending mail through the `send_email` binding (`env.EMAIL`, Cloudflare Email Service). The
 * binding's structured form (`send({from, to, subject, text})`) builds the MIME itself, so no MIME
 * library is needed; wrangler 4.86's local simulation accepts that form and logs the message.
 *
 * A mail never sits on the request's critical path: `deliverLater` hands it to `waitUntil`, which
 * also keeps the response the same whether or not a mail goes out (enumeration). A failed send is
 * retried once, then audited (`email_send_failed`) and logged, never silently lost.
 */
import type { AuditSink } from '../audit'
import type { EmailSettings } from '../config/schema'
import { logEvent } from '../log'
import { devMailboxEnabled, keepDevMail } from './dev-mailbox'
import type { Mail, MailKind } from './templates'

export interface MailEnv {
  EMAIL?: SendEmail
  KV: KVNamespace
  DEV_MAILBOX?: string
}

export interface Delivery {
  env: MailEnv
  issuer: string
  settings: EmailSettings
  waitUntil: (promise: Promise<unknown>) => void
  audit?: AuditSink
}

export interface Envelope {
  kind: MailKind
  to: string
  /** The user the mail is about (audit subject), when one is. */
  userId?: string
  mail: Mail
}

const RETRY_DELAY_MS = 1_000

function sender(settings: EmailSettings): string | { email: string; name: string } {
  return settings.from_name ? { email: settings.from, name: settings.from_name } : settings.from
}

async function sendOnce(delivery: Delivery, envelope: Envelope): Promise<void> {
  const { env, settings } = delivery
  if (!env.EMAIL) throw new Error('the EMAIL binding ([[send_email]] in wrangler.toml) is missing')
  await env.EMAIL.send({
    from: sender(settings),
    to: envelope.to,
    subject: envelope.mail.subject,
    text: envelope.mail.text,
  })
}

/** Sends now (retrying once); resolves whatever happens, having audited a failure. */
export async function deliver(delivery: Delivery, envelope: Envelope): Promise<boolean> {
  if (devMailboxEnabled(delivery.env, delivery.issuer)) {
    await keepDevMail(delivery.env.KV, {
      from: delivery.settings.from,
      to: envelope.to,
      subject: envelope.mail.subject,
      text: envelope.mail.text,
    })
  }
  let lastError: unknown
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS))
    try {
      await sendOnce(delivery, envelope)
      return true
    } catch (error) {
      lastError = error
    }
  }
  const cause = lastError instanceof Error ? lastError.message : String(lastError)
  logEvent('error', 'email_send_failed', { kind: envelope.kind, cause })
  delivery.audit?.record({
    type: 'email_send_failed',
    outcome: 'failure',
    subjectId: envelope.userId ?? null,
    details: { kind: envelope.kind, cause: cause.slice(0, 200) },
  })
  return false
}

/** Sends after the response (`waitUntil`): the request neither waits for nor reveals the outcome. */
export function deliverLater(delivery: Delivery, envelope: Envelope): void {
  delivery.waitUntil(deliver(delivery, envelope))
}
