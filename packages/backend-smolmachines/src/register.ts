/**
 * The oclif hook `bottle:backends`: hands the CLI this package's backend definition. It only
 * registers; the CLI creates the backend (with its env) when a launch, `ls` or `gc` chooses it.
 */
import type { BackendDefinition } from '@bot-bottle/core';
import { BACKEND_NAME, SmolmachinesBackend } from './smolmachines-backend.js';

export const definition: BackendDefinition = {
  name: BACKEND_NAME,
  description: 'a smolvm microVM per bottle (its own kernel); needs hardware KVM',
  create: (env) => new SmolmachinesBackend({ env }),
};

const hook = async function (): Promise<BackendDefinition> {
  return definition;
};

export default hook;
