import { z } from 'zod';
import { DEFAULT_PRICES } from '../cost/prices.js';
import { INPUT_FORMATS } from '../option-values.js';
import { INSTRUMENTATION_KEY, OTLP_PROTOCOLS, entraSignInFrom } from '../telemetry/settings.js';

// The shape of `pixbatch.config.json`. Every field is optional in the file: defaults fill the rest,
// and each command asks only for what it needs (see `requireConfig`). Objects are strict so a
// misspelt key is reported instead of silently ignored.

const nonEmpty = z.string().trim().min(1, 'expected a non-empty string');
const count = z.number().int('expected an integer').min(0, 'expected an integer >= 0');
const money = z.number().min(0, 'expected a price >= 0');

const guid = nonEmpty.regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'expected a GUID (00000000-0000-0000-0000-000000000000)');

export const vmPriceSchema = z.strictObject({
  /** Pay-as-you-go price per node-hour. */
  dedicated: money,
  /** Spot (low-priority) price per node-hour. */
  spot: money,
  cores: z.number().int('expected an integer').min(1, 'expected an integer >= 1'),
});

export const priceTableSchema = z.strictObject({
  currency: nonEmpty,
  /** When the prices were read from the public price list, shown next to every estimate. */
  asOf: nonEmpty,
  region: nonEmpty,
  vm: z.record(z.string(), vmPriceSchema),
  storage: z.strictObject({
    /** Hot tier, per GB (2^30 bytes) and month. */
    hotPerGbMonth: money,
    /** Per 10,000 write operations (put blob, put block, list). */
    writePer10k: money,
    /** Per 10,000 read operations (get blob, get properties). */
    readPer10k: money,
  }),
});

export const configFileSchema = z.strictObject({
  $schema: z.string().optional(),
  azure: z
    .strictObject({
      subscriptionId: guid,
      resourceGroup: nonEmpty,
      region: nonEmpty,
      /** Resource Manager endpoint; only sovereign clouds change it. */
      armEndpoint: z.url({ protocol: /^https$/, error: 'expected an https:// URL' }),
    })
    .partial(),
  batch: z
    .strictObject({
      accountName: nonEmpty.regex(/^[a-z0-9]{3,24}$/, 'expected 3-24 lowercase letters and digits'),
      accountUrl: z.url({ protocol: /^https$/, error: 'expected an https:// URL such as https://ACCOUNT.REGION.batch.azure.com' }),
      poolId: nonEmpty.regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1-64 letters, digits, hyphens or underscores'),
      vmSize: nonEmpty,
      dedicatedNodes: count,
      spotNodes: count,
      minNodes: count,
      maxNodes: count,
      /** Share of autoscaled nodes that are spot, 0-1. */
      spotShare: z.number().min(0, 'expected a number between 0 and 1').max(1, 'expected a number between 0 and 1'),
    })
    .partial(),
  identity: z
    .strictObject({
      /** `/subscriptions/.../providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME`. */
      resourceId: nonEmpty.regex(
        /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/[^/]+$/i,
        'expected /subscriptions/SUB/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/NAME',
      ),
      clientId: guid,
    })
    .partial(),
  storage: z
    .strictObject({
      account: nonEmpty.regex(/^[a-z0-9]{3,24}$/, 'expected 3-24 lowercase letters and digits'),
      inputContainer: nonEmpty,
      outputContainer: nonEmpty,
      scriptsContainer: nonEmpty,
    })
    .partial(),
  prices: priceTableSchema.partial(),
  /** Defaults for the conversion flags of the same names; the command line wins. */
  convert: z
    .strictObject({
      /** Source formats, as `--from` takes them. */
      from: z.array(z.enum(INPUT_FORMATS as [string, ...string[]], { error: `expected one of ${INPUT_FORMATS.join(', ')}` })).min(1, 'expected at least one format'),
      /** The colour transparent pixels are flattened onto in a JPEG, as `--background` takes it. */
      background: nonEmpty,
    })
    .partial(),
  notify: z
    .strictObject({
      /** Told when every job ends unless `--notify` is given: webhook URLs and `mailto:ADDRESS`. */
      to: z.array(nonEmpty.regex(/^(https?:\/\/|mailto:)/i, 'expected an http(s):// URL or mailto:ADDRESS')),
      /** Communication Services endpoint for `mailto:` targets, `https://RESOURCE.communication.azure.com`. */
      emailEndpoint: z.url({ protocol: /^https$/, error: 'expected an https:// URL such as https://RESOURCE.communication.azure.com' }),
      /** Sender address of a domain linked to that resource. */
      emailSender: nonEmpty.regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'expected an email address such as DoNotReply@DOMAIN'),
    })
    .partial(),
  /**
   * Where telemetry goes (docs/monitoring.md): each key stands for one of the standard variables, and a
   * variable set in the environment wins over its key. OTLP headers are not here: they usually hold a key.
   */
  telemetry: z
    .strictObject({
      /** `APPLICATIONINSIGHTS_CONNECTION_STRING`, from the Application Insights resource's Overview page. */
      connectionString: nonEmpty.regex(INSTRUMENTATION_KEY, 'expected an Application Insights connection string (InstrumentationKey=…;IngestionEndpoint=…)'),
      /** `APPLICATIONINSIGHTS_AUTHENTICATION_STRING`: sign in with Microsoft Entra ID. */
      // The variable's own parser decides, so the file accepts exactly what the environment accepts.
      authenticationString: nonEmpty.refine((v) => isEntraSignIn(v), 'expected Authorization=AAD or Authorization=AAD;ClientId=CLIENT_ID'),
      /** `OTEL_EXPORTER_OTLP_ENDPOINT`, the collector's OTLP/HTTP base URL. */
      otlpEndpoint: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL such as http://localhost:4318' }),
      /** `OTEL_EXPORTER_OTLP_PROTOCOL`. */
      otlpProtocol: z.enum(OTLP_PROTOCOLS, { error: 'expected http/protobuf or http/json' }),
      /** Share of images whose spans are kept: `OTEL_TRACES_SAMPLER=parentbased_traceidratio` with this `OTEL_TRACES_SAMPLER_ARG`. */
      imageSampleRatio: z.number({ error: 'expected a number between 0 and 1' }).min(0, 'expected a number between 0 and 1').max(1, 'expected a number between 0 and 1'),
      /** `OTEL_SERVICE_NAME`, the role name in Application Insights. */
      serviceName: nonEmpty,
      /** `PIXBATCH_TELEMETRY_NAMES=1`: also send image names (they can be personal data). */
      names: z.boolean({ error: 'expected true or false' }),
    })
    .partial(),
}).partial();

export type ConfigFile = z.infer<typeof configFileSchema>;
export type PriceTable = z.infer<typeof priceTableSchema>;
export type VmPrice = z.infer<typeof vmPriceSchema>;

/** Everything a command may read, defaults filled in; Azure names stay undefined until configured. */
export interface ResolvedConfig {
  azure: { subscriptionId?: string; resourceGroup?: string; region?: string; armEndpoint: string };
  batch: {
    accountName?: string;
    accountUrl?: string;
    poolId: string;
    vmSize: string;
    dedicatedNodes: number;
    spotNodes: number;
    minNodes: number;
    maxNodes: number;
    spotShare: number;
  };
  identity: { resourceId?: string; clientId?: string };
  storage: { account?: string; inputContainer: string; outputContainer: string; scriptsContainer: string };
  notify: { to: string[]; emailEndpoint?: string; emailSender?: string };
  prices: PriceTable;
  /** The config file that was read, if any. */
  file?: string;
}

export const DEFAULTS = {
  azure: { armEndpoint: 'https://management.azure.com' },
  batch: {
    poolId: 'pixbatch',
    vmSize: 'Standard_D2s_v3',
    dedicatedNodes: 0,
    spotNodes: 2,
    minNodes: 0,
    maxNodes: 10,
    spotShare: 1,
  },
  identity: {},
  storage: { inputContainer: 'images', outputContainer: 'converted', scriptsContainer: 'scripts' },
  notify: { to: [] as string[] },
  prices: DEFAULT_PRICES,
} satisfies Omit<ResolvedConfig, 'file'>;

/** Formats a zod issue path as `batch.poolId` / `prices.vm.Standard_D2s_v3.spot`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.') || '(root)';
}

/** One line per problem: `batch.poolId: expected string`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const at = fieldPath(issue.path);
    switch (issue.code) {
      case 'invalid_type':
        return `${at}: expected ${issue.expected === 'object' ? 'an object' : issue.expected}`;
      case 'unrecognized_keys':
        return issue.keys.map((k) => `${at === '(root)' ? k : `${at}.${k}`}: unknown field`).join('; ');
      default: {
        // Our own messages already read "expected ..."; zod's start with a capital and a prefix.
        const message = issue.message.replace(/^Invalid input: /, '').replace(/^Too (small|big): /, '');
        return `${at}: ${message}`;
      }
    }
  });
}

/** Whether `value` is an `APPLICATIONINSIGHTS_AUTHENTICATION_STRING` the variable's parser accepts. */
function isEntraSignIn(value: string): boolean {
  try {
    entraSignInFrom({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: value });
    return true;
  } catch {
    return false;
  }
}
