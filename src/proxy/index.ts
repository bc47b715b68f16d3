export { explainOutcome } from './explanation'
export { proxyRequest } from './gateway'
export { decideRequest } from './stages'
