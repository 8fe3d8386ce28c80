/** The checks every provisioner package passes (@bot-bottle/core/testing), for the built-in "skills". */
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import { definitionChecks } from '@bot-bottle/core/testing';
import definition from '../src/index.js';
import hook from '../src/register.js';

const test = suite('skills definition');
const packageRoot = fileURLToPath(new URL('..', import.meta.url));
for (const check of definitionChecks({ definition, hook, name: 'skills', packageName: '@bot-bottle/provisioner-skills', packageRoot, builtIn: true })) {
  test(check.name, check.run);
}

test.run();
