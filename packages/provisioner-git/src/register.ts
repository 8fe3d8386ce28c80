/**
 * The oclif hook `bottle:provisioners`: hands the CLI this package's provisioner definition.
 * It only registers; the runner applies it in the order the agent lists its provisioners.
 */
import type { ProvisionerHookResult } from '@bot-bottle/core/provisioner';
import definition from './index.js';

const hook = async function (): Promise<ProvisionerHookResult> {
  return definition;
};

export default hook;
