/**
 * `npm run check-config [-- --env NAME]`: validates wrangler.toml offline with the Worker's own
 * validator, so a configuration that passes here is one the deployed gateway accepts (and one that
 * fails here would answer every request with 503 gateway_misconfigured).
 */
import { runCheckConfig } from './lib/check-config-cli'
import { scriptArgs } from './lib/cli'

runCheckConfig(scriptArgs())
