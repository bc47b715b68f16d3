/**
 * A tiny Chrome DevTools Protocol client for workerd's inspector (`--inspector-addr`): one
 * WebSocket per Worker (`ws://host:port/<service>`), one request at a time. The bench uses it to
 * sample the V8 CPU profiler (stage costs) and to read an isolate's heap (the soak).
 */
import WebSocket from 'ws'

export class Inspector {
  private nextId = 1
  private readonly pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>()

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: unknown }
      if (message.id === undefined) return
      const waiter = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (message.error) waiter?.reject(new Error(JSON.stringify(message.error)))
      else waiter?.resolve(message.result)
    })
  }

  static connect(inspectorPort: number, service: string): Promise<Inspector> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${inspectorPort}/${service}`)
      socket.once('open', () => resolve(new Inspector(socket)))
      socket.once('error', reject)
    })
  }

  /** Rejects after `timeoutMs` rather than wait forever on an inspector that stopped answering. */
  send<T>(method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`inspector: no answer to ${method} in ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending.set(id, {
        resolve: (result) => {
          clearTimeout(timer)
          resolve(result as T)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
      this.socket.send(JSON.stringify({ id, method, params }))
    })
  }

  /** Used JS heap of the isolate in bytes, after a full garbage collection (so it is comparable). */
  async heapUsedBytes(): Promise<number> {
    await this.send('HeapProfiler.collectGarbage')
    const usage = await this.send<{ usedSize: number; totalSize: number }>('Runtime.getHeapUsage')
    return usage.usedSize
  }

  close(): void {
    this.socket.close()
  }
}
