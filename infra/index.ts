// The construct as a library: `import { TruststorePipeline } from 'trustroll'` in a CDK app.

// The targets of the durable rollout (`targets`, `rolloutSettings`): their shape, for typed props.
export type { ProbeSpec, RolloutSettings, Target, TargetKind } from '../shared/rollout/model.js';
export {
  type CustomDomainProps,
  type ManagedDomainProps,
  type PartnerSubscriptionProps,
  TRUSTSTORE_KEY,
  TruststorePipeline,
  type TruststorePipelineProps,
} from './truststore-pipeline.js';
