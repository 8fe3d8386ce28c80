/**
 * `bottle plann demo`: the same one-message format as every other error, with the nearest command,
 * and exit 2 (the input is wrong), instead of oclif's default text.
 */
import { Errors, type Hook } from '@oclif/core';
import { BottleError, EXIT_USAGE, editDistance } from '@bot-bottle/core';
import { formatError } from '../base-command.js';

const hook: Hook<'command_not_found'> = async function ({ id, config }) {
  const words = id.split(':');
  // With a space separator oclif folds arguments into the id ("plann:demo"); keep the words that name a command.
  const known = config.commandIDs.map((c) => c.split(':'));
  const isTopic = known.some((c) => c.length > 1 && c[0] === words[0]);
  const typed = (isTopic ? words.slice(0, 2) : words.slice(0, 1)).join(' ');
  const near = config.commandIDs
    .filter((c) => !config.findCommand(c)?.hidden)
    .map((c) => c.split(':').join(' '))
    .map((c) => ({ c, d: editDistance(typed, c) }))
    .filter((x) => x.d <= Math.max(1, Math.floor(typed.length / 3)))
    .sort((a, b) => a.d - b.d)[0]?.c;
  const error = new BottleError('USAGE', `unknown command "${typed}"`, {
    suggestions: [...(near ? [`Did you mean \`${config.bin} ${near}\`?`] : []), `Run \`${config.bin} --help\` for the list of commands.`],
    exit: EXIT_USAGE,
  });
  process.stderr.write(formatError(error));
  throw new Errors.ExitError(EXIT_USAGE);
};

export default hook;
