export { explainOutcome } from './explanation'
export { proxyRequest } from './gateway'
export { judgeMcpRequest } from './mcp'
export { decideRequest } from './stages'
