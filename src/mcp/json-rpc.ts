/**
 * Reading an MCP client's POST before deciding on it. MCP clients are meant to send `Mcp-Method`
 * (and `Mcp-Name`) so that intermediaries need not parse the body, but a header can lie, and the
 * current SDK (1.32.2, protocol 2025-11-25) sends neither: the body is read (bounded), and the
 * headers, when present, must agree with it (the spec's HeaderMismatch). A body the gateway
 * cannot judge is refused, never forwarded: compressed, not JSON, a batch, duplicate keys (one
 * JSON parser would read the first, another the last), or too large. The bytes read are what the
 * upstream receives, unchanged.
 */
import { GatewayError, type JsonRpcId } from '../errors/gateway-error'
import { readCappedBody } from '../http/capped-body'

export interface McpMessage {
  /** The JSON-RPC id (requests and responses); null for a notification. */
  id: JsonRpcId
  /** The method of a request or notification; undefined for the client's response to the server. */
  method: string | undefined
  /** `params.name` (tools/call, prompts/get) or `params.uri` (resources/read, resources/subscribe). */
  name: string | undefined
  /** The body as received: forwarded byte for byte. */
  bytes: Uint8Array
}

const NAME_PARAM: Readonly<Record<string, 'name' | 'uri'>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'resources/subscribe': 'uri',
  'resources/unsubscribe': 'uri',
}

function unsupported(description: string): GatewayError {
  return new GatewayError('unsupported_body', description)
}

/**
 * Whether a JSON text (already known to parse) repeats a key in one object. A scan, not a parse:
 * strings are skipped whole (escapes included), and each object's keys are compared decoded, so
 * `"a"` and `"\u0061"` are the same key.
 */
export function hasDuplicateKeys(text: string): boolean {
  const objects: (Set<string> | null)[] = []
  let expectKey = false
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i)
    if (char === 0x22 /* " */) {
      let end = i + 1
      while (end < text.length && text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c ? 2 : 1
      const top = objects[objects.length - 1]
      if (top && expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string
        if (top.has(key)) return true
        top.add(key)
        expectKey = false
      }
      i = end
    } else if (char === 0x7b /* { */) {
      objects.push(new Set())
      expectKey = true
    } else if (char === 0x5b /* [ */) {
      objects.push(null)
    } else if (char === 0x7d /* } */ || char === 0x5d /* ] */) {
      objects.pop()
    } else if (char === 0x2c /* , */) {
      expectKey = objects[objects.length - 1] instanceof Set
    }
  }
  return false
}

function isJsonContentType(value: string | null): boolean {
  const type = value?.split(';', 1)[0]?.trim().toLowerCase()
  return type === 'application/json'
}

/** The id of a JSON-RPC message, if it has a valid one (refusals echo it). */
function idOf(message: Record<string, unknown>): JsonRpcId {
  const { id } = message
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null
}

/**
 * The JSON-RPC message of an MCP POST. Throws a GatewayError (400 `unsupported_body`,
 * `header_mismatch`, 413) carrying the message's id when it could be read.
 */
export async function readMcpMessage(request: Request, maxBytes: number): Promise<McpMessage> {
  const encoding = request.headers.get('content-encoding')
  if (encoding !== null && encoding.trim().toLowerCase() !== 'identity')
    throw unsupported('An MCP request body must not be compressed (Content-Encoding).')
  if (!isJsonContentType(request.headers.get('content-type')))
    throw unsupported('An MCP request body must be application/json.')
  const bytes = await readCappedBody(request.body, maxBytes)
  if (bytes === undefined)
    throw new GatewayError('payload_too_large', `An MCP request body may be at most ${maxBytes} bytes.`)
  let text: string
  let parsed: unknown
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
    parsed = JSON.parse(text)
  } catch {
    throw unsupported('The MCP request body is not valid JSON.')
  }
  if (Array.isArray(parsed))
    throw unsupported('JSON-RPC batches are not accepted: send one message per request.')
  if (typeof parsed !== 'object' || parsed === null || (parsed as { jsonrpc?: unknown }).jsonrpc !== '2.0')
    throw unsupported('The MCP request body is not a JSON-RPC 2.0 message.')
  const message = parsed as Record<string, unknown>
  const id = idOf(message)
  if (hasDuplicateKeys(text))
    throw new GatewayError('unsupported_body', 'The MCP request body repeats a key.', { jsonRpcId: id })
  const method = typeof message.method === 'string' ? message.method : undefined
  if (method === undefined && 'method' in message)
    throw new GatewayError('unsupported_body', 'The JSON-RPC method must be a string.', { jsonRpcId: id })
  const param = method === undefined ? undefined : NAME_PARAM[method]
  const params = message.params
  const rawName =
    param && typeof params === 'object' && params !== null
      ? (params as Record<string, unknown>)[param]
      : undefined
  const name = typeof rawName === 'string' ? rawName : undefined
  checkHeaders(request, method, name, id)
  return { id, method, name, bytes }
}

/** `Mcp-Method` / `Mcp-Name`, when sent, must say what the body says. */
function checkHeaders(
  request: Request,
  method: string | undefined,
  name: string | undefined,
  id: JsonRpcId,
): void {
  const headerMethod = request.headers.get('mcp-method')
  const headerName = request.headers.get('mcp-name')
  if (headerMethod !== null && headerMethod !== method)
    throw new GatewayError('header_mismatch', 'The Mcp-Method header does not match the JSON-RPC method.', {
      jsonRpcId: id,
    })
  if (headerName !== null && headerName !== name)
    throw new GatewayError('header_mismatch', 'The Mcp-Name header does not match the JSON-RPC params.', {
      jsonRpcId: id,
    })
}
