/**
 * `npm run admin -- <command>`: the operator CLI. It drives the local (default) or deployed D1
 * and KV through wrangler, and hashes passwords with the Worker's own code, so what it writes is
 * exactly what the Worker reads.
 */

import { runAdmin } from './lib/admin-main'
import { scriptArgs } from './lib/cli'

process.exitCode = await runAdmin(scriptArgs())
