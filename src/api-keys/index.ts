export { loadApiKey } from './credential'
export { endUserApiKeys, viewApiKey } from './service'
export { pageApiKeys } from './store'
