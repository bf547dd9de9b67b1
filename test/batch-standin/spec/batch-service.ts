// Shapes of the Batch data-plane bodies pixbatch sends and reads, transcribed from the official
// OpenAPI definitions: Azure/azure-rest-api-specs,
// specification/batch/data-plane/Microsoft.Batch/stable/2024-07-01.20.0/BatchService.json.
// Each schema names the definition it comes from. Objects are strict (the service refuses
// properties it does not know); everything the definition allows is accepted and checked, even
// what pixbatch does not send yet. Enum values are matched case-insensitively, as the service does,
// and come back in the definition's spelling. Limits the definitions only state in prose
// ("cannot contain more than 64 characters", "between -1000 and 1000") are enforced too.
import { z } from 'zod';

/** A case-insensitive enum that yields the definition's spelling. */
function en<const T extends string>(...values: T[]) {
  return z.string().transform((v, ctx) => {
    const hit = values.find((x) => x.toLowerCase() === v.toLowerCase());
    if (hit === undefined) {
      ctx.addIssue({ code: 'custom', message: `Expected one of ${values.join(', ')}`, input: v });
      return z.NEVER;
    }
    return hit;
  });
}

const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** ISO 8601 duration (days, hours, minutes, seconds) in milliseconds, or undefined if it is not one. */
export function durationMs(s: string): number | undefined {
  const m = DURATION.exec(s);
  if (!m || s === 'P' || s.endsWith('T')) return undefined;
  const [, d, h, min, sec] = m;
  return ((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min ?? 0)) * 60_000 + Number(sec ?? 0) * 1000;
}

const str = z.string();
const int32 = z.number().int().min(-2147483648).max(2147483647);
const int64 = z.number().int();
const bool = z.boolean();
// "format": "duration" (ISO 8601) and "format": "date-time".
const duration = z.string().refine((s) => durationMs(s) !== undefined, { message: 'Expected an ISO 8601 duration' });
const dateTime = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'Expected an ISO 8601 date and time' });
// "The ID can contain any combination of alphanumeric characters including hyphens and underscores,
// and cannot contain more than 64 characters."
const id = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'An id has 1 to 64 letters, digits, hyphens and underscores' });
// "can contain any Unicode characters up to a maximum length of 1024"
const displayName = z.string().max(1024);
const opt = <T extends z.ZodType>(s: T) => s.optional();

// ---------------------------------------------------------------- shared definitions

/** NameValuePair */
export const NameValuePair = z.strictObject({ name: opt(str), value: opt(str) });
/** MetadataItem (name and value required) */
export const MetadataItem = z.strictObject({ name: str, value: str });
/** EnvironmentSetting (name required) */
export const EnvironmentSetting = z.strictObject({ name: str, value: opt(str) });
/** ComputeNodeIdentityReference */
export const ComputeNodeIdentityReference = z.strictObject({ resourceId: opt(str) });
/** ResourceFile: autoStorageContainerName, storageContainerUrl and httpUrl are mutually exclusive (checked by checkResourceFiles). */
export const ResourceFile = z.strictObject({
  autoStorageContainerName: opt(str),
  storageContainerUrl: opt(str),
  httpUrl: opt(str),
  blobPrefix: opt(str),
  filePath: opt(str),
  // "The file permission mode attribute in octal format."
  fileMode: opt(z.string().regex(/^[0-7]{3,4}$/, { message: 'Expected an octal file mode such as 0770' })),
  identityReference: opt(ComputeNodeIdentityReference),
});
/** ElevationLevel */
const ElevationLevel = en('nonadmin', 'admin');
/** AutoUserSpecification */
export const AutoUserSpecification = z.strictObject({ scope: opt(en('task', 'pool')), elevationLevel: opt(ElevationLevel) });
/** UserIdentity: "Specify either the userName or autoUser property, but not both." */
export const UserIdentity = z
  .strictObject({ username: opt(str), autoUser: opt(AutoUserSpecification) })
  .refine((u) => (u.username === undefined) !== (u.autoUser === undefined), { message: 'Specify either username or autoUser, but not both' });
/** TaskConstraints */
export const TaskConstraints = z.strictObject({
  maxWallClockTime: opt(duration),
  retentionTime: opt(duration),
  // "If the maximum retry count is -1, the Batch service retries the Task without limit."
  maxTaskRetryCount: opt(int32.min(-1)),
});
/** JobConstraints */
export const JobConstraints = z.strictObject({ maxWallClockTime: opt(duration), maxTaskRetryCount: opt(int32.min(-1)) });
/** ContainerRegistry */
const ContainerRegistry = z.strictObject({
  username: opt(str),
  password: opt(str),
  registryServer: opt(str),
  identityReference: opt(ComputeNodeIdentityReference),
});
/** ContainerHostBatchBindMountEntry (source: ContainerHostDataPath) */
const ContainerHostBatchBindMountEntry = z.strictObject({
  source: opt(en('Shared', 'Startup', 'VfsMounts', 'Task', 'JobPrep', 'Applications')),
  isReadOnly: opt(bool),
});
/** TaskContainerSettings (imageName required) */
export const TaskContainerSettings = z.strictObject({
  containerRunOptions: opt(str),
  imageName: str,
  registry: opt(ContainerRegistry),
  workingDirectory: opt(en('taskWorkingDirectory', 'containerImageDefault')),
  containerHostBatchBindMounts: opt(z.array(ContainerHostBatchBindMountEntry)),
});
/** ApplicationPackageReference (applicationId required) */
export const ApplicationPackageReference = z.strictObject({ applicationId: str, version: opt(str) });
/** AuthenticationTokenSettings (access: AccessScope[]) */
export const AuthenticationTokenSettings = z.strictObject({ access: opt(z.array(en('job'))) });
/** ExitOptions */
const ExitOptions = z.strictObject({ jobAction: opt(en('none', 'disable', 'terminate')), dependencyAction: opt(en('satisfy', 'block')) });
/** ExitConditions (with ExitCodeMapping and ExitCodeRangeMapping) */
export const ExitConditions = z.strictObject({
  exitCodes: opt(z.array(z.strictObject({ code: int32, exitOptions: ExitOptions }))),
  exitCodeRanges: opt(z.array(z.strictObject({ start: int32, end: int32, exitOptions: ExitOptions }))),
  preProcessingError: opt(ExitOptions),
  fileUploadError: opt(ExitOptions),
  default: opt(ExitOptions),
});
/** HttpHeader (name required) */
const HttpHeader = z.strictObject({ name: str, value: opt(str) });
/** OutputFile, OutputFileDestination, OutputFileBlobContainerDestination, OutputFileUploadOptions */
export const OutputFile = z.strictObject({
  filePattern: str,
  destination: z.strictObject({
    container: opt(
      z.strictObject({
        path: opt(str),
        containerUrl: str,
        identityReference: opt(ComputeNodeIdentityReference),
        uploadHeaders: opt(z.array(HttpHeader)),
      }),
    ),
  }),
  uploadOptions: z.strictObject({ uploadCondition: en('tasksuccess', 'taskfailure', 'taskcompletion') }),
});
/** AffinityInformation (affinityId required) */
const AffinityInformation = z.strictObject({ affinityId: str });
/** MultiInstanceSettings (coordinationCommandLine required) */
const MultiInstanceSettings = z.strictObject({
  numberOfInstances: opt(int32.min(1)),
  coordinationCommandLine: str,
  commonResourceFiles: opt(z.array(ResourceFile)),
});
/** TaskDependencies with TaskIdRange (start and end required) */
const TaskDependencies = z.strictObject({
  taskIds: opt(z.array(str)),
  taskIdRanges: opt(z.array(z.strictObject({ start: int32, end: int32 }))),
});
/** OnAllTasksComplete */
const OnAllTasksComplete = en('noaction', 'terminatejob');
/** OnTaskFailure */
const OnTaskFailure = en('noaction', 'performexitoptionsjobaction');
/** JobNetworkConfiguration (subnetId required) */
const JobNetworkConfiguration = z.strictObject({ subnetId: str, skipWithdrawFromVNet: opt(bool) });
// "Priority values can range from -1000 to 1000"; "maxParallelTasks must be -1 or greater than 0".
const priority = int32.min(-1000).max(1000);
const maxParallelTasks = int32.refine((n) => n === -1 || n > 0, { message: 'Expected -1 or a number greater than 0' });

// The command, its container, files and environment: the same properties in every kind of task.
const command = {
  commandLine: str,
  containerSettings: opt(TaskContainerSettings),
  resourceFiles: opt(z.array(ResourceFile)),
  environmentSettings: opt(z.array(EnvironmentSetting)),
  userIdentity: opt(UserIdentity),
};

/** JobManagerTask (id and commandLine required) */
export const JobManagerTask = z.strictObject({
  id,
  displayName: opt(displayName),
  ...command,
  outputFiles: opt(z.array(OutputFile)),
  constraints: opt(TaskConstraints),
  requiredSlots: opt(int32.min(1)),
  killJobOnCompletion: opt(bool),
  runExclusive: opt(bool),
  applicationPackageReferences: opt(z.array(ApplicationPackageReference)),
  authenticationTokenSettings: opt(AuthenticationTokenSettings),
  allowLowPriorityNode: opt(bool),
});
/** JobPreparationTask (commandLine required) */
export const JobPreparationTask = z.strictObject({
  id: opt(id),
  ...command,
  constraints: opt(TaskConstraints),
  waitForSuccess: opt(bool),
  rerunOnNodeRebootAfterSuccess: opt(bool),
});
/** JobReleaseTask (commandLine required; "You may not specify a timeout longer than 15 minutes.") */
export const JobReleaseTask = z.strictObject({
  id: opt(id),
  ...command,
  maxWallClockTime: opt(duration.refine((s) => (durationMs(s) ?? 0) <= 15 * 60_000, { message: 'At most 15 minutes' })),
  retentionTime: opt(duration),
});
/**
 * PoolInformation: "You must specify either the Pool ID or the auto Pool specification, but not both."
 * pixbatch only uses existing pools, so inside an AutoPoolSpecification only poolLifetimeOption
 * (required) is checked.
 */
export const PoolInformation = z
  .strictObject({
    poolId: opt(str),
    autoPoolSpecification: opt(z.looseObject({ poolLifetimeOption: en('jobschedule', 'job') })),
  })
  .refine((p) => (p.poolId === undefined) !== (p.autoPoolSpecification === undefined), {
    message: 'Specify either poolId or autoPoolSpecification, but not both',
  });

// ---------------------------------------------------------------- request bodies

const jobCommon = {
  displayName: opt(displayName),
  priority: opt(priority),
  maxParallelTasks: opt(maxParallelTasks),
  allowTaskPreemption: opt(bool),
  constraints: opt(JobConstraints),
  jobManagerTask: opt(JobManagerTask),
  jobPreparationTask: opt(JobPreparationTask),
  jobReleaseTask: opt(JobReleaseTask),
  commonEnvironmentSettings: opt(z.array(EnvironmentSetting)),
  poolInfo: PoolInformation,
  onAllTasksComplete: opt(OnAllTasksComplete),
  onTaskFailure: opt(OnTaskFailure),
  metadata: opt(z.array(MetadataItem)),
  usesTaskDependencies: opt(bool),
  networkConfiguration: opt(JobNetworkConfiguration),
};

/** JobAddParameter (id and poolInfo required): body of Job_Add, POST /jobs. */
export const JobAddParameter = z.strictObject({ id, ...jobCommon });

/** JobPatchParameter: body of Job_Patch, PATCH /jobs/{jobId}. */
export const JobPatchParameter = z.strictObject({
  priority: opt(priority),
  maxParallelTasks: opt(maxParallelTasks),
  allowTaskPreemption: opt(bool),
  onAllTasksComplete: opt(OnAllTasksComplete),
  constraints: opt(JobConstraints),
  poolInfo: opt(PoolInformation),
  metadata: opt(z.array(MetadataItem)),
});

/** JobTerminateParameter: body of Job_Terminate ("terminateReason" is free text). */
export const JobTerminateParameter = z.strictObject({ terminateReason: opt(z.string().max(64)) });

/** TaskAddParameter (id and commandLine required). */
export const TaskAddParameter = z.strictObject({
  id,
  displayName: opt(displayName),
  ...command,
  exitConditions: opt(ExitConditions),
  outputFiles: opt(z.array(OutputFile)),
  affinityInfo: opt(AffinityInformation),
  constraints: opt(TaskConstraints),
  requiredSlots: opt(int32.min(1)),
  multiInstanceSettings: opt(MultiInstanceSettings),
  dependsOn: opt(TaskDependencies),
  applicationPackageReferences: opt(z.array(ApplicationPackageReference)),
  authenticationTokenSettings: opt(AuthenticationTokenSettings),
});

/** TaskAddCollectionParameter: value required, "maxItems": 100. Body of Task_AddCollection. */
export const TaskAddCollectionParameter = z.strictObject({ value: z.array(TaskAddParameter).max(100) });

/**
 * Schedule: startWindow and recurrenceInterval "The minimum value is 1 minute. If you specify a
 * lower value, the Batch service rejects the schedule with an error".
 */
export const Schedule = z.strictObject({
  doNotRunUntil: opt(dateTime),
  doNotRunAfter: opt(dateTime),
  startWindow: opt(duration.refine((s) => (durationMs(s) ?? 0) >= 60_000, { message: 'The minimum is 1 minute' })),
  recurrenceInterval: opt(duration.refine((s) => (durationMs(s) ?? 0) >= 60_000, { message: 'The minimum is 1 minute' })),
});

/** JobSpecification (poolInfo required). */
export const JobSpecification = z.strictObject(jobCommon);

/** JobScheduleAddParameter (id, schedule and jobSpecification required): body of JobSchedule_Add. */
export const JobScheduleAddParameter = z.strictObject({
  id,
  displayName: opt(displayName),
  schedule: Schedule,
  jobSpecification: JobSpecification,
  metadata: opt(z.array(MetadataItem)),
});

// ---------------------------------------------------------------- responses

/** ErrorMessage */
const ErrorMessage = z.strictObject({ lang: opt(str), value: opt(str) });
/** BatchErrorDetail */
const BatchErrorDetail = z.strictObject({ key: opt(str), value: opt(str) });
/** BatchError: the body of every error answer. */
export const BatchError = z.strictObject({
  'odata.metadata': opt(str),
  code: opt(str),
  message: opt(ErrorMessage),
  values: opt(z.array(BatchErrorDetail)),
});

/** ErrorCategory */
const ErrorCategory = en('usererror', 'servererror');
/** TaskExecutionResult */
const TaskExecutionResult = en('success', 'failure');
/** TaskState */
const TaskState = en('active', 'preparing', 'running', 'completed');
/** JobState */
const JobState = en('active', 'disabling', 'disabled', 'enabling', 'terminating', 'completed', 'deleting');
/** TaskContainerExecutionInformation */
const TaskContainerExecutionInformation = z.strictObject({ containerId: opt(str), state: opt(str), error: opt(str) });
/** TaskFailureInformation (category required) */
const TaskFailureInformation = z.strictObject({
  category: ErrorCategory,
  code: opt(str),
  message: opt(str),
  details: opt(z.array(NameValuePair)),
});
/** TaskExecutionInformation (requeueCount and retryCount required) */
const TaskExecutionInformation = z.strictObject({
  startTime: opt(dateTime),
  endTime: opt(dateTime),
  exitCode: opt(int32),
  containerInfo: opt(TaskContainerExecutionInformation),
  failureInfo: opt(TaskFailureInformation),
  retryCount: int32,
  lastRetryTime: opt(dateTime),
  requeueCount: int32,
  lastRequeueTime: opt(dateTime),
  result: opt(TaskExecutionResult),
});
/** ComputeNodeInformation */
const ComputeNodeInformation = z.strictObject({
  affinityId: opt(str),
  nodeUrl: opt(str),
  poolId: opt(str),
  nodeId: opt(str),
  taskRootDirectory: opt(str),
  taskRootDirectoryUrl: opt(str),
});
/** TaskStatistics (every property required when present) */
const TaskStatistics = z.strictObject({
  url: str,
  startTime: dateTime,
  lastUpdateTime: dateTime,
  userCPUTime: duration,
  kernelCPUTime: duration,
  wallClockTime: duration,
  readIOps: int64,
  writeIOps: int64,
  readIOGiB: z.number(),
  writeIOGiB: z.number(),
  waitTime: duration,
});

// The properties every answered resource (CloudTask, CloudJob, CloudJobSchedule, CloudPool) starts with.
const resource = {
  'odata.metadata': opt(str),
  id: opt(str),
  displayName: opt(str),
  url: opt(str),
  eTag: opt(str),
  lastModified: opt(dateTime),
  creationTime: opt(dateTime),
};

/** CloudTask: what Task_Get and Task_List answer (no property is required by the definition). */
export const CloudTask = z.strictObject({
  ...resource,
  exitConditions: opt(ExitConditions),
  state: opt(TaskState),
  stateTransitionTime: opt(dateTime),
  previousState: opt(TaskState),
  previousStateTransitionTime: opt(dateTime),
  ...command,
  commandLine: opt(str),
  outputFiles: opt(z.array(OutputFile)),
  affinityInfo: opt(AffinityInformation),
  constraints: opt(TaskConstraints),
  requiredSlots: opt(int32),
  executionInfo: opt(TaskExecutionInformation),
  nodeInfo: opt(ComputeNodeInformation),
  multiInstanceSettings: opt(MultiInstanceSettings),
  stats: opt(TaskStatistics),
  dependsOn: opt(TaskDependencies),
  applicationPackageReferences: opt(z.array(ApplicationPackageReference)),
  authenticationTokenSettings: opt(AuthenticationTokenSettings),
});
/** CloudTaskListResult */
export const CloudTaskListResult = z.strictObject({
  'odata.metadata': opt(str),
  value: opt(z.array(CloudTask)),
  'odata.nextLink': opt(str),
});

/** TaskCounts / TaskSlotCounts (all five required) */
const Counts = z.strictObject({ active: int32, running: int32, completed: int32, succeeded: int32, failed: int32 });
/** TaskCountsResult (taskCounts and taskSlotCounts required): the answer of Job_GetTaskCounts. */
export const TaskCountsResult = z.strictObject({ 'odata.metadata': opt(str), taskCounts: Counts, taskSlotCounts: Counts });

/** TaskAddResult (status and taskId required) */
const TaskAddResult = z.strictObject({
  status: en('success', 'clienterror', 'servererror'),
  taskId: str,
  eTag: opt(str),
  lastModified: opt(dateTime),
  location: opt(str),
  error: opt(BatchError),
});
/** TaskAddCollectionResult: the answer of Task_AddCollection. */
export const TaskAddCollectionResult = z.strictObject({ 'odata.metadata': opt(str), value: opt(z.array(TaskAddResult)) });

/** JobSchedulingError (category required) */
const JobSchedulingError = z.strictObject({ category: ErrorCategory, code: opt(str), message: opt(str), details: opt(z.array(NameValuePair)) });
/** JobExecutionInformation (startTime required) */
const JobExecutionInformation = z.strictObject({
  startTime: dateTime,
  endTime: opt(dateTime),
  poolId: opt(str),
  schedulingError: opt(JobSchedulingError),
  terminateReason: opt(str),
});

/** CloudJob: what Job_Get and Job_List answer (no property is required by the definition). */
export const CloudJob = z.strictObject({
  ...resource,
  usesTaskDependencies: opt(bool),
  state: opt(JobState),
  stateTransitionTime: opt(dateTime),
  previousState: opt(JobState),
  previousStateTransitionTime: opt(dateTime),
  priority: opt(int32),
  allowTaskPreemption: opt(bool),
  maxParallelTasks: opt(int32),
  constraints: opt(JobConstraints),
  jobManagerTask: opt(JobManagerTask),
  jobPreparationTask: opt(JobPreparationTask),
  jobReleaseTask: opt(JobReleaseTask),
  commonEnvironmentSettings: opt(z.array(EnvironmentSetting)),
  poolInfo: opt(PoolInformation),
  onAllTasksComplete: opt(OnAllTasksComplete),
  onTaskFailure: opt(OnTaskFailure),
  networkConfiguration: opt(JobNetworkConfiguration),
  metadata: opt(z.array(MetadataItem)),
  executionInfo: opt(JobExecutionInformation),
  // JobStatistics is only present with $expand=stats, which pixbatch never asks for.
});
/** CloudJobListResult */
export const CloudJobListResult = z.strictObject({ 'odata.metadata': opt(str), value: opt(z.array(CloudJob)), 'odata.nextLink': opt(str) });

/** JobScheduleState */
const JobScheduleState = en('active', 'completed', 'disabled', 'terminating', 'deleting');
/** CloudJobSchedule, with JobScheduleExecutionInformation and RecentJob. */
export const CloudJobSchedule = z.strictObject({
  ...resource,
  state: opt(JobScheduleState),
  stateTransitionTime: opt(dateTime),
  previousState: opt(JobScheduleState),
  previousStateTransitionTime: opt(dateTime),
  schedule: opt(Schedule),
  jobSpecification: opt(JobSpecification),
  executionInfo: opt(
    z.strictObject({
      nextRunTime: opt(dateTime),
      recentJob: opt(z.strictObject({ id: opt(str), url: opt(str) })),
      endTime: opt(dateTime),
    }),
  ),
  metadata: opt(z.array(MetadataItem)),
});
/** CloudJobScheduleListResult */
export const CloudJobScheduleListResult = z.strictObject({
  'odata.metadata': opt(str),
  value: opt(z.array(CloudJobSchedule)),
  'odata.nextLink': opt(str),
});

/** ImageReference */
const ImageReference = z.strictObject({
  publisher: opt(str),
  offer: opt(str),
  sku: opt(str),
  version: opt(str),
  virtualMachineImageId: opt(str),
  exactVersion: opt(str),
  sharedGalleryImageId: opt(str),
  communityGalleryImageId: opt(str),
});
/** UserAssignedIdentity (resourceId required) */
const UserAssignedIdentity = z.strictObject({ resourceId: str, clientId: opt(str), principalId: opt(str) });
/** BatchPoolIdentity (type required) */
const BatchPoolIdentity = z.strictObject({ type: z.enum(['UserAssigned', 'None']), userAssignedIdentities: opt(z.array(UserAssignedIdentity)) });
/** ResizeError */
const ResizeError = z.strictObject({ code: opt(str), message: opt(str), values: opt(z.array(NameValuePair)) });

/**
 * CloudPool: what Pool_Get answers. pixbatch reads a few properties ($select); the pool-wide
 * configuration objects it never reads (startTask, networkConfiguration, mountConfiguration,
 * userAccounts, ...) are accepted as objects without checking their insides.
 */
export const CloudPool = z.strictObject({
  ...resource,
  state: opt(en('active', 'deleting')),
  stateTransitionTime: opt(dateTime),
  allocationState: opt(en('steady', 'resizing', 'stopping')),
  allocationStateTransitionTime: opt(dateTime),
  vmSize: opt(str),
  virtualMachineConfiguration: opt(z.looseObject({ imageReference: ImageReference, nodeAgentSKUId: str })),
  resizeTimeout: opt(duration),
  resizeErrors: opt(z.array(ResizeError)),
  currentDedicatedNodes: opt(int32),
  currentLowPriorityNodes: opt(int32),
  targetDedicatedNodes: opt(int32),
  targetLowPriorityNodes: opt(int32),
  enableAutoScale: opt(bool),
  autoScaleFormula: opt(str),
  autoScaleEvaluationInterval: opt(duration),
  autoScaleRun: opt(z.strictObject({ timestamp: dateTime, results: opt(str), error: opt(z.looseObject({})) })),
  enableInterNodeCommunication: opt(bool),
  networkConfiguration: opt(z.looseObject({})),
  startTask: opt(z.looseObject({ commandLine: str })),
  certificateReferences: opt(z.array(z.looseObject({}))),
  applicationPackageReferences: opt(z.array(ApplicationPackageReference)),
  taskSlotsPerNode: opt(int32.min(1).max(256)),
  taskSchedulingPolicy: opt(z.strictObject({ nodeFillType: en('spread', 'pack') })),
  userAccounts: opt(z.array(z.looseObject({}))),
  metadata: opt(z.array(MetadataItem)),
  stats: opt(z.looseObject({})),
  mountConfiguration: opt(z.array(z.looseObject({}))),
  identity: opt(BatchPoolIdentity),
  targetNodeCommunicationMode: opt(en('default', 'classic', 'simplified')),
  currentNodeCommunicationMode: opt(en('default', 'classic', 'simplified')),
  upgradePolicy: opt(z.looseObject({ mode: en('automatic', 'manual', 'rolling') })),
  resourceTags: opt(z.record(z.string(), z.string())),
});
