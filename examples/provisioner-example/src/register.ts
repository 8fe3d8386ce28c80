/**
 * The oclif hook `bottle:provisioners` (declared in package.json under "oclif.hooks"). The CLI runs
 * it in every plugin to learn what each provides; it must only hand the definition over, never do work.
 */
import type { ProvisionerHookResult } from '@bot-bottle/core/provisioner';
import definition from './index.js';

export default async function register(): Promise<ProvisionerHookResult> {
  return definition;
}
