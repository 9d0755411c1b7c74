// One description of how a trustroll Lambda is bundled, read by the CDK construct (NodejsFunction)
// and by `npm run build:functions` (which the bench measures), so that what is measured is what
// is deployed.
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { DomainKind } from '../shared/adapters/aws/domains.js';

/** CommonJS dependencies inside an ESM bundle need a `require` of their own. */
const REQUIRE_BANNER =
  "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

/**
 * Build-time constants naming the API Gateway SDK clients a bundle carries (read in
 * `shared/adapters/aws/api-gateway.ts`). esbuild drops the client of a kind set to "false", so a
 * deployment with REST domains alone does not parse the apigatewayv2 client at every cold start.
 */
export const apiDefines = (kinds: Iterable<DomainKind>): Record<string, string> => {
  const has = new Set(kinds);
  return {
    'process.env.TRUSTROLL_BUNDLE_REST_API': JSON.stringify(String(has.has('REST'))),
    'process.env.TRUSTROLL_BUNDLE_HTTP_API': JSON.stringify(String(has.has('HTTP'))),
  };
};

/** NodejsFunction bundling for domains of these kinds: ESM, minified, Node 22, the AWS SDK bundled. */
export const lambdaBundling = (kinds: Iterable<DomainKind>): BundlingOptions => ({
  format: OutputFormat.ESM,
  target: 'node22',
  minify: true,
  sourceMap: false,
  mainFields: ['module', 'main'],
  // The AWS SDK is bundled, not taken from the runtime, so its version is the one tested.
  externalModules: [],
  forceDockerBundling: false,
  banner: REQUIRE_BANNER,
  define: apiDefines(kinds),
  esbuildArgs: { '--legal-comments': 'none' },
});

/** The same settings as esbuild build options, for `npm run build:functions` and the bench. */
export const esbuildOptions = (kinds: Iterable<DomainKind>) => {
  const b = lambdaBundling(kinds);
  return {
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: b.target,
    minify: b.minify,
    sourcemap: b.sourceMap,
    mainFields: b.mainFields,
    legalComments: 'none' as const,
    banner: { js: REQUIRE_BANNER },
    define: b.define,
    logLevel: 'warning' as const,
  };
};
