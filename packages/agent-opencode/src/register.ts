/** The oclif hook `bottle:agents`: hands the CLI this package's agent definition. It only registers. */
import type { AgentDefinition } from '@bot-bottle/core/agent';
import definition from './index.js';

const hook = async function (): Promise<AgentDefinition> {
  return definition;
};

export default hook;
