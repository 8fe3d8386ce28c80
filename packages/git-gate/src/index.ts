export { startGitGate, checkTools, type GitGateOptions, type RunningGitGate } from './gate.js';
export { parseGitGateConfig, readGitGateConfig, GitGateConfigSchema, REPO_NAME, type GitGateConfig, type ResolvedGitGateConfig, type GateEntry } from './config.js';
export { auditLine, writeAudit, type GitAuditEntry, type RefUpdate } from './audit.js';
export { foldRefName, lostRaces, protectingPattern, protectionOf, pushPolicyProblem, refNameProblem, refsPatternProblem, type Protection, type ProtectionKind } from './policy.js';
export { CommandListReader, parseHookInput, type CommandListResult } from './commands.js';
export { resolveRepoPath, readRequest, errPacket, serviceProblem } from './protocol.js';
export { sshCommand, isSshUrl } from './ssh.js';
export { explainUpstreamFailure } from './mirror.js';
