// The names an autoscale formula may use, from the Azure Batch page "Create a formula to
// automatically scale compute nodes in a Batch pool" (learn.microsoft.com/azure/batch/
// batch-automatic-scaling; source MicrosoftDocs/azure-docs articles/batch/batch-automatic-scaling.md):
// its tables of service-defined variables, types (TimeInterval_*), functions and sample methods, and
// the timestamp members. A formula that reads any other name is refused, so a formula pixbatch
// generates cannot lean on something the service does not document.

/** "Read-write service-defined variables", with the aliases the page names in its note. */
const READ_WRITE = ['$TargetDedicatedNodes', '$TargetLowPriorityNodes', '$NodeDeallocationOption', '$TargetDedicated', '$TargetLowPriority'];
/** "Read-only service-defined variables". */
const READ_ONLY = [
  '$CPUPercent',
  '$WallClockSeconds',
  '$MemoryBytes',
  '$DiskBytes',
  '$DiskReadBytes',
  '$DiskWriteBytes',
  '$DiskReadOps',
  '$DiskWriteOps',
  '$NetworkInBytes',
  '$NetworkOutBytes',
  '$SampleNodeCount',
  '$ActiveTasks',
  '$RunningTasks',
  '$PendingTasks',
  '$SucceededTasks',
  '$FailedTasks',
  '$TaskSlotsPerNode',
  '$CurrentDedicatedNodes',
  '$CurrentLowPriorityNodes',
  '$PreemptedNodeCount',
];
/** "Functions". */
const FUNCTIONS = ['avg', 'len', 'lg', 'ln', 'log', 'max', 'min', 'norm', 'percentile', 'rand', 'range', 'std', 'stop', 'sum', 'time', 'val'];
/** "Obtain sample data": the methods of the read-only variables. */
const METHODS = ['GetSample', 'GetSamplePeriod', 'Count', 'HistoryBeginTime', 'GetSamplePercent'];
/** "Types": the timeinterval constants, and the members of a timestamp. */
const TIME_INTERVALS = ['Zero', '100ns', 'Microsecond', 'Millisecond', 'Second', 'Minute', 'Hour', 'Day', 'Week', 'Year'].map((u) => `TimeInterval_${u}`);
const TIMESTAMP_MEMBERS = ['year', 'month', 'day', 'weekday', 'hour', 'minute', 'second'];
/** The values of $NodeDeallocationOption. */
const DEALLOCATION = ['requeue', 'terminate', 'taskcompletion', 'retaineddata'];

const lowered = (names: string[]) => new Set(names.map((n) => n.toLowerCase()));
const SERVICE = lowered([...READ_WRITE, ...READ_ONLY]);
const READ_ONLY_SET = lowered(READ_ONLY);
const FUNCTION_SET = lowered(FUNCTIONS);
const METHOD_SET = lowered(METHODS);
const CONSTANTS = lowered([...TIME_INTERVALS, ...DEALLOCATION]);
const MEMBERS = lowered(TIMESTAMP_MEMBERS);

/**
 * Problems with the names a formula uses: undocumented functions, methods or service-defined
 * variables, names read before they are assigned, and assignments to read-only variables. Empty
 * when every name is documented. ("The formula string cannot exceed 8 KB, can include up to 100
 * statements that are separated by semicolons, and can include line breaks and comments.")
 *
 * @example
 * formulaProblems('$TargetDedicatedNodes = ceil($PendingTasks.GetSample(1));'); // ['unknown function ceil()']
 */
export function formulaProblems(formula: string): string[] {
  const problems: string[] = [];
  // Comments run from // to the end of the line (the page's examples); strings are time() arguments.
  const text = formula.replace(/\/\/[^\n]*/g, '').replace(/"[^"]*"/g, '""');
  const statements = text.split(';').filter((s) => s.trim() !== '');
  if (statements.length > 100) problems.push(`${statements.length} statements; at most 100 are allowed`);
  const assigned = new Set<string>();
  for (const statement of statements) {
    const m = /^\s*(\$?[A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)([\s\S]*)$/.exec(statement);
    const expression = m ? m[2]! : statement;
    for (const t of expression.matchAll(/(\.\s*)?(\$?[A-Za-z_][A-Za-z0-9_]*)(\s*\()?/g)) {
      const [, dot, name, call] = t as unknown as [string, string | undefined, string, string | undefined];
      const key = name.toLowerCase();
      if (dot) {
        if (call ? !METHOD_SET.has(key) : !MEMBERS.has(key)) problems.push(`unknown ${call ? `method ${name}()` : `member .${name}`}`);
      } else if (call) {
        if (!FUNCTION_SET.has(key)) problems.push(`unknown function ${name}()`);
      } else if (!SERVICE.has(key) && !CONSTANTS.has(key) && !assigned.has(key)) {
        problems.push(name.startsWith('$') ? `unknown variable ${name}` : `${name} is read before it is assigned`);
      }
    }
    if (m) {
      const target = m[1]!.toLowerCase();
      if (READ_ONLY_SET.has(target)) problems.push(`${m[1]} is read-only`);
      assigned.add(target);
    }
  }
  return [...new Set(problems)];
}
