import { median } from './schedule'

/**
 * The workerd CPU and wall time of one step of a sign-in, added up over sign-ins made one at a
 * time. The process's CPU comes from /proc in 10 ms ticks: many sign-ins make the per-sign-in
 * figure finer, not the single reading.
 */
export class StepTimer {
  private cpuSeconds = 0
  private readonly wallMs: number[] = []

  constructor(private readonly processCpuSeconds: () => number) {}

  /** Runs `step` (which reads the whole answer) and counts its CPU and wall time. */
  async time<T>(step: () => Promise<T>): Promise<T> {
    const cpu = this.processCpuSeconds()
    const started = performance.now()
    const result = await step()
    this.wallMs.push(performance.now() - started)
    this.cpuSeconds += this.processCpuSeconds() - cpu
    return result
  }

  /** Mean workerd CPU ms per timed step. */
  get cpuMs(): number {
    return (this.cpuSeconds * 1000) / this.wallMs.length
  }

  get medianMs(): number {
    return median(this.wallMs)
  }
}
