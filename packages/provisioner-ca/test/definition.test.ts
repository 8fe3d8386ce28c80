/** The checks every provisioner package passes (@bot-bottle/core/testing), for the built-in "ca". */
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { definitionChecks, rejects } from '@bot-bottle/core/testing';
import type { BottlePlan, ProvisionOutcome } from '@bot-bottle/core';
import definition from '../src/index.js';
import hook from '../src/register.js';

const PKG = '@bot-bottle/provisioner-ca';
const test = suite('ca definition');

/** Without the launch's CA on disk the runner reports the step by name (the CA is made in ca.test.ts). */
async function expectRun(run: () => Promise<ProvisionOutcome>, plan: BottlePlan): Promise<void> {
  const err = await rejects(run);
  assert.is(err.code, 'PROVISIONER_FAILED');
  assert.ok(err.message.startsWith(`provisioner "ca" (${PKG}) failed: `), err.message);
  assert.ok(err.message.includes(plan.egress.caCertPath), err.message);
}

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
for (const check of definitionChecks({ definition, hook, name: 'ca', packageName: PKG, packageRoot, builtIn: true, expectRun })) {
  test(check.name, check.run);
}

test.run();
