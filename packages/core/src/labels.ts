/**
 * The labels every backend puts on what it makes for a bottle (containers, machines, volumes), so
 * that `bottle ls` and `bottle gc` find them and nothing else. The plan sets them; backends add
 * the owner and the role.
 */
export const LABEL = 'bot-bottle';
export const LABEL_SLUG = 'bot-bottle.slug';
export const LABEL_AGENT = 'bot-bottle.agent';
export const LABEL_ROLE = 'bot-bottle.role';
export const LABEL_OWNER = 'bot-bottle.owner';
export const LABEL_CREATED = 'bot-bottle.created';
export const LABEL_BACKEND = 'bot-bottle.backend';
