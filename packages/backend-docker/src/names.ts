import { BUNDLE_SERVICES, guestEndpoints, type AgentEndpoints } from '@bot-bottle/core';

/** Names of everything the docker backend creates for a bottle; all of them carry its labels. */
export const containerName = (slug: string) => `bot-bottle-${slug}`;
export const bundleName = (slug: string) => `bot-bottle-${slug}-bundle`;
export const socketVolumeName = (slug: string) => `bot-bottle-${slug}-sock`;

export const LABEL = 'bot-bottle';
export const LABEL_SLUG = 'bot-bottle.slug';
export const LABEL_AGENT = 'bot-bottle.agent';
export const LABEL_ROLE = 'bot-bottle.role';
export const LABEL_OWNER = 'bot-bottle.owner';
export const LABEL_CREATED = 'bot-bottle.created';

/** Where the bottle's forwarder reaches its bundle's sockets (a volume only these two mount). */
export const SOCKET_DIR = '/run/bot-bottle';
/** The agent reaches each service on the bottle's loopback, where the forwarder listens. */
export const AGENT_ENDPOINTS: Readonly<AgentEndpoints> = Object.freeze(guestEndpoints());

/**
 * The forwarder's arguments, `PORT=SOCKET` for each of core's bundle services: the bottle's
 * entrypoint (images/agent/forward.mjs, plain JS in the image) is told the table at launch.
 */
export function forwarderArgs(): string[] {
  return Object.values(BUNDLE_SERVICES).map((s) => `${s.port}=${s.socket}`);
}
