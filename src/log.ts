// The gateway's one logger: a JSON line per event on the Worker's console (Workers Logs).

/** One structured log line; callers pass only values that are safe to log (never credentials). */
export function logEvent(
  level: 'debug' | 'info' | 'warn' | 'error',
  event: string,
  fields: Record<string, unknown>,
): void {
  const line = JSON.stringify({ level, event, ...fields })
  if (level === 'error') console.error(line)
  else if (level === 'warn') console.warn(line)
  else if (level === 'debug') console.debug(line)
  else console.log(line)
}
