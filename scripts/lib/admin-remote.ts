/**
 * The existing commands, acted out through the admin API (see admin-http.ts). Each does what its
 * D1 version does; the gateway itself ends sessions, writes the KV copies and records the audit
 * event, so nothing here needs wrangler.
 */
import { out } from './admin-command'
import { adminRequest, findRemoteUser, type RemoteTarget, userPath } from './admin-http'

const DAY_SECONDS = 86_400

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

export async function remoteCreateUser(
  remote: RemoteTarget,
  input: { username: string; password: string; roles: string[] },
  json: boolean,
): Promise<void> {
  const { data } = await adminRequest<{ id: string; username: string; roles: string[] }>(
    remote,
    'POST',
    '/admin/users',
    input,
  )
  if (json) return printJson(data)
  process.stderr.write(`created user ${data.username} with roles ${data.roles.join(', ')} at ${remote.url}\n`)
  out(data.id)
}

export async function remoteSetRoles(remote: RemoteTarget, username: string, roles: string[], json: boolean) {
  const user = await findRemoteUser(remote, username)
  const { data } = await adminRequest<{ username: string; roles: string[] }>(
    remote,
    'PATCH',
    userPath(user.id),
    {
      roles,
    },
  )
  if (json) return printJson(data)
  out(`set roles of ${data.username} to ${data.roles.join(', ')}`)
}

export async function remoteSetDisabled(
  remote: RemoteTarget,
  username: string,
  disabled: boolean,
  json: boolean,
) {
  const user = await findRemoteUser(remote, username)
  const { data } = await adminRequest<{ id: string }>(remote, 'PATCH', userPath(user.id), { disabled })
  if (json) return printJson(data)
  out(`${disabled ? 'disabled' : 'enabled'} ${user.username} (id ${user.id})`)
  if (disabled) {
    out('ended every session and token at once; API keys are suspended until the user is enabled')
  }
}

export async function remoteRevokeUser(remote: RemoteTarget, username: string, json: boolean) {
  const user = await findRemoteUser(remote, username)
  const { data } = await adminRequest<{ not_before: string; api_keys_revoked: number }>(
    remote,
    'POST',
    userPath(user.id, '/revoke'),
  )
  if (json) return printJson(data)
  out(`revoked every session and API key of ${user.username} (id ${user.id})`)
  out(`access tokens issued before ${data.not_before} are void; ${data.api_keys_revoked} API key(s) revoked`)
}

export async function remoteCreateClient(
  remote: RemoteTarget,
  input: {
    client_id: string
    name: string
    public: boolean
    grant_types: string[]
    scopes: string[]
    roles: string[]
  },
  json: boolean,
) {
  const { data } = await adminRequest<{ client_id: string; client_secret?: string }>(
    remote,
    'POST',
    '/admin/clients',
    input,
  )
  if (json) return printJson(data)
  out(`client_id: ${data.client_id}`)
  if (data.client_secret !== undefined) {
    out(`client_secret: ${data.client_secret}`)
    process.stderr.write('Store the secret now: it is not shown again (D1 holds only its SHA-256).\n')
  }
}

export async function remoteCreateApiKey(
  remote: RemoteTarget,
  username: string,
  input: { name: string; scopes?: string[]; roles?: string[]; days?: number },
  json: boolean,
) {
  const user = await findRemoteUser(remote, username)
  const body = {
    name: input.name,
    scopes: input.scopes,
    roles: input.roles,
    expires_in: input.days === undefined ? undefined : input.days * DAY_SECONDS,
  }
  const { data } = await adminRequest<{ id: string; key: string }>(
    remote,
    'POST',
    userPath(user.id, '/api-keys'),
    body,
  )
  if (json) return printJson(data)
  out(`id: ${data.id}`)
  out(`key: ${data.key}`)
  process.stderr.write('Store the key now: it is not shown again (D1 holds only its SHA-256).\n')
}
