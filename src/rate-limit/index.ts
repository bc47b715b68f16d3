export { RATE_LIMIT_CLASSES, type RateLimitClass, type RateLimitClassName } from './classes'
export { addressBucket } from './client-address'
export { accountName, limitRequest, type RateLimitEnv, type RateLimitedAction } from './limit'
