// The construct as a library: `import { TruststorePipeline } from 'trustroll'` in a CDK app.
export {
  type CustomDomainProps,
  type ManagedDomainProps,
  type PartnerSubscriptionProps,
  TRUSTSTORE_KEY,
  TruststorePipeline,
  type TruststorePipelineProps,
} from './truststore-pipeline.js';
