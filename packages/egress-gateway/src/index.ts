export { createBottleCa, loadCa, LeafCertificates, type BottleCa, type CreateBottleCaOptions, type LoadedCa } from './ca.js';
export { startGateway, type Gateway, type GatewayOptions, type GatewayStats } from './gateway.js';
export { startAdminServer, type AdminServer } from './admin.js';
export { AuditLog, type AuditEntry } from './audit.js';
export { DlpScanner, DlpError, BodyScanStream, MIN_SECRET_LENGTH, type DlpFinding, type ScanContext } from './dlp.js';
export { RuleSet, parseRoutes, isIpLiteral, hostMatches, normalizeHost, refusalBody, type RouteDecision, type EgressRoute } from './rules.js';
export { GatewayConfigSchema, parseGatewayConfig, readGatewayConfig, gatewayOptionsFromConfig, type GatewayConfig } from './config.js';
