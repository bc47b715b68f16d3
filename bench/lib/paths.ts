import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)))
export const ROOT_DIR = dirname(BENCH_DIR)
/** Build output, generated configs, token files and logs of the last run (git-ignored). */
export const WORK_DIR = join(BENCH_DIR, '.work')
export const RESULTS_DIR = join(BENCH_DIR, 'results')
/**
 * The project whose gateway is benchmarked: this checkout, or BENCH_PROJECT_DIR (e.g. a worktree
 * with a candidate hot-path change, to compare against the same harness).
 */
export const PROJECT_DIR = process.env.BENCH_PROJECT_DIR ?? ROOT_DIR
