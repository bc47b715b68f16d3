export { deliveryOf } from './delivery'
export { DEV_MAILBOX_SIZE, type DevMail, devMailboxEnabled, listDevMail } from './dev-mailbox'
export {
  type FlowDelivery,
  FORGOT_PASSWORD_PATH,
  linkFor,
  RESET_PASSWORD_PATH,
  SIGN_IN_LINK_PATH,
  type SignInLinkOrigin,
  sendAddressInUse,
  sendChangeNotice,
  sendPasswordReset,
  sendSignInCode,
  sendSignInLink,
  sendVerificationMail,
  VERIFY_EMAIL_PATH,
} from './flows'
export { type Delivery, deliver, deliverLater, type Envelope } from './mailer'
export { requestAddressChange, resendVerification } from './own-address'
export { mailRequestRefused } from './page-guard'
export { composeMail, type MailKind } from './templates'
export {
  consumeEmailToken,
  consumeSignInCode,
  deleteDeadEmailTokensStatement,
  EMAIL_TOKEN_PURPOSES,
  type EmailTokenPurpose,
  type EmailTokenRow,
  endEmailTokens,
  peekEmailToken,
} from './token-store'
