/** The browser-facing /auth endpoints (login, logout, sessions, pages) in the OpenAPI document. */
import * as z from 'zod/mini'
import {
  appTokenRefused,
  bearerOrSession,
  describeOperation,
  error,
  FORM,
  html,
  IdParam,
  json,
  redirect,
  Session,
} from '../admin'

export function describeBrowserEndpoints(): void {
  const tags = ['Auth']
  const path = describeOperation
  path({
    method: 'post',
    path: '/auth/logout',
    tags,
    summary: 'End this session (bearer: 204; browser session: clears the cookie, 303 to login)',
    security: bearerOrSession,
    responses: {
      204: { description: 'Ended' },
      303: redirect('Browser: to the login page'),
      401: error('No valid token'),
    },
  })
  path({
    method: 'post',
    path: '/auth/logout-all',
    tags,
    summary: 'End every session and token of the caller',
    security: bearerOrSession,
    responses: {
      204: { description: 'Ended' },
      303: redirect('Browser: to the login page'),
      401: error('No valid credentials'),
      403: appTokenRefused(),
    },
  })
  path({
    method: 'get',
    path: '/auth/login',
    tags,
    summary: 'Login form',
    responses: { 200: html('The form') },
  })
  path({
    method: 'post',
    path: '/auth/login',
    tags,
    summary: 'Browser login (form; CSRF token and same-origin required)',
    bodyTypes: FORM,
    body: z.object({
      username: z.string(),
      password: z.string(),
      csrf: z.string(),
      return_to: z.optional(z.string()),
      remember: z.optional(z.string()),
    }),
    responses: {
      303: redirect('Signed in: to return_to, with the session cookie'),
      401: html('Wrong credentials'),
      403: html('Form expired or cross-site'),
      429: html('Throttled'),
    },
  })
  path({
    method: 'get',
    path: '/auth/sessions',
    tags,
    summary: "The caller's browser sessions (JSON, or HTML for browsers)",
    security: bearerOrSession,
    responses: {
      200: json(z.object({ items: z.array(z.extend(Session, { current: z.boolean() })) }), 'Sessions'),
      401: error('No valid credentials'),
      403: appTokenRefused(),
    },
  })
  path({
    method: 'delete',
    path: '/auth/sessions/{id}',
    tags,
    summary: 'End one of your sessions',
    security: bearerOrSession,
    params: IdParam,
    responses: {
      204: { description: 'Ended' },
      401: error('No valid credentials'),
      403: appTokenRefused(),
      404: error('No such session'),
    },
  })
  path({
    method: 'post',
    path: '/auth/sessions/{id}/end',
    tags,
    summary: 'End one of your sessions (HTML form version of DELETE)',
    security: bearerOrSession,
    params: IdParam,
    responses: {
      303: redirect('Back to the sessions page'),
      401: error('No valid credentials'),
      403: appTokenRefused(),
      404: error('No such session'),
    },
  })
  path({
    method: 'get',
    path: '/auth/assets/gateway.css',
    tags,
    summary: "The pages' stylesheet",
    responses: { 200: { description: 'CSS', schema: z.string(), contentType: 'text/css' } },
  })
}
