/**
 * The production bundle is minified as wrangler.toml says (keep_names off: it cost ~17 KiB gzip),
 * so jose's and oauth4webapi's error classes, which name their errors `this.constructor.name`,
 * would log minified letters as the `cause`. src/errors/library-names.ts gives them their names
 * back; this bundles it with jose and oauth4webapi under wrangler.toml's own minify settings and
 * checks the names an error carries, before (minified: the test would fail without the fix) and after.
 *
 * Time budget: ~1 s (one esbuild bundle, no gateway).
 */
import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { describe, expect, it } from 'vitest'
import { unstable_readConfig } from 'wrangler'
import { PROJECT_ROOT } from './support/project-copy'

const ENTRY = `
import { errors } from 'jose'
import * as oauth from 'oauth4webapi'
import { nameLibraryErrors } from './src/errors/library-names'

function names() {
  return [
    new errors.JOSEError('m').name,
    new errors.JWTExpired('m', {}).name,
    new errors.JWTClaimValidationFailed('m', {}).name,
    new errors.JWSSignatureVerificationFailed().name,
    new errors.JWKSNoMatchingKey().name,
    new oauth.OperationProcessingError('m').name,
    new oauth.UnsupportedOperationError('m').name,
    new oauth.ResponseBodyError('m', { cause: {}, response: new Response() }).name,
  ]
}

export const before = names()
nameLibraryErrors()
export const after = names()
`

const EXPECTED = [
  'JOSEError',
  'JWTExpired',
  'JWTClaimValidationFailed',
  'JWSSignatureVerificationFailed',
  'JWKSNoMatchingKey',
  'OperationProcessingError',
  'UnsupportedOperationError',
  'ResponseBodyError',
]

async function bundleAsProduction(): Promise<{ before: string[]; after: string[] }> {
  const config = unstable_readConfig({ config: join(PROJECT_ROOT, 'wrangler.toml') }, { hideWarnings: true })
  const outfile = join(PROJECT_ROOT, 'node_modules', '.cache', `library-error-names-${process.pid}.mjs`)
  await build({
    stdin: { contents: ENTRY, resolveDir: PROJECT_ROOT, loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser'],
    minify: config.minify ?? false,
    keepNames: config.keep_names ?? true,
    outfile,
    logLevel: 'silent',
  })
  try {
    return await import(pathToFileURL(outfile).href)
  } finally {
    await rm(outfile, { force: true })
  }
}

describe('library error names in the minified production bundle', () => {
  it('are the classes’ exported names once nameLibraryErrors ran (minified letters before it)', async () => {
    const { before, after } = await bundleAsProduction()
    expect(after).toEqual(EXPECTED)
    // wrangler.toml minifies without keep_names: without the fix the log would say these instead.
    expect(before).not.toEqual(EXPECTED)
  })
})
