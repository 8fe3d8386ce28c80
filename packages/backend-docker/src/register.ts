/**
 * The oclif hook `bottle:backends`: hands the CLI the docker backend. It only registers; the CLI
 * chooses a backend by name (--backend, BOT_BOTTLE_BACKEND, the bottle's "backend" key, default docker).
 */
import type { BackendDefinition } from '@bot-bottle/core';
import { DockerBackend } from './docker-backend.js';

const hook = async function (): Promise<BackendDefinition> {
  return { name: 'docker', description: 'a docker container per bottle, with no network; its bundle a sidecar container', create: (env) => new DockerBackend(env) };
};

export default hook;
