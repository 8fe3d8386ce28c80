/**
 * The oclif hook `bottle:agents` (declared in package.json under "oclif.hooks"). The CLI runs
 * it in every plugin to learn what each provides; it must only hand the definition over, never do work.
 */
import type { AgentDefinition } from '@bot-bottle/core/agent';
import definition from './index.js';

export default async function register(): Promise<AgentDefinition> {
  return definition;
}
