// The `telemetry` section of pixbatch.config.json: a local run reports as if the variables were set,
// the environment wins over the file, a bad value is one usage line, and Batch tasks and schedules
// are given the values the file holds.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, type Summary } from '../src/index.js';
import { applyTelemetryConfig, telemetryVariablesOf } from '../src/config/telemetry.js';
import { readConfigFile } from '../src/config/load.js';
import { telemetryEnvironment } from '../src/telemetry/index.js';
import { entraSignInFrom } from '../src/telemetry/settings.js';
import { jsonFrom, runPixbatch } from './harness/cli.js';
import { otlpJsonSpans, startOtlpReceiver } from './harness/telemetry-sinks.js';

let root: string;
let images: string;

/** Variables of the test process that would send telemetry elsewhere are not inherited. */
const quiet = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: '',
  OTEL_EXPORTER_OTLP_ENDPOINT: '',
  OTEL_EXPORTER_OTLP_PROTOCOL: '',
  OTEL_TRACES_SAMPLER: '',
  OTEL_TRACES_SAMPLER_ARG: '',
  OTEL_SERVICE_NAME: '',
  PIXBATCH_TELEMETRY_NAMES: '',
  PIXBATCH_CONFIG: '',
};

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pixbatch-telemetry-config-'));
  images = join(root, 'in');
  await generate({ destination: images, count: 3, size: '48x32', seed: 5 });
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function configFile(name: string, telemetry: unknown): Promise<string> {
  const path = join(root, name);
  await writeFile(path, JSON.stringify({ telemetry }));
  return path;
}

describe('telemetry from the config file', () => {
  test('a local run exports to the OTLP endpoint, protocol, sampling and service name the file names', async () => {
    const otlp = await startOtlpReceiver();
    try {
      const config = await configFile('otlp.json', { otlpEndpoint: otlp.endpoint, otlpProtocol: 'http/json', imageSampleRatio: 0, serviceName: 'pixbatch-from-config' });
      const r = await runPixbatch(['convert', images, join(root, 'out-config'), '--json', '--quiet', '--config', config], { env: quiet });
      assert.equal(r.code, 0, r.stderr);
      const summary = jsonFrom(r, { whole: true }) as Summary;
      assert.equal(summary.counts.converted, 3);

      const traces = otlp.requests.filter((q) => q.path === '/v1/traces');
      assert.ok(traces.length > 0, 'no trace export arrived');
      for (const q of traces) assert.match(String(q.headers['content-type']), /application\/json/, 'otlpProtocol http/json was not used');
      const spans = otlpJsonSpans(otlp);
      // imageSampleRatio 0 keeps the job span only.
      assert.deepEqual(spans.map((s) => s.name), ['pixbatch local']);
      assert.equal(spans[0]!.resource['service.name'], 'pixbatch-from-config');
      assert.ok(otlp.requests.some((q) => q.path === '/v1/metrics'), 'no metric export arrived');
    } finally {
      await otlp.stop();
    }
  });

  test('OTEL_EXPORTER_OTLP_ENDPOINT in the environment wins over otlpEndpoint in the file', async () => {
    const fromFile = await startOtlpReceiver();
    const fromEnv = await startOtlpReceiver();
    try {
      const config = await configFile('overridden.json', { otlpEndpoint: fromFile.endpoint, otlpProtocol: 'http/json' });
      const r = await runPixbatch(['convert', images, join(root, 'out-env'), '--quiet'], {
        env: { ...quiet, PIXBATCH_CONFIG: config, OTEL_EXPORTER_OTLP_ENDPOINT: fromEnv.endpoint },
      });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fromFile.requests.length, 0, 'the file endpoint was used although the environment names another');
      // The file's protocol (http/json) still applies: only the endpoint was overridden.
      const spans = otlpJsonSpans(fromEnv);
      assert.ok(spans.some((s) => s.name === 'pixbatch local'), 'no job span arrived at the environment endpoint');
    } finally {
      await fromFile.stop();
      await fromEnv.stop();
    }
  });

  test('a bad value stops the command before it starts, with one line naming the key and what was expected, exit 2', async () => {
    const config = await configFile('bad.json', { imageSampleRatio: 5 });
    const r = await runPixbatch(['convert', images, join(root, 'out-bad'), '--quiet', '--config', config], { env: quiet });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /telemetry\.imageSampleRatio: expected a number between 0 and 1/);
    await assert.rejects(readConfigFile(await configFile('grpc.json', { otlpProtocol: 'grpc' })), /telemetry\.otlpProtocol: expected http\/protobuf or http\/json/);
    await assert.rejects(readConfigFile(await configFile('key.json', { connectionString: 'abc' })), /telemetry\.connectionString: expected an Application Insights connection string/);
    // The file takes what APPLICATIONINSIGHTS_AUTHENTICATION_STRING takes, no more and no less.
    await assert.rejects(readConfigFile(await configFile('auth.json', { authenticationString: 'Authorization=Key' })), /telemetry\.authenticationString: expected Authorization=AAD/);
    const lenient = 'authorization = aad ; ClientId=11111111-2222-3333-4444-555555555555; Extra=1';
    assert.doesNotThrow(() => entraSignInFrom({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: lenient }));
    assert.equal((await readConfigFile(await configFile('auth-ok.json', { authenticationString: lenient }))).telemetry?.authenticationString, lenient);
    await assert.rejects(readConfigFile(await configFile('headers.json', { otlpHeaders: 'api-key=x' })), /telemetry\.otlpHeaders: unknown field/);
  });

  test('each key stands for its standard variable, and the environment wins variable by variable', async () => {
    const section = {
      connectionString: 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.in.applicationinsights.azure.com/',
      authenticationString: 'Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555',
      otlpEndpoint: 'http://collector:4318',
      otlpProtocol: 'http/json' as const,
      imageSampleRatio: 0.05,
      serviceName: 'photos',
      names: true,
    };
    assert.deepEqual(telemetryVariablesOf(section), {
      APPLICATIONINSIGHTS_CONNECTION_STRING: section.connectionString,
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: section.authenticationString,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.05',
      OTEL_SERVICE_NAME: 'photos',
      PIXBATCH_TELEMETRY_NAMES: '1',
    });
    assert.deepEqual(telemetryVariablesOf({ names: false }), {});

    const config = await configFile('all.json', section);
    const env: NodeJS.ProcessEnv = { PIXBATCH_CONFIG: config, OTEL_TRACES_SAMPLER_ARG: '0.5', OTEL_SERVICE_NAME: '  ' };
    const set = await applyTelemetryConfig({}, env, root);
    assert.equal(env.OTEL_TRACES_SAMPLER_ARG, '0.5', 'a variable already set is kept');
    assert.equal(env.OTEL_TRACES_SAMPLER, 'parentbased_traceidratio');
    assert.equal(env.OTEL_SERVICE_NAME, 'photos', 'a blank variable counts as unset');
    assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://collector:4318');
    assert.ok(!set.includes('OTEL_TRACES_SAMPLER_ARG'));
    // Without a config file nothing is read or set.
    const none: NodeJS.ProcessEnv = {};
    assert.deepEqual(await applyTelemetryConfig({}, none, root), []);
    assert.deepEqual(none, {});
  });

  test('Batch tasks and scheduled runs are given the values from the file, and never OTLP headers', async () => {
    const { scheduleSpec } = await import('../src/batch/schedule.js');
    const config = await configFile('batch.json', { connectionString: 'InstrumentationKey=abc', otlpEndpoint: 'http://collector:4318', imageSampleRatio: 0.1 });
    const settings = {
      scheduleId: 'nightly', source: 'https://acct.blob.core.windows.net/images', destination: 'https://acct.blob.core.windows.net/converted',
      conversion: {}, shardSize: 'auto', roundRobin: false, pool: { id: 'pool1', shape: { nodes: 1, cores: 2, slotsPerNode: 1 } },
      maxTaskRetryCount: 3, maxWallClockTime: 'PT1H',
      bundle: { url: 'https://acct.blob.core.windows.net/scripts/b.tar.gz', sha256: 'ab'.repeat(32), version: '0.1.0' },
    } as Parameters<typeof scheduleSpec>[0];
    const saved = { ...process.env };
    try {
      for (const k of Object.keys(quiet)) delete process.env[k];
      process.env.OTEL_EXPORTER_OTLP_HEADERS = 'api-key=secret';
      await applyTelemetryConfig({ config }, process.env, root);
      const expected = [
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: 'InstrumentationKey=abc' },
        { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://collector:4318' },
        { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' },
        { name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.1' },
      ];
      // What convert --pool gives each task (src/batch/engine.ts) and a run's manager gives its tasks.
      assert.deepEqual(telemetryEnvironment(), expected);
      const manager = scheduleSpec(settings, { every: 'PT1H' }).jobSpecification.jobManagerTask!;
      const telemetry = (manager.environmentSettings ?? []).filter((e) => /^(APPLICATIONINSIGHTS_|OTEL_)/.test(e.name));
      assert.deepEqual(telemetry, expected);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});
