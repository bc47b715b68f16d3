/**
 * The mails the gateway sends: one default subject and text per kind, overridable in
 * SETTINGS.email.templates. `{link}`, `{code}`, `{username}` and `{product}` are filled in; a link
 * is always built by the caller from ISSUER, never from the request's Host.
 */
import type { EmailSettings } from '../config/schema'

export type MailKind = keyof EmailSettings['templates']

const DEFAULTS: Record<MailKind, { subject: string; text: string }> = {
  verify_email: {
    subject: 'Confirm your email address for {product}',
    text: 'Hello {username},\n\nconfirm this address for your {product} account by opening the link below and pressing "Confirm":\n\n{link}\n\nThe link works once, for 30 minutes. If you did not ask for this, ignore this mail.',
  },
  password_reset: {
    subject: 'Reset your {product} password',
    text: 'Hello {username},\n\nsomeone (hopefully you) asked to reset the password of your {product} account. Choose a new one here:\n\n{link}\n\nThe link works once, for 30 minutes. Setting a new password signs you out everywhere. If you did not ask for this, ignore this mail: your password stays as it is.',
  },
  sign_in_link: {
    subject: 'Your {product} sign-in link',
    text: 'Hello {username},\n\nopen this link and press "Sign in" to sign in to {product}:\n\n{link}\n\nThe link works once, for a short time. If you did not ask for it, ignore this mail.',
  },
  sign_in_code: {
    subject: 'Your {product} sign-in code: {code}',
    text: 'Hello {username},\n\nyour sign-in code for {product} is {code}.\n\nIt works once, for a few minutes. If you did not ask for it, ignore this mail.',
  },
  email_change: {
    subject: 'Confirm your new email address for {product}',
    text: 'Hello {username},\n\nconfirm that this is the new address of your {product} account:\n\n{link}\n\nUntil you do, the old address stays. If you did not ask for this, ignore this mail.',
  },
  email_change_notice: {
    subject: 'Your {product} email address is being changed',
    text: 'Hello {username},\n\nsomeone signed in to your {product} account asked to change its email address to another one. It changes only when the new address confirms. If this was not you, change your password now.',
  },
  address_in_use: {
    subject: 'Someone tried to use your address at {product}',
    text: 'Hello,\n\nsomeone tried to use this address for another {product} account (signing up, or changing an account\'s address), but it already belongs to the account "{username}". Nothing changed. If it was you, sign in or reset your password:\n\n{link}\n\nIf not, you can ignore this mail.',
  },
}

export interface MailValues {
  username: string
  product: string
  link?: string
  code?: string
}

export interface Mail {
  subject: string
  text: string
}

function fill(template: string, values: MailValues): string {
  return template.replace(
    /\{(link|code|username|product)\}/g,
    (_, name: keyof MailValues) => values[name] ?? '',
  )
}

export function composeMail(settings: EmailSettings, kind: MailKind, values: MailValues): Mail {
  const template = { ...DEFAULTS[kind], ...settings.templates[kind] }
  // A subject is one header line: whatever a username holds, no line break reaches it.
  const subject = fill(template.subject, values).replace(/[\r\n]+/g, ' ')
  return { subject, text: fill(template.text, values) }
}
