/**
 * Reads a new password for `create-user`: from stdin with `--password-stdin` (scripts, CI), else
 * from the terminal without echo. Never from an argument: argv is visible in `ps` and shell history.
 */

/** Everything on stdin, minus one trailing newline (what `echo` or a here-string adds). */
export async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  return text.replace(/\r?\n$/, '')
}

/** Reads one line from the TTY in raw mode, echoing nothing. Ctrl-C aborts with exit code 130. */
function readHiddenLine(prompt: string): Promise<string> {
  const input = process.stdin
  process.stderr.write(prompt)
  return new Promise((resolve) => {
    let value = ''
    input.setRawMode(true)
    input.resume()
    const finish = () => {
      input.setRawMode(false)
      input.pause()
      input.off('data', onData)
      process.stderr.write('\n')
    }
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\u0003') {
          finish()
          process.exit(130)
        }
        if (char === '\r' || char === '\n' || char === '\u0004') {
          finish()
          resolve(value)
          return
        }
        if (char === '\u007f' || char === '\b') value = Array.from(value).slice(0, -1).join('')
        else value += char
      }
    }
    input.on('data', onData)
  })
}

export async function promptNewPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    throw new Error('no terminal to prompt for the password: pass --password-stdin and pipe it in')
  }
  const first = await readHiddenLine('New password: ')
  const second = await readHiddenLine('Repeat password: ')
  if (first !== second) throw new Error('the two passwords differ')
  return first
}
