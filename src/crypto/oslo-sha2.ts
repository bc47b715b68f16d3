/**
 * What the bundle takes of `@oslojs/crypto/sha2` (wrangler.toml's [alias] points that specifier
 * here): @oslojs/webauthn uses only SHA-256, but the package's sha2 index also brings SHA-224 and
 * SHA-512/384, whose top-level constant tables esbuild cannot prove unused (~1.2 KiB gzip). Should a
 * newer @oslojs/webauthn import anything else from it, the build fails on the missing export.
 * Nothing in src imports this file: it exists for the alias only.
 */
export { SHA256, sha256 } from '../../node_modules/@oslojs/crypto/dist/sha2/sha256.js'
