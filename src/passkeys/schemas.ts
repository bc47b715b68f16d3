/** The passkey as the API shows it (service.ts PasskeyView), for the OpenAPI descriptions. */
import * as z from 'zod/mini'

export const PasskeySchema = z.object({
  id: z.string(),
  name: z.string(),
  created_at: z.number().check(z.int(), z.describe('Unix time, seconds')),
  last_used_at: z.nullable(z.number().check(z.int(), z.describe('Unix time, seconds'))),
  device_type: z.enum(['single_device', 'multi_device']),
  backed_up: z.boolean(),
  transports: z.array(z.string()),
  aaguid: z.string().check(z.describe('Authenticator model (informational: attestation is not verified)')),
})
