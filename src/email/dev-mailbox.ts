/**
 * The local dev mailbox: a copy of every sent mail in KV, listed at /dev/mailbox, so a developer
 * (and the tests: Miniflare's `send_email` simulation writes files the Worker cannot read) can open
 * the links. On only when `.dev.vars` says DEV_MAILBOX=1 (written by `npm start`) AND ISSUER is a
 * loopback origin: `npm run check-config` and the deploy guard refuse the variable, and a plain
 * `wrangler deploy` that skips them still serves nothing, since a deployed ISSUER is never loopback.
 */
import { uuidv7 } from '../crypto/uuid7'
import { DEV_MAIL_PREFIX, devMailKey } from '../db/kv-keys'

/** Long enough to open a link (links live ≤ 30 min); KV refuses an expirationTtl below 60 s. */
const DEV_MAIL_TTL_SECONDS = 3_600
/** The page lists at most this many, newest first. */
export const DEV_MAILBOX_SIZE = 50

export interface DevMail {
  id: string
  at: string
  from: string
  to: string
  subject: string
  text: string
}

const LOOPBACK_HOSTS = ['127.0.0.1', '[::1]', 'localhost']

export function devMailboxEnabled(env: { DEV_MAILBOX?: string }, issuer: string): boolean {
  if (env.DEV_MAILBOX !== '1') return false
  try {
    return LOOPBACK_HOSTS.includes(new URL(issuer).hostname)
  } catch {
    return false
  }
}

export async function keepDevMail(kv: KVNamespace, mail: Omit<DevMail, 'id' | 'at'>): Promise<void> {
  const id = uuidv7()
  const value: DevMail = { id, at: new Date().toISOString(), ...mail }
  await kv.put(devMailKey(id), JSON.stringify(value), { expirationTtl: DEV_MAIL_TTL_SECONDS })
}

/** The newest mails first (UUIDv7 keys sort by time; KV lists in key order). */
export async function listDevMail(kv: KVNamespace, to?: string): Promise<DevMail[]> {
  const keys: string[] = []
  let cursor: string | undefined
  do {
    const page = await kv.list({ prefix: DEV_MAIL_PREFIX, cursor })
    keys.push(...page.keys.map((key) => key.name))
    cursor = page.list_complete ? undefined : page.cursor
  } while (cursor)
  const mails: DevMail[] = []
  for (const key of keys.reverse()) {
    if (mails.length >= DEV_MAILBOX_SIZE) break
    const mail = await kv.get<DevMail>(key, 'json')
    if (mail && (to === undefined || mail.to.toLowerCase() === to.toLowerCase())) mails.push(mail)
  }
  return mails
}
