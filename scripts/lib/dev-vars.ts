import { readFile, writeFile } from 'node:fs/promises'

/**
 * `.dev.vars` is the dotenv-format file `wrangler dev` reads secrets from. We write only a few
 * entries (SIGNING_KEYS, REGISTRATION), single-quoted: JSON contains double quotes but never a
 * single quote, and dotenv takes single-quoted values literally.
 */
export const DEV_VARS_FILE = '.dev.vars'

export async function readDevVarsFile(path = DEV_VARS_FILE): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}

/** The value of `name` in dotenv text: `NAME=value`, `NAME='value'`, `NAME="value"`, `export NAME=...`. */
export function devVar(text: string, name: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (!match || match[1] !== name) continue
    const raw = (match[2] ?? '').trim()
    const quote = raw[0]
    if ((quote === "'" || quote === '"') && raw.endsWith(quote) && raw.length >= 2) return raw.slice(1, -1)
    return raw.replace(/\s+#.*$/, '')
  }
  return undefined
}

export function formatDevVar(name: string, value: string): string {
  if (value.includes("'") || /[\r\n]/.test(value)) throw new Error(`${name} cannot be written single-quoted`)
  return `${name}='${value}'\n`
}

/** Writes a new `.dev.vars` readable only by its owner: it holds private keys. */
export async function writeDevVarsFile(text: string, path = DEV_VARS_FILE): Promise<void> {
  await writeFile(path, text, { mode: 0o600, flag: 'wx' })
}

/** Appends lines (each ending in a newline) to `.dev.vars`, keeping it readable only by its owner. */
export async function appendDevVarsText(lines: string, path = DEV_VARS_FILE): Promise<void> {
  const current = (await readDevVarsFile(path)) ?? ''
  const separator = current === '' || current.endsWith('\n') ? '' : '\n'
  await writeFile(path, current + separator + lines, { mode: 0o600 })
}
