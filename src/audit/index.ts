export { AUDIT_EVENT_TYPES, type AuditEvent, delegatedTokenRefused } from './events'
export { AuditRecorder, type AuditSink, recordAuditEvent, requestInfo } from './record'
export { deleteOldAuditEvents, queryAuditEvents } from './store'
