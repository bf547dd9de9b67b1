import type { Command } from 'commander';

/**
 * Registers `pixbatch functions package`: the zip an Azure Functions app (Linux) runs from. The app
 * converts each blob that an Event Grid BlobCreated event names (see docs/functions.md).
 */
export function registerFunctions(program: Command): void {
  const functions = program
    .command('functions')
    .description('the Azure Functions app that converts each image as it is uploaded (Event Grid BlobCreated)');
  functions
    .command('package')
    .description('build the zip for zip deployment / run-from-package on a Linux function app (reproducible: same inputs, same sha256)')
    .option('-o, --out <file>', 'where to write the zip (default: pixbatch-functions-VERSION.zip)')
    .option('--json', 'print the result as JSON (file, sha256, size, entries, version)')
    .addHelpText(
      'after',
      '\nDeploy it with:\n  az functionapp deployment source config-zip -g RG -n APP --src pixbatch-functions-VERSION.zip\n' +
        'Settings (PIXBATCH_SOURCE, PIXBATCH_DESTINATION, PIXBATCH_STORAGE__blobServiceUri, PIXBATCH_TO, ...): docs/functions.md',
    )
    .action(async (flags: { out?: string; json?: boolean }) => {
      const { buildFunctionsPackage } = await import('../functions/package.js');
      const pkg = await buildFunctionsPackage({ out: flags.out });
      if (flags.json) process.stdout.write(JSON.stringify(pkg, null, 2) + '\n');
      else process.stdout.write(`${pkg.file}\n  ${pkg.entries} files, ${(pkg.size / 1048576).toFixed(1)} MiB, sha256 ${pkg.sha256}\n`);
    });
}
