import { cpus, type as osType, release, totalmem } from 'node:os'

export interface MachineInfo {
  cpu: string
  cores: number
  memoryGiB: number
  os: string
  node: string
  /** Load average when the run started: other work on the machine skews absolute numbers. */
  loadAverage: number[]
}

export function machineInfo(loadAverage: number[]): MachineInfo {
  const list = cpus()
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()}`,
    node: process.version,
    loadAverage: loadAverage.map((value) => Math.round(value * 100) / 100),
  }
}
