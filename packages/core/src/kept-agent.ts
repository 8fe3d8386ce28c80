/**
 * The agent of a kept bottle (`bottle run --keep`), as `bottle attach` and `bottle ls` see it. It
 * writes its pid when it starts and its exit code when it ends, in files of the agent user's home;
 * an interactive one runs in a detachable session (dtach, in every bottle image): the terminal that
 * started it can leave with Ctrl-\ while the agent keeps running, or be lost with the `bottle run`
 * that held it, and `bottle attach` joins the same session again. dtach keeps no scrollback: on
 * attach the agent is told to redraw (SIGWINCH), which a terminal UI does.
 */

/** The agent's pid (of the shell that waits for it), written as the agent user. */
export const AGENT_PID_FILE = '/home/node/.bot-bottle-agent.pid';
/** The agent's exit code, written when it ends; removed when it starts. */
export const AGENT_EXIT_FILE = '/home/node/.bot-bottle-agent.exit';
/** The detachable session's socket (dtach's), while an interactive agent runs. */
export const AGENT_SESSION_SOCKET = '/home/node/.bot-bottle-agent.sock';
/** The key that detaches a terminal from the session (dtach's default). */
export const DETACH_KEY = 'Ctrl-\\';

/** The agent's command wrapped so that its pid is written when it starts and its exit code when it ends. */
export function recordedAgentCommand(argv: readonly string[]): string[] {
  return ['sh', '-c', `rm -f ${AGENT_EXIT_FILE}; echo $$ > ${AGENT_PID_FILE}; "$@"; c=$?; echo $c > ${AGENT_EXIT_FILE}; exit $c`, 'agent', ...argv];
}

/**
 * The command a terminal runs to be in the agent's session: it joins the session when one runs, or
 * starts the agent in a new one (dtach -A; a socket left by a session that was killed is replaced).
 * It exits with the agent's code once the agent ended, or 0 when the terminal detached.
 */
export function sessionCommand(argv: readonly string[]): string[] {
  const dtach = ['dtach', '-A', AGENT_SESSION_SOCKET, '-z', '-r', 'winch', ...recordedAgentCommand(argv)];
  return ['sh', '-c', `"$@"; [ -f ${AGENT_EXIT_FILE} ] && exit "$(cat ${AGENT_EXIT_FILE})"; exit 0`, 'session', ...dtach];
}

/** ended: it exited (or never started); running: it runs, without a session to join (headless, or no terminal); attachable: it runs in its session. */
export type KeptAgentState = 'ended' | 'running' | 'attachable';

/** A command (as the agent user) whose exit code says the agent's state: 0 attachable, 1 running, 2 ended. */
export const AGENT_STATE_COMMAND: readonly string[] = [
  'sh',
  '-c',
  `[ -f ${AGENT_EXIT_FILE} ] && exit 2; kill -0 "$(cat ${AGENT_PID_FILE} 2>/dev/null)" 2>/dev/null || exit 2; [ -S ${AGENT_SESSION_SOCKET} ] && exit 0; exit 1`,
];

/** The state from AGENT_STATE_COMMAND's exit code (anything else, as when the bottle cannot be reached: ended). */
export function keptAgentState(exitCode: number): KeptAgentState {
  return exitCode === 0 ? 'attachable' : exitCode === 1 ? 'running' : 'ended';
}
