/** The checks every provisioner package passes (@bot-bottle/core/testing), for the built-in "git". */
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import { definitionChecks } from '@bot-bottle/core/testing';
import definition from '../src/index.js';
import hook from '../src/register.js';

const test = suite('git definition');
const packageRoot = fileURLToPath(new URL('..', import.meta.url));
for (const check of definitionChecks({ definition, hook, name: 'git', packageName: '@bot-bottle/provisioner-git', packageRoot, builtIn: true })) {
  test(check.name, check.run);
}

test.run();
