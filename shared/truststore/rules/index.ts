import { certDuplicate } from './cert.duplicate.js';
import { certExpired } from './cert.expired.js';
import { certExpiring } from './cert.expiring.js';
import { certNoKeyCertSign } from './cert.no-keycertsign.js';
import { certNotCa } from './cert.not-ca.js';
import { certNotYetValid } from './cert.not-yet-valid.js';
import { chainIssuerMissing } from './chain.issuer-missing.js';
import { chainNoRoot } from './chain.no-root.js';
import { chainPathLength } from './chain.path-length.js';
import { chainTooLong } from './chain.too-long.js';
import { keyTooWeak } from './key.too-weak.js';
import { keyUnsupported } from './key.unsupported.js';
import type { Rule } from './rule.js';
import { signatureInvalid } from './signature.invalid.js';
import { signatureWeakHash } from './signature.weak-hash.js';
import { truststoreDuplicateSubject } from './truststore.duplicate-subject.js';
import { truststoreEmpty } from './truststore.empty.js';
import { truststoreTooLarge } from './truststore.too-large.js';

/** Every truststore rule, in the order their findings are most useful to read. */
export const RULES: readonly Rule[] = [
  certNotCa,
  certNoKeyCertSign,
  certExpired,
  certNotYetValid,
  certExpiring,
  keyTooWeak,
  keyUnsupported,
  signatureWeakHash,
  signatureInvalid,
  chainIssuerMissing,
  chainNoRoot,
  chainTooLong,
  chainPathLength,
  truststoreDuplicateSubject,
  truststoreTooLarge,
  truststoreEmpty,
  certDuplicate,
];
