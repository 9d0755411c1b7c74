import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the code under test sent to AWS, one entry per request, as it went over the wire (so a
 * bundled handler, with SDK copies of its own, is recorded like the code in this process).
 */
export type AwsCall =
  | {
      readonly service: 's3';
      readonly operation:
        | 'GetObject'
        | 'HeadObject'
        | 'PutObject'
        | 'CopyObject'
        | 'DeleteObject'
        | 'ListObjectsV2'
        | 'ListObjectVersions'
        | 'DeleteObjects'
        | 'Other';
      readonly bucket: string;
      readonly key?: string;
      readonly versionId?: string;
      readonly prefix?: string;
      readonly copySource?: { readonly bucket: string; readonly key: string; readonly versionId?: string };
      readonly status: number;
      readonly raw: string;
    }
  | {
      readonly service: 'sns';
      readonly operation: string;
      readonly topicArn?: string;
      readonly status: number;
    }
  | {
      readonly service: 'sqs';
      readonly operation: string;
      readonly queueUrl?: string;
      readonly status: number;
    }
  | {
      readonly service: 'states';
      readonly operation: string;
      readonly stateMachineArn?: string;
      readonly name?: string;
      readonly input?: string;
      readonly status: number;
    }
  | {
      readonly service: 'sts';
      readonly operation: string;
      readonly roleArn?: string;
      readonly externalId?: string;
      readonly status: number;
    }
  | {
      readonly service: 'elasticloadbalancing';
      readonly operation:
        | 'DescribeTrustStores'
        | 'ModifyTrustStore'
        | 'AddTrustStoreRevocations'
        | 'RemoveTrustStoreRevocations'
        | 'DescribeTrustStoreRevocations'
        | 'Other';
      readonly trustStoreArn?: string;
      readonly bundle?: { readonly bucket: string; readonly key: string; readonly version?: string };
      /** The revocation file an AddTrustStoreRevocations names (ELB reads it with the caller's permissions). */
      readonly revocation?: { readonly bucket: string; readonly key: string; readonly version?: string };
      /** Made with the credentials of a role assumed in the target's account: authorized there. */
      readonly assumedRole?: string;
      readonly region: string;
      readonly status: number;
    }
  | {
      readonly service: 'apigateway';
      readonly operation: 'GetDomainName' | 'UpdateDomainName';
      readonly api: 'REST' | 'HTTP';
      readonly domain: string;
      /** The region the request was signed for (the domain's). */
      readonly region?: string;
      /** Made with the credentials of a role assumed in the target's account: authorized there. */
      readonly assumedRole?: string;
      /** The domain's mutual TLS before the call (what `apigateway:Resource/*` keys describe). */
      readonly before?: { readonly uri: string; readonly version?: string };
      /** What an update asked for (what `apigateway:Request/*` keys describe). */
      readonly requested?: { readonly uri?: string; readonly version?: string };
      readonly status: number;
    }
  | {
      readonly service: string;
      readonly operation: 'Unknown';
      readonly raw: string;
      readonly status: number;
    };

/** One custom domain as API Gateway keeps it (only what trustroll reads and writes). */
export interface FakeDomain {
  readonly api: 'REST' | 'HTTP';
  mtls?: { uri: string; version?: string };
  status: 'AVAILABLE' | 'UPDATING';
  availableAt: number;
  /** Every version the domain was pointed at, in order. */
  readonly versions: string[];
}

/**
 * API Gateway custom domains over HTTP, as the REST (`/domainnames/{name}`) and HTTP API
 * (`/v2/domainnames/{name}`) endpoints answer them, from the shapes in the API references: no
 * emulator implements mutual TLS domains. An update makes the domain UPDATING for `updatingMs`.
 */
export class FakeApiGateway {
  readonly domains = new Map<string, FakeDomain>();
  updatingMs = 0;
  /** Warnings API Gateway reports for a truststore version (none by default). */
  warningsFor: (domain: string, version: string) => string[] = () => [];

  add(name: string, api: 'REST' | 'HTTP', mtls?: { uri: string; version?: string }): FakeDomain {
    const domain: FakeDomain = {
      api,
      status: 'AVAILABLE',
      availableAt: 0,
      versions: [],
      ...(mtls ? { mtls } : {}),
    };
    this.domains.set(name, domain);
    return domain;
  }

  private view(name: string, d: FakeDomain) {
    if (d.status === 'UPDATING' && Date.now() >= d.availableAt) d.status = 'AVAILABLE';
    const mtls = d.mtls
      ? {
          truststoreUri: d.mtls.uri,
          ...(d.mtls.version ? { truststoreVersion: d.mtls.version } : {}),
          truststoreWarnings:
            d.status === 'AVAILABLE' && d.mtls.version ? this.warningsFor(name, d.mtls.version) : [],
        }
      : undefined;
    return d.api === 'REST'
      ? {
          domainName: name,
          domainNameStatus: d.status,
          endpointConfiguration: { types: ['REGIONAL'] },
          securityPolicy: 'TLS_1_2',
          ...(mtls ? { mutualTlsAuthentication: mtls } : {}),
        }
      : {
          domainName: name,
          domainNameConfigurations: [
            { domainNameStatus: d.status, endpointType: 'REGIONAL', securityPolicy: 'TLS_1_2' },
          ],
          ...(mtls ? { mutualTlsAuthentication: mtls } : {}),
        };
  }

  handle(
    method: string,
    path: string,
    body: string,
  ): { status: number; body: unknown; call?: Omit<Extract<AwsCall, { service: 'apigateway' }>, 'status'> } {
    const m = /^(\/v2)?\/domainnames\/([^/?]+)$/.exec(path.split('?')[0]!);
    if (!m) return { status: 404, body: { message: `no such resource ${path}` } };
    const api = m[1] ? 'HTTP' : 'REST';
    const name = decodeURIComponent(m[2]!);
    const d = this.domains.get(name);
    const operation = method === 'PATCH' ? 'UpdateDomainName' : 'GetDomainName';
    const before = d?.mtls
      ? { uri: d.mtls.uri, ...(d.mtls.version ? { version: d.mtls.version } : {}) }
      : undefined;
    const base = {
      service: 'apigateway' as const,
      operation,
      api,
      domain: name,
      ...(before ? { before } : {}),
    } as const;
    if (!d || d.api !== api) {
      return { status: 404, body: { message: 'Invalid domain name identifier specified' }, call: base };
    }
    if (method === 'GET') return { status: 200, body: this.view(name, d), call: base };
    if (method !== 'PATCH') return { status: 405, body: { message: `${method} not supported` } };
    const input = JSON.parse(body || '{}');
    let requested: { uri?: string; version?: string } = {};
    if (api === 'REST') {
      for (const op of input.patchOperations ?? []) {
        if (op.path === '/mutualTlsAuthentication/truststoreVersion')
          requested = { ...requested, version: op.value };
        if (op.path === '/mutualTlsAuthentication/truststoreUri') requested = { ...requested, uri: op.value };
      }
    } else if (input.mutualTlsAuthentication) {
      requested = {
        ...(input.mutualTlsAuthentication.truststoreUri
          ? { uri: input.mutualTlsAuthentication.truststoreUri }
          : {}),
        ...(input.mutualTlsAuthentication.truststoreVersion
          ? { version: input.mutualTlsAuthentication.truststoreVersion }
          : {}),
      };
    }
    // As API Gateway would: a URI in the request turns mutual TLS on (issue: a domain without it).
    const uri = requested.uri ?? d.mtls?.uri;
    if (uri) d.mtls = { uri, ...(requested.version ? { version: requested.version } : {}) };
    if (requested.version) d.versions.push(requested.version);
    d.status = 'UPDATING';
    d.availableAt = Date.now() + this.updatingMs;
    return { status: 200, body: this.view(name, d), call: { ...base, requested } };
  }
}

/** One ELB trust store as ELB keeps it (what trustroll reads and writes). */
export interface FakeTrustStore {
  status: 'ACTIVE' | 'CREATING';
  /** Every bundle it was given, in order. */
  readonly bundles: { bucket: string; key: string; version?: string }[];
  /** The revocation files it holds, by RevocationId. */
  readonly revocations: Map<number, { bucket: string; key: string; version?: string }>;
}

/**
 * ELB trust stores over HTTP, answering the query protocol (form-encoded `Action=…`, XML
 * answers) as the ELBv2 API reference shows DescribeTrustStores, ModifyTrustStore and the
 * revocation actions (Add, Remove, DescribeTrustStoreRevocations): moto has no trust stores.
 */
export class FakeElb {
  readonly trustStores = new Map<string, FakeTrustStore>();
  /** Trust stores whose AddTrustStoreRevocations ELB refuses (InvalidRevocationContent). */
  readonly refuseRevocations = new Set<string>();
  private nextRevocationId = 1;

  add(arn: string): FakeTrustStore {
    const store: FakeTrustStore = { status: 'ACTIVE', bundles: [], revocations: new Map() };
    this.trustStores.set(arn, store);
    return store;
  }

  handle(form: URLSearchParams): {
    status: number;
    xml: string;
    operation: string;
    arn?: string;
    revocation?: { bucket: string; key: string; version?: string };
  } {
    const action = form.get('Action') ?? '';
    const ns = 'http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/';
    const member = (arn: string, s: FakeTrustStore) =>
      `<member><Name>${arn.split('/')[1]}</Name><TrustStoreArn>${arn}</TrustStoreArn><Status>${s.status}</Status><NumberOfCaCertificates>${s.bundles.length}</NumberOfCaCertificates><TotalRevokedEntries>0</TotalRevokedEntries></member>`;
    const error = (code: string, message: string) => ({
      status: 400,
      operation: action,
      xml: `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r</RequestId></ErrorResponse>`,
    });
    const arn =
      action === 'DescribeTrustStores' ? form.get('TrustStoreArns.member.1') : form.get('TrustStoreArn');
    const store = arn ? this.trustStores.get(arn) : undefined;
    if (!arn || !store)
      return {
        ...error('TrustStoreNotFound', 'The specified trust store does not exist.'),
        ...(arn ? { arn } : {}),
      };
    const revocationMember = (id: number) =>
      `<member><TrustStoreArn>${arn}</TrustStoreArn><RevocationId>${id}</RevocationId><RevocationType>CRL</RevocationType><NumberOfRevokedEntries>1</NumberOfRevokedEntries></member>`;
    const answer = (inner: string) => ({
      status: 200,
      operation: action,
      arn,
      xml: `<${action}Response xmlns="${ns}"><${action}Result>${inner}</${action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></${action}Response>`,
    });
    if (action === 'AddTrustStoreRevocations') {
      const version = form.get('RevocationContents.member.1.S3ObjectVersion') ?? undefined;
      const revocation = {
        bucket: form.get('RevocationContents.member.1.S3Bucket') ?? '',
        key: form.get('RevocationContents.member.1.S3Key') ?? '',
        ...(version ? { version } : {}),
      };
      if (
        form.get('RevocationContents.member.1.RevocationType') !== 'CRL' ||
        form.has('RevocationContents.member.2.S3Key') ||
        this.refuseRevocations.has(arn)
      )
        return { ...error('InvalidRevocationContent', 'one CRL per call expected'), arn, revocation };
      const id = this.nextRevocationId++;
      store.revocations.set(id, revocation);
      return {
        ...answer(`<TrustStoreRevocations>${revocationMember(id)}</TrustStoreRevocations>`),
        revocation,
      };
    }
    if (action === 'RemoveTrustStoreRevocations') {
      const ids = [...form.entries()]
        .filter(([k]) => k.startsWith('RevocationIds.member.'))
        .map(([, v]) => Number(v));
      if (ids.some((id) => !store.revocations.has(id)))
        return { ...error('RevocationIdNotFound', 'The specified revocation ID does not exist.'), arn };
      for (const id of ids) store.revocations.delete(id);
      return answer('');
    }
    if (action === 'DescribeTrustStoreRevocations')
      return answer(
        `<TrustStoreRevocations>${[...store.revocations.keys()].map(revocationMember).join('')}</TrustStoreRevocations>`,
      );
    if (action === 'ModifyTrustStore') {
      const version = form.get('CaCertificatesBundleS3ObjectVersion') ?? undefined;
      store.bundles.push({
        bucket: form.get('CaCertificatesBundleS3Bucket') ?? '',
        key: form.get('CaCertificatesBundleS3Key') ?? '',
        ...(version ? { version } : {}),
      });
    } else if (action !== 'DescribeTrustStores') return { ...error('InvalidAction', action), arn };
    return {
      status: 200,
      operation: action,
      arn,
      xml: `<${action}Response xmlns="${ns}"><${action}Result><TrustStores>${member(arn, store)}</TrustStores></${action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></${action}Response>`,
    };
  }
}

const readBody = (req: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

/** The service a SigV4-signed request is for (the credential scope in its Authorization header). */
const serviceOf = (req: IncomingMessage): string =>
  /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(
    String(req.headers.authorization ?? ''),
  )?.[1] ?? 'unknown';

/** The access key and region a SigV4-signed request was signed with. */
const signerOf = (req: IncomingMessage): { accessKeyId: string; region: string } => {
  const m = /Credential=([^/]+)\/\d{8}\/([^/]+)\//.exec(String(req.headers.authorization ?? ''));
  return { accessKeyId: m?.[1] ?? '', region: m?.[2] ?? '' };
};

const s3Call = (method: string, url: URL, headers: IncomingMessage['headers'], status: number): AwsCall => {
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const key = rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined;
  const q = url.searchParams;
  const versionId = q.get('versionId') ?? undefined;
  const raw = `${method} ${url.pathname}${url.search}`;
  const base = { service: 's3' as const, bucket: decodeURIComponent(bucket), status, raw };
  const copy = headers['x-amz-copy-source'];
  if (key === undefined || key === '') {
    if (method === 'GET' && q.has('versions'))
      return { ...base, operation: 'ListObjectVersions', prefix: q.get('prefix') ?? '' };
    if (method === 'GET' && q.get('list-type') === '2')
      return { ...base, operation: 'ListObjectsV2', prefix: q.get('prefix') ?? '' };
    if (method === 'POST' && q.has('delete')) return { ...base, operation: 'DeleteObjects' };
    return { ...base, operation: 'Other' };
  }
  const object = { ...base, key, ...(versionId ? { versionId } : {}) };
  if (method === 'GET') return { ...object, operation: 'GetObject' };
  if (method === 'HEAD') return { ...object, operation: 'HeadObject' };
  if (method === 'DELETE') return { ...object, operation: 'DeleteObject' };
  if (method === 'PUT' && typeof copy === 'string') {
    const source = new URL(`http://x/${copy.replace(/^\//, '')}`);
    const [, sBucket = '', ...sKey] = source.pathname.split('/');
    const sVersion = source.searchParams.get('versionId') ?? undefined;
    return {
      ...object,
      operation: 'CopyObject',
      copySource: {
        bucket: decodeURIComponent(sBucket),
        key: decodeURIComponent(sKey.join('/')),
        ...(sVersion ? { versionId: sVersion } : {}),
      },
    };
  }
  if (method === 'PUT') return { ...object, operation: 'PutObject' };
  return { ...object, operation: 'Other' };
};

/**
 * A recording front for the AWS endpoint of the code under test: S3, SNS, SQS, Step Functions
 * and STS requests go on to the emulator (moto) and are recorded; API Gateway requests are
 * answered by FakeApiGateway, ELB trust stores by FakeElb. A request signed with credentials STS
 * gave for an assumed role is marked with that role (it is authorized in the target's account).
 */
export class AwsRecorder {
  readonly calls: AwsCall[] = [];
  readonly apiGateway = new FakeApiGateway();
  readonly elb = new FakeElb();
  /** The access keys STS gave out for assumed roles, and the role each one is. */
  readonly assumedKeys = new Map<string, string>();
  /**
   * Services that answer every request with 503 ServiceUnavailable (recorded with that status):
   * an outage, or the network lost, after the SDK's own retries.
   */
  readonly outages = new Set<string>();
  private server?: Server;
  endpoint = '';

  constructor(private readonly moto: string) {}

  async start(): Promise<this> {
    const target = new URL(this.moto);
    this.server = createServer((req, res) => {
      void (async () => {
        const body = await readBody(req);
        const service = serviceOf(req);
        const method = req.method ?? 'GET';
        const url = new URL(req.url ?? '/', 'http://recorder');
        const signer = signerOf(req);
        const assumedRole = this.assumedKeys.get(signer.accessKeyId);
        const as = assumedRole ? { assumedRole } : {};
        if (service === 'elasticloadbalancing') {
          const out = this.elb.handle(new URLSearchParams(body.toString('utf8')));
          const bundle =
            out.operation === 'ModifyTrustStore'
              ? this.elb.trustStores.get(out.arn ?? '')?.bundles.at(-1)
              : undefined;
          this.calls.push({
            service,
            operation: [
              'DescribeTrustStores',
              'ModifyTrustStore',
              'AddTrustStoreRevocations',
              'RemoveTrustStoreRevocations',
              'DescribeTrustStoreRevocations',
            ].includes(out.operation)
              ? (out.operation as 'DescribeTrustStores')
              : 'Other',
            ...(out.arn ? { trustStoreArn: out.arn } : {}),
            ...(bundle ? { bundle } : {}),
            ...(out.revocation ? { revocation: out.revocation } : {}),
            region: signer.region,
            ...as,
            status: out.status,
          });
          res.writeHead(out.status, { 'content-type': 'text/xml' });
          res.end(out.xml);
          return;
        }
        if (service === 'apigateway') {
          const out = this.apiGateway.handle(method, `${url.pathname}${url.search}`, body.toString('utf8'));
          if (out.call) this.calls.push({ ...out.call, region: signer.region, ...as, status: out.status });
          else
            this.calls.push({
              service,
              operation: 'Unknown',
              raw: `${method} ${url.pathname}`,
              status: out.status,
            });
          res.writeHead(out.status, {
            'content-type': 'application/json',
            ...(out.status === 404 ? { 'x-amzn-errortype': 'NotFoundException' } : {}),
          });
          res.end(JSON.stringify(out.body));
          return;
        }
        if (this.outages.has(service)) {
          this.calls.push({
            service,
            operation: 'Unknown',
            raw: `${method} ${url.pathname} (outage)`,
            status: 503,
          });
          res.writeHead(503, { 'content-type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify({ __type: 'ServiceUnavailable', message: 'Service Unavailable (outage)' }));
          return;
        }
        const forwarded = await new Promise<{
          status: number;
          headers: IncomingMessage['headers'];
          body: Buffer;
        }>((resolve, reject) => {
          const out = httpRequest(
            {
              host: target.hostname,
              port: target.port,
              method,
              path: req.url,
              headers: { ...req.headers, host: target.host },
            },
            (r) => {
              void readBody(r).then((b) =>
                resolve({ status: r.statusCode ?? 500, headers: r.headers, body: b }),
              );
            },
          );
          out.on('error', reject);
          out.end(body);
        });
        const call = this.describe(service, method, url, req.headers, body, forwarded.status);
        if (call.service === 'sts' && forwarded.status === 200) {
          const key = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(forwarded.body.toString('utf8'))?.[1];
          if (key && 'roleArn' in call && call.roleArn) this.assumedKeys.set(key, call.roleArn);
        }
        this.calls.push(assumedRole ? { ...call, ...as } : call);
        res.writeHead(forwarded.status, forwarded.headers);
        res.end(forwarded.body);
      })().catch((error: Error) => {
        res.writeHead(500);
        res.end(String(error.message));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    return this;
  }

  private describe(
    service: string,
    method: string,
    url: URL,
    headers: IncomingMessage['headers'],
    body: Buffer,
    status: number,
  ): AwsCall {
    if (service === 's3') return s3Call(method, url, headers, status);
    if (service === 'sns') {
      const form = new URLSearchParams(body.toString('utf8'));
      return {
        service,
        operation: form.get('Action') ?? 'Unknown',
        topicArn: form.get('TopicArn') ?? '',
        status,
      };
    }
    if (service === 'sqs') {
      const target = String(headers['x-amz-target'] ?? '');
      const input = JSON.parse(body.toString('utf8') || '{}') as { QueueUrl?: string };
      return {
        service,
        operation: target.split('.').pop() ?? 'Unknown',
        queueUrl: input.QueueUrl ?? '',
        status,
      };
    }
    if (service === 'states') {
      const input = JSON.parse(body.toString('utf8') || '{}') as {
        stateMachineArn?: string;
        name?: string;
        input?: string;
      };
      return {
        service,
        operation:
          String(headers['x-amz-target'] ?? '')
            .split('.')
            .pop() ?? 'Unknown',
        ...input,
        status,
      };
    }
    if (service === 'sts') {
      const form = new URLSearchParams(body.toString('utf8'));
      return {
        service,
        operation: form.get('Action') ?? 'Unknown',
        ...(form.get('RoleArn') ? { roleArn: form.get('RoleArn')! } : {}),
        ...(form.get('ExternalId') ? { externalId: form.get('ExternalId')! } : {}),
        status,
      };
    }
    return { service, operation: 'Unknown', raw: `${method} ${url.pathname}${url.search}`, status };
  }

  /** The calls recorded since the last take, and forgets them. */
  take(): AwsCall[] {
    return this.calls.splice(0, this.calls.length);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
