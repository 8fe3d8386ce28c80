/**
 * The supervise queue: what an agent may ask for, the files of the queue, and the host's side
 * (list, approve, deny, --persist). The MCP server is `@bot-bottle/supervise/server`, kept apart
 * so that the CLI never loads the MCP SDK.
 */
export {
  MAX_PENDING,
  MAX_REASON,
  MAX_HOST,
  REQUEST_ID_PATTERN,
  RequestEgressInput,
  GetRequestInput,
  GetRulesInput,
  RequestRecordSchema,
  DecisionRecordSchema,
  credentialProblem,
  hostCovers,
  inputProblems,
  newRequestId,
  requestHostProblem,
  routeFor,
  sameAsk,
  type DecisionRecord,
  type RequestRecord,
  type RequestStatus,
} from './requests.js';
export { ROUTES_FILE, listQueue, readDecision, readRequest, readRoutesFile, readSmallFile, requestIds, writeDecision, writeFileAtomic, writeRequest, writeRoutesFile, type QueueListing, type QueuedRequest } from './queue.js';
export { getRoutes, putRoutes } from './admin-client.js';
export { addRouteToManifestText, detectFormatting, editManifestText, persistRoute, prepareManifestEdit, writeManifestEdit, type ManifestEdit } from './persist.js';
export {
  appendAudit,
  approveRequest,
  assessCredential,
  bottleQueue,
  denyRequest,
  findRequest,
  knownRoutes,
  pendingRequests,
  type ApproveOptions,
  type ApproveResult,
  type BottleQueue,
  type CredentialAssessment,
  type DenyOptions,
  type PendingListing,
  type PendingRequest,
} from './host.js';
