/**
 * Node-side scripts import the Worker's own modules (config validation, signing keys, storage
 * queries for the admin CLI). Their types name the Workers binding types (D1Database,
 * KVNamespace), which @cloudflare/workers-types declares as globals; that ambient package cannot
 * join tsconfig.node.json (its Request, Response and fetch clash with Node's). Its importable
 * flavour declares the same types as module exports, so they are aliased into the global scope
 * here, for the Node-side type check only.
 */
import type {
  D1Database as WorkersD1Database,
  D1PreparedStatement as WorkersD1PreparedStatement,
  KVNamespace as WorkersKVNamespace,
  RateLimit as WorkersRateLimit,
  RateLimitOutcome as WorkersRateLimitOutcome,
  SendEmail as WorkersSendEmail,
} from '@cloudflare/workers-types/index.ts'

declare global {
  type D1Database = WorkersD1Database
  type D1PreparedStatement = WorkersD1PreparedStatement
  type KVNamespace<Key extends string = string> = WorkersKVNamespace<Key>
  type SendEmail = WorkersSendEmail
  type RateLimit = WorkersRateLimit
  type RateLimitOutcome = WorkersRateLimitOutcome
}
