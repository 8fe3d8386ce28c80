/** Names of what the docker backend creates for a bottle beside its bundle; all carry its labels. */
export { bundleName } from '@bot-bottle/backend-kit/names';
export const containerName = (slug: string) => `bot-bottle-${slug}`;
export const socketVolumeName = (slug: string) => `bot-bottle-${slug}-sock`;
