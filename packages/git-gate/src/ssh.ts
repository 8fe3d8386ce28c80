/**
 * How the gate talks to an upstream: ssh with exactly the entry's key, and a host key that must
 * already be in a known_hosts file the gate cannot write (a changed or unknown key is refused).
 */

/** ssh://, git+ssh://, ssh+git:// and scp-like `[user@]host:path` upstreams go through ssh. */
export function isSshUrl(url: string): boolean {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined) return scheme === 'ssh' || scheme === 'git+ssh' || scheme === 'ssh+git';
  return true; // no scheme: git reads it as scp-like ssh (a local path is not a valid Upstream)
}

/** Quotes one word for the POSIX shell that git runs GIT_SSH_COMMAND through. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface SshSettings {
  identityFile: string | null;
  knownHosts: string | null;
}

/**
 * The ssh command line for one entry. `-F /dev/null` keeps any ssh_config in the bundle from
 * changing it; BatchMode never prompts; UpdateHostKeys=no and a read-only known_hosts mean a
 * host key is never learned or replaced.
 */
export function sshCommand(s: SshSettings): string {
  const argv = [
    'ssh',
    '-F', '/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'UpdateHostKeys=no',
    '-o', 'CheckHostIP=no',
    '-o', 'ConnectTimeout=20',
    '-o', 'ServerAliveInterval=15',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'IdentityAgent=none',
    '-o', `UserKnownHostsFile=${s.knownHosts ?? '/dev/null'}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
  ];
  // IdentitiesOnly with no -i offers no key at all (never the bundle user's default keys).
  if (s.identityFile) argv.push('-i', s.identityFile);
  else argv.push('-o', 'IdentityFile=none');
  return argv.map(shellQuote).join(' ');
}

/**
 * The environment for every git the gate runs against an upstream: the entry's ssh, no prompts,
 * only the transports a declared Upstream can name (never ext:: or fd::), and no config from
 * outside the gate's own mirrors.
 */
export function upstreamGitEnv(s: SshSettings, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, val] of Object.entries(base)) {
    // Local-repo variables would point git at the wrong repository (hooks run with them set).
    if (val !== undefined && !k.startsWith('GIT_') && k !== 'SSH_AUTH_SOCK' && k !== 'SSH_ASKPASS') env[k] = val;
  }
  return {
    ...env,
    GIT_SSH_COMMAND: sshCommand(s),
    GIT_SSH_VARIANT: 'ssh',
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'true',
    GIT_ALLOW_PROTOCOL: 'ssh:git:http:https:file',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
}

/**
 * For a file:// upstream (the host repo's exchange copy, which the host user made and the gate's
 * user writes into): git's ownership check would refuse it, so that one path is a safe directory,
 * in a global config of its own (git honours safe.directory only in system and global config).
 */
export function localUpstreamEnv(globalConfig: string | undefined): Record<string, string> {
  return globalConfig ? { GIT_CONFIG_GLOBAL: globalConfig } : {};
}

/** The global config a file:// upstream's git commands get (see localUpstreamEnv), or null for another upstream. */
export function localUpstreamConfig(upstream: string): string | null {
  if (!upstream.startsWith('file://')) return null;
  const dir = decodeURIComponent(upstream.slice('file://'.length));
  return `[safe]\n\tdirectory = ${dir.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}\n`;
}
