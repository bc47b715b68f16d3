/** The email flows' /auth pages in the OpenAPI document (docs/email.md). */
import * as z from 'zod/mini'
import { describeOperation, FORM, html, redirect } from '../admin'

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
}
