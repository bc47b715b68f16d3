/**
 * What a username may be: letters, digits and . _ @ + - (usable as an email address, safe in an
 * upstream header), 3-64 characters. Shared by registration and the operator CLI.
 */
export const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{2,63}$/

/** Shown for a refused name; the refused value itself is not repeated (it may be anything). */
export const USERNAME_RULE = 'a username must be 3-64 letters, digits or . _ @ + - characters'
