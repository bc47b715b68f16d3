/** D1 stores lists as JSON text; a corrupt value reads as empty rather than crashing a request. */
export function parseStringList(value: unknown): string[] {
  if (typeof value !== 'string') return []
  try {
    const parsed: unknown = JSON.parse(value)
    return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : []
  } catch {
    return []
  }
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000)
}
