import type { Command, CommanderError } from 'commander';

/** The deepest command `argv` names (`pixbatch batch status`), for saying which command a flag was given to. */
function commandPath(program: Command, argv: readonly string[]): string {
  const names = [program.name()];
  let command = program;
  for (const arg of argv.slice(2)) {
    if (arg.startsWith('-')) continue;
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (!sub) break;
    names.push(sub.name());
    command = sub;
  }
  return names.join(' ');
}

/**
 * Commander's usage errors in the project's one error shape, after sharp's
 * ("Expected integer between 1 and 100 for quality but received 120"), on one line, with
 * commander's "Did you mean" suggestion kept at the end.
 */
export function usageLine(err: CommanderError, program: Command, argv: readonly string[]): string {
  const [first = '', ...rest] = err.message.replace(/^error: /, '').split('\n');
  const suggestion = /^\(Did you mean (.+)\?\)$/.exec(rest.join(' ').trim())?.[1];
  const hint = suggestion ? ` (did you mean ${suggestion}?)` : '';
  const where = commandPath(program, argv);
  let m: RegExpExecArray | null;
  switch (err.code) {
    case 'commander.unknownOption':
      if ((m = /^unknown option '(.*)'$/.exec(first))) return `Expected an option of ${where} (see ${where} --help) but received "${m[1]}"${hint}`;
      break;
    case 'commander.unknownCommand':
      if ((m = /^unknown command '(.*)'$/.exec(first))) return `Expected a command of ${where} (see ${where} --help) but received "${m[1]}"${hint}`;
      break;
    case 'commander.invalidArgument':
      // Choices: "option '--to <format>' argument 'bmp' is invalid. Allowed choices are png, jpeg."
      if ((m = /^option '--([\w-]+).*' argument '(.*)' is invalid\. Allowed choices are (.*)\.$/.exec(first))) {
        return `Expected one of ${m[3]} for ${m[1]} but received "${m[2]}"`;
      }
      break;
    case 'commander.missingArgument':
      if ((m = /^missing required argument '(.*)'$/.exec(first))) return `Expected a ${m[1]} argument for ${where} but received none`;
      break;
    case 'commander.optionMissingArgument':
      if ((m = /^option '(.*)' argument missing$/.exec(first))) return `Expected a value for ${m[1]} but received none`;
      break;
    case 'commander.missingMandatoryOptionValue':
      if ((m = /^required option '(.*)' not specified$/.exec(first))) return `Expected ${m[1]} for ${where} but received none`;
      break;
    case 'commander.excessArguments':
      if ((m = /Expected (\d+ arguments?) but got (\d+)\.$/.exec(first))) return `Expected ${m[1]} for ${where} but received ${m[2]}`;
      break;
  }
  return `${first}${hint}`;
}

/**
 * The commander settings every pixbatch command tree starts from (commands made with `.command()`
 * inherit them): suggestions for misspelt flags and commands, and usage errors thrown rather than
 * printed, so the caller prints them once with `usageLine`.
 */
export function withUsageErrors(program: Command): Command {
  return program
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => {} });
}
