/**
 * Reads an OpenAPI 3.0/3.1 document (file or http(s) URL, JSON or YAML), validates it with
 * @readme/openapi-parser (the OpenAPI schemas plus checks such as duplicate operationIds) and
 * returns it dereferenced, so a `$ref`'d security scheme reads like an inline one. Swagger 2.0 is
 * refused: its security model differs (no bearer, no openIdConnect) and FastAPI never writes it.
 */
import { readFile } from 'node:fs/promises'
import { compileErrors, dereference, type ParserOptions, validate } from '@readme/openapi-parser'
import { parse as parseYaml } from 'yaml'

type Json = Record<string, unknown>

async function readText(source: string): Promise<string> {
  if (/^https?:\/\//i.test(source)) {
    const response = await fetch(source, { headers: { accept: 'application/json, application/yaml;q=0.9' } })
    if (!response.ok) throw new Error(`${source}: HTTP ${response.status}`)
    return response.text()
  }
  return readFile(source, 'utf8')
}

/** JSON when it parses as JSON, else YAML (a superset of JSON, but slower and laxer). */
function parseText(text: string, source: string): Json {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    try {
      parsed = parseYaml(text, { maxAliasCount: 1000 })
    } catch (error) {
      throw new Error(
        `${source}: neither JSON nor YAML (${error instanceof Error ? error.message : String(error)})`,
      )
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new Error(`${source}: not an OpenAPI document (expected an object)`)
  return parsed as Json
}

export async function loadOpenApi(source: string): Promise<Json> {
  const document = parseText(await readText(source), source)
  const version = typeof document.openapi === 'string' ? document.openapi : ''
  if (!/^3\.[01]\./.test(version))
    throw new Error(
      `${source}: OpenAPI 3.0 or 3.1 expected, found ${version ? `"${version}"` : 'no "openapi" field'}`,
    )
  // The parser mutates what it is given: validate a copy, dereference another.
  const options: ParserOptions = { resolve: { external: false } }
  const result = await validate(structuredClone(document) as never, options)
  if (!result.valid) throw new Error(`${source}: invalid OpenAPI document\n${compileErrors(result)}`)
  // External $refs are not followed: a document names only what it holds.
  return (await dereference(structuredClone(document) as never, options)) as Json
}
