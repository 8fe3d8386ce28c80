import { BUNDLE_SERVICES, guestEndpoints, type AgentEndpoints } from '@bot-bottle/core';

export { LABEL, LABEL_AGENT, LABEL_BACKEND, LABEL_CREATED, LABEL_OWNER, LABEL_ROLE, LABEL_SLUG } from '@bot-bottle/core';

/** The bundle container's name: the same for every backend, since every backend runs the bundle in docker. */
export const bundleName = (slug: string) => `bot-bottle-${slug}-bundle`;

/** Where the bundle puts its sockets, and where the bottle's forwarder reaches them. */
export const SOCKET_DIR = '/run/bot-bottle';
/** The agent reaches each service on the bottle's loopback, where the forwarder listens. */
export const AGENT_ENDPOINTS: Readonly<AgentEndpoints> = Object.freeze(guestEndpoints());

/**
 * The forwarder's arguments, `PORT=SOCKET` for each of core's bundle services: the bottle's
 * entrypoint (images/agent/forward.mjs in @bot-bottle/images, plain JS in the image) is told the
 * table at launch.
 */
export function forwarderArgs(): string[] {
  return Object.values(BUNDLE_SERVICES).map((s) => `${s.port}=${s.socket}`);
}

/** `--label K=V` for each label (docker's and smolvm's flag alike). */
export function labelArgs(labels: Readonly<Record<string, string>>): string[] {
  return Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
}
