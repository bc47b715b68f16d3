/** The email flows' /auth pages in the OpenAPI document (docs/email.md). */
import * as z from 'zod/mini'
import { describeOperation, error, FORM, html, redirect } from '../admin'

export function describeEmailEndpoints(): void {
  const tags = ['Auth']
  const path = describeOperation
  const token = z.object({ token: z.string() })
  path({
    method: 'get',
    path: '/auth/forgot-password',
    tags,
    summary: 'Forgot-password form',
    responses: { 200: html('The form') },
  })
  path({
    method: 'post',
    path: '/auth/forgot-password',
    tags,
    summary: 'Mail a reset link (the same answer whether or not the address has an account)',
    bodyTypes: FORM,
    body: z.object({ email: z.string(), csrf: z.string() }),
    responses: {
      200: html('"If an account has that address, a link is on its way"'),
      403: html('Form expired or cross-site'),
      429: html('Throttled'),
    },
  })
  path({
    method: 'get',
    path: '/auth/reset-password',
    tags,
    summary: 'New-password form for an emailed link (does not use the link up)',
    query: token,
    responses: { 200: html('The form, naming the account'), 400: html('Expired or used link') },
  })
  path({
    method: 'post',
    path: '/auth/reset-password',
    tags,
    summary: 'Set the password with the emailed token; ends every session and token of the account',
    bodyTypes: FORM,
    body: z.object({ token: z.string(), password: z.string(), csrf: z.string() }),
    responses: {
      303: redirect('Signed in (or to the second step)'),
      400: html('Expired or used link, or a refused password'),
      403: html('Form expired or cross-site'),
    },
  })
  path({
    method: 'get',
    path: '/auth/verify-email',
    tags,
    summary: 'Confirm page for an emailed verification or address-change link (does not use it up)',
    query: token,
    responses: { 200: html('The confirm button'), 400: html('Expired or used link') },
  })
  path({
    method: 'post',
    path: '/auth/verify-email',
    tags,
    summary: 'Confirm the address with the emailed token',
    bodyTypes: FORM,
    body: z.object({ token: z.string(), csrf: z.string() }),
    responses: { 200: html('Confirmed'), 400: html('Expired or used link') },
  })
  const off = error('Off (SETTINGS.email.sign_in_link / sign_in_code): as an unknown path')
  path({
    method: 'post',
    path: '/auth/email-sign-in',
    tags,
    summary:
      'Mail a sign-in link or a 6-digit code (the same answer whether or not the address has an account)',
    bodyTypes: FORM,
    body: z.object({
      email: z.string(),
      kind: z.enum(['link', 'code']),
      return_to: z.optional(z.string()),
      csrf: z.string(),
    }),
    responses: {
      200: html('"If an account has that address…"; for a code, the form to enter it'),
      400: html('No valid address'),
      403: html('Form expired or cross-site'),
      404: off,
      429: html('Throttled'),
    },
  })
  path({
    method: 'get',
    path: '/auth/sign-in-link',
    tags,
    summary: 'Sign-in page for an emailed link, naming the account (does not use the link up)',
    query: token,
    responses: {
      200: html('"Sign in as …", asking first when opened in another browser than the one that asked'),
      400: html('Expired or used link'),
      404: off,
    },
  })
  path({
    method: 'post',
    path: '/auth/sign-in-link',
    tags,
    summary: 'Sign in with the emailed link (a second factor is still owed)',
    bodyTypes: FORM,
    body: z.object({
      token: z.string(),
      csrf: z.string(),
      other_browser: z.optional(z.literal('confirmed')),
    }),
    responses: {
      200: html('Another browser than the one that asked: the question first'),
      303: redirect('Signed in (or to the second step)'),
      400: html('Expired or used link'),
      403: html('Form expired or cross-site'),
      404: off,
    },
  })
  path({
    method: 'post',
    path: '/auth/email-code',
    tags,
    summary: 'Sign in with an emailed 6-digit code (a second factor is still owed)',
    bodyTypes: FORM,
    body: z.object({
      email: z.string(),
      code: z.string(),
      return_to: z.optional(z.string()),
      csrf: z.string(),
    }),
    responses: {
      303: redirect('Signed in (or to the second step)'),
      400: html('No valid address'),
      401: html('Wrong, expired or used code, or no such account (one message)'),
      403: html('Form expired or cross-site'),
      404: off,
      429: html('Throttled'),
    },
  })
}
