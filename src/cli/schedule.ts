import type { Command } from 'commander';
import { batchRoleNote } from '../batch/node-identity.js';
import { addBatchOptions, addConversionOptions, batchOptionsFrom, collect, conversionOptionsFrom, type BatchFlags, type ConvertFlags } from './conversion-flags.js';

interface ScheduleCreateFlags extends ConvertFlags, BatchFlags {
  every?: string;
  start?: string;
  end?: string;
}

interface AccountFlags {
  batchAccountUrl?: string;
  json?: boolean;
  jobs?: boolean;
}

/**
 * Registers `batch schedule create|list|delete` under the `batch` command: a Batch job schedule that
 * re-runs a conversion on a recurrence, converting only what is new or stale each time.
 */
export function registerSchedule(program: Command): void {
  const batch =
    program.commands.find((c) => c.name() === 'batch') ??
    program.command('batch').description('run conversions on an Azure Batch pool and manage the pool');
  const schedule = batch.command('schedule').description('re-run a conversion on a Batch pool on a recurrence (only new or stale images each time)');

  const create = schedule
    .command('create')
    .description('create a job schedule: every --every, a job plans the conversion on the pool and converts what is new')
    .argument('<scheduleId>', 'name of the schedule (letters, digits, - and _)')
    .argument('<source>', 'Blob Storage location of the images')
    .argument('<destination>', 'Blob Storage location for the outputs');
  addBatchOptions(addConversionOptions(create), 'schedule')
    .option('--every <duration>', 'recurrence, ISO 8601 (PT1H, P1D) or minutes; at least one minute', 'PT1H')
    .option('--start <time>', 'no run before this time (ISO 8601); by default the first run is now')
    .option('--end <time>', 'no run after this time (ISO 8601)')
    .option('--notify <url|mailto:address>', "tell this webhook URL or mailto:ADDRESS when each run's report is written (repeatable; default: notify.to of the config file)", collect)
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `\n${batchRoleNote()}\n`)
    .action(async (scheduleId: string, source: string, destination: string, flags: ScheduleCreateFlags & { json?: boolean }) => {
      // The schedule's manager task passes these on to every job's tasks, like the variables themselves.
      await (await import('../config/telemetry.js')).applyTelemetryConfig(flags);
      const { createSchedule } = await import('../batch/schedule.js');
      const created = await createSchedule({
        ...(await conversionOptionsFrom(flags)),
        ...batchOptionsFrom(flags),
        ...(await (await import('../config/notify.js')).notifySettings(flags)),
        scheduleId,
        source,
        destination,
        every: flags.every,
        startAt: flags.start,
        endAt: flags.end,
        onStatus: (line) => process.stderr.write(`${line}\n`),
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ scheduleId, every: created.every, startAt: created.startAt, bundle: created.bundle.url })}\n`);
      } else {
        process.stdout.write(
          `schedule ${scheduleId}: ${source} -> ${destination} on pool ${flags.pool}, every ${created.every}${created.startAt ? ` from ${created.startAt}` : ', first run now'}\n`,
        );
      }
    });

  schedule
    .command('list')
    .description("list pixbatch's job schedules with their next run and latest job")
    .option('--batch-account-url <url>', 'Batch account endpoint (AZURE_BATCH_ENDPOINT)')
    .option('--jobs', 'also list the jobs each schedule has made')
    .option('--json', 'print JSON')
    .action(async (flags: AccountFlags) => {
      const { listSchedules } = await import('../batch/schedule.js');
      const list = await listSchedules({ batchAccountUrl: flags.batchAccountUrl, withJobs: flags.jobs === true });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(list)}\n`);
        return;
      }
      if (list.length === 0) process.stdout.write('no schedules\n');
      for (const s of list) {
        process.stdout.write(
          `${s.id}  ${s.state}  every ${s.every ?? '-'}  next ${s.nextRunTime ?? '-'}  latest job ${s.recentJobId ?? '-'}  ${s.source ?? '?'} -> ${s.destination ?? '?'}\n`,
        );
        for (const j of s.jobs ?? []) process.stdout.write(`  ${j.id}  ${j.state}${j.endTime ? `  ended ${j.endTime}` : ''}\n`);
      }
    });

  schedule
    .command('delete')
    .description('delete a schedule and the jobs it made (outputs and job folders stay in storage)')
    .argument('<scheduleId>', 'the schedule to delete')
    .option('--batch-account-url <url>', 'Batch account endpoint (AZURE_BATCH_ENDPOINT)')
    .action(async (scheduleId: string, flags: AccountFlags) => {
      const { deleteSchedule } = await import('../batch/schedule.js');
      await deleteSchedule({ scheduleId, batchAccountUrl: flags.batchAccountUrl });
      process.stderr.write(`schedule ${scheduleId} is being deleted\n`);
    });

  // What each scheduled job's manager task runs on the node; not for people.
  schedule
    .command('run-job', { hidden: true })
    .description("plan and submit this scheduled job's run (the job manager task)")
    .action(async () => {
      const { runScheduledJob } = await import('../batch/schedule.js');
      const r = await runScheduledJob();
      process.stdout.write(
        `job ${r.jobId}: ${r.planned.total} images, ${r.planned.convert} to convert in ${r.tasks} task(s), ${r.planned.skip} up to date, ${r.planned.fail} refused\n`,
      );
    });
}
