/**
 * The metrics the construct's dashboard and alarms read (namespace `trustroll`, dimension
 * `service`), in one place so that the names the handlers emit and the construct draws are the
 * same (the handlers through `functions/lib/metrics.ts`, the construct directly).
 */
export const METRIC = {
  uploadsAccepted: 'UploadsAccepted',
  uploadsRejected: 'UploadsRejected',
  certificates: 'CertificatesInTruststore',
  truststoreBytes: 'TruststoreBytes',
  daysToNearestExpiry: 'DaysToNearestExpiry',
  /** With the dimension `partner` as well: the nearest expiry among that partner's CAs. */
  daysToExpiry: 'DaysToExpiry',
  domainsRolled: 'DomainsRolled',
  domainsRolledBack: 'DomainsRolledBack',
  domainRollsFailed: 'DomainRollsFailed',
  unusableRecords: 'UnusableRecords',
  /** 1 when the report of a new version could not be written (the version and its roll went on). */
  reportsNotPublished: 'ReportsNotPublished',
  authorizerAllow: 'AuthorizerAllow',
  authorizerDeny: 'AuthorizerDeny',
  /** Refused mutual TLS handshakes seen in the stages' access logs (the refusals subscriber). */
  handshakesRefused: 'HandshakesRefused',
} as const;
