// Shapes of the Resource Manager pool bodies (Pool_Create, Pool_Update, Pool_Get), transcribed from
// Azure/azure-rest-api-specs, specification/batch/resource-manager/Microsoft.Batch/stable/2023-11-01/
// BatchManagement.json, with the definition each comes from. The generated @azure/arm-batch 9.1.0
// models for the same api-version also carry securityProfile, serviceArtifactReference and
// resourceTags, which the stored copy of the file lacks; they are accepted here so that the client
// pixbatch uses is never refused for what its own models allow.
//
// Objects are strict: a property the definition does not have is refused. Enum values are matched
// case-insensitively (as Resource Manager does) and kept as sent. Configuration that pixbatch never
// sends and whose insides it never reads (networkConfiguration, startTask, userAccounts,
// mountConfiguration, certificates, extensions, ...) is accepted as an object without looking inside.
import { z } from 'zod';
import { issuePath as pathText } from '../harness/schema-issues.js';

export { responseDrift } from '../harness/schema-issues.js';

function en(...values: string[]) {
  const lower = values.map((v) => v.toLowerCase());
  return z.string().refine((v) => lower.includes(v.toLowerCase()), { message: `Expected one of ${values.join(', ')}` });
}

const opt = <T extends z.ZodType>(s: T) => s.optional();
const str = z.string();
const int32 = z.number().int().min(-2147483648).max(2147483647);
const dateTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'Expected an ISO 8601 date and time' });
// "format": "duration"; Resource Manager pool durations are written as PT..H..M..S.
const duration = z.string().regex(/^P(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$/, { message: 'Expected an ISO 8601 duration' });
const anyObject = z.looseObject({});

/** ImageReference */
const ImageReference = z.strictObject({ publisher: opt(str), offer: opt(str), sku: opt(str), version: opt(str), id: opt(str) });
/** VirtualMachineConfiguration (imageReference and nodeAgentSkuId required) */
const VirtualMachineConfiguration = z.strictObject({
  imageReference: ImageReference,
  nodeAgentSkuId: str,
  windowsConfiguration: opt(z.strictObject({ enableAutomaticUpdates: opt(z.boolean()) })),
  dataDisks: opt(z.array(anyObject)),
  licenseType: opt(str),
  containerConfiguration: opt(anyObject),
  diskEncryptionConfiguration: opt(z.strictObject({ targets: opt(z.array(en('OsDisk', 'TemporaryDisk'))) })),
  nodePlacementConfiguration: opt(z.strictObject({ policy: opt(en('Regional', 'Zonal')) })),
  extensions: opt(z.array(anyObject)),
  osDisk: opt(anyObject),
  securityProfile: opt(anyObject),
  serviceArtifactReference: opt(anyObject),
});
/**
 * DeploymentConfiguration: "This property and virtualMachineConfiguration are mutually exclusive and
 * one of the properties must be specified." Cloud Services pools are retired; only
 * virtualMachineConfiguration is accepted.
 */
const DeploymentConfiguration = z.strictObject({ virtualMachineConfiguration: VirtualMachineConfiguration });
/** ComputeNodeDeallocationOption */
const ComputeNodeDeallocationOption = en('Requeue', 'Terminate', 'TaskCompletion', 'RetainedData');
/** FixedScaleSettings ("At least one of targetDedicatedNodes, targetLowPriorityNodes must be set.") */
const FixedScaleSettings = z
  .strictObject({
    resizeTimeout: opt(duration),
    targetDedicatedNodes: opt(int32.min(0)),
    targetLowPriorityNodes: opt(int32.min(0)),
    nodeDeallocationOption: opt(ComputeNodeDeallocationOption),
  })
  .refine((f) => f.targetDedicatedNodes !== undefined || f.targetLowPriorityNodes !== undefined, {
    message: 'At least one of targetDedicatedNodes, targetLowPriorityNodes must be set',
  });
/** AutoScaleSettings (formula required) */
const AutoScaleSettings = z.strictObject({ formula: str, evaluationInterval: opt(duration) });
/** ScaleSettings: "This property and autoScale are mutually exclusive and one of the properties must be specified." */
const ScaleSettings = z
  .strictObject({ fixedScale: opt(FixedScaleSettings), autoScale: opt(AutoScaleSettings) })
  .refine((s) => (s.fixedScale === undefined) !== (s.autoScale === undefined), { message: 'Exactly one of fixedScale and autoScale is required' });
/** UserAssignedIdentities (principalId and clientId are read-only) */
const UserAssignedIdentities = z.strictObject({ principalId: opt(str), clientId: opt(str) });
/** BatchPoolIdentity (type required) */
export const BatchPoolIdentity = z.strictObject({
  type: en('UserAssigned', 'None'),
  userAssignedIdentities: opt(z.record(z.string(), UserAssignedIdentities)),
});
/** MetadataItem (name and value required) */
const MetadataItem = z.strictObject({ name: str, value: str });
/** ApplicationPackageReference (id required) */
const ApplicationPackageReference = z.strictObject({ id: str, version: opt(str) });
/** ResizeError (code and message required; details nest) */
const ResizeError: z.ZodType = z.lazy(() => z.strictObject({ code: str, message: str, details: opt(z.array(ResizeError)) }));
/** ResizeOperationStatus */
const ResizeOperationStatus = z.strictObject({
  targetDedicatedNodes: opt(int32),
  targetLowPriorityNodes: opt(int32),
  resizeTimeout: opt(duration),
  nodeDeallocationOption: opt(ComputeNodeDeallocationOption),
  startTime: opt(dateTime),
  errors: opt(z.array(ResizeError)),
});
/** AutoScaleRunError (code and message required) */
const AutoScaleRunError: z.ZodType = z.lazy(() => z.strictObject({ code: str, message: str, details: opt(z.array(AutoScaleRunError)) }));
/** AutoScaleRun (evaluationTime required) */
const AutoScaleRun = z.strictObject({ evaluationTime: dateTime, results: opt(str), error: opt(AutoScaleRunError) });
/** NodeCommunicationMode */
const NodeCommunicationMode = en('Default', 'Classic', 'Simplified');

/** PoolProperties: the writable properties, then the read-only ones the service reports. */
const writable = {
  displayName: opt(z.string().max(1024)),
  vmSize: opt(str),
  deploymentConfiguration: opt(DeploymentConfiguration),
  scaleSettings: opt(ScaleSettings),
  interNodeCommunication: opt(en('Enabled', 'Disabled')),
  networkConfiguration: opt(anyObject),
  // "The maximum value is the smaller of 4 times the number of cores of the vmSize of the pool or 256."
  taskSlotsPerNode: opt(int32.min(1).max(256)),
  taskSchedulingPolicy: opt(z.strictObject({ nodeFillType: en('Spread', 'Pack') })),
  userAccounts: opt(z.array(anyObject)),
  metadata: opt(z.array(MetadataItem)),
  startTask: opt(anyObject),
  certificates: opt(z.array(anyObject)),
  applicationPackages: opt(z.array(ApplicationPackageReference)),
  applicationLicenses: opt(z.array(str)),
  mountConfiguration: opt(z.array(anyObject)),
  targetNodeCommunicationMode: opt(NodeCommunicationMode),
  resourceTags: opt(z.record(z.string(), z.string())),
};
const readOnly = {
  lastModified: opt(dateTime),
  creationTime: opt(dateTime),
  provisioningState: opt(en('Succeeded', 'Deleting')),
  provisioningStateTransitionTime: opt(dateTime),
  allocationState: opt(en('Steady', 'Resizing', 'Stopping')),
  allocationStateTransitionTime: opt(dateTime),
  currentDedicatedNodes: opt(int32),
  currentLowPriorityNodes: opt(int32),
  autoScaleRun: opt(AutoScaleRun),
  resizeOperationStatus: opt(ResizeOperationStatus),
  currentNodeCommunicationMode: opt(NodeCommunicationMode),
};
/** ProxyResource (every property read-only) */
const proxyResource = { id: opt(str), name: opt(str), type: opt(str), etag: opt(str) };

/**
 * Pool: the body of Pool_Create and Pool_Update. Read-only properties are accepted (Resource Manager
 * ignores them on writes) but still type-checked.
 */
export const PoolRequest = z.strictObject({
  ...proxyResource,
  properties: z.strictObject({ ...writable, ...readOnly }),
  identity: opt(BatchPoolIdentity),
});

/** Pool as Pool_Get, Pool_Create and Pool_Update answer it. */
export const PoolResponse = z.strictObject({
  ...proxyResource,
  properties: z.strictObject({ ...writable, ...readOnly }),
  identity: opt(BatchPoolIdentity),
});

/** CloudErrorBody (details nest) and CloudError: the body of every error answer. */
const CloudErrorBody: z.ZodType = z.lazy(() =>
  z.strictObject({ code: opt(str), message: opt(str), target: opt(str), details: opt(z.array(CloudErrorBody)) }),
);
export const CloudError = z.strictObject({ error: opt(CloudErrorBody) });


/** The first problem of a body against a definition, as a target (property path) and a message; undefined when it conforms. */
export function firstProblem(schema: z.ZodType, body: unknown): { target: string; message: string } | undefined {
  const r = schema.safeParse(body);
  if (r.success) return undefined;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const target = pathText([...issue.path, issue.keys[0]!]);
    return { target, message: `Could not find member '${issue.keys[0]}' on object of type '${pathText(issue.path) || 'Pool'}'` };
  }
  return { target: pathText(issue.path) || 'body', message: issue.message };
}
