// External login providers: what other rooms may use (their routes are mounted by app.ts and admin/).
export { listUserIdentities } from './identity-store'
