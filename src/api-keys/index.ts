export { loadApiKey } from './credential'
export { endUserApiKeys, listOwnApiKeys, viewApiKey } from './service'
export { pageApiKeys } from './store'
