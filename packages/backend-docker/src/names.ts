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
export const AGENT_ENDPOINTS = {
  proxyUrl: 'http://127.0.0.1:3128',
  gitGateHost: '127.0.0.1:9418',
  superviseUrl: 'http://127.0.0.1:9100/mcp',
} as const;
