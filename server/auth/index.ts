// The one auth module of the server: credentials and authorize(), the admin token, the browser guard, fair-use rate limits.
export {
  authActions, Authorizer, adminTokenScheme, apiKeyScheme, bearerToken, type AuthAction, type AuthorizerOptions, type AuthRequest, type Credentials, type CredentialScheme,
} from './authorize.ts';
export {
  adminTokenFile, checkAdminToken, defaultStateDir, loadOrCreateAdminToken, minAdminTokenChars, newAdminToken, type AdminTokenSource,
} from './admin-token.ts';
export { apiKeysFile, checkApiKey, loadApiKeys, maxApiKeys } from './api-keys.ts';
export { checkJsonBody, checkOrigin, hasBody, type GuardedRequest } from './browser-guard.ts';
export { addressKey, defaultRouteRateLimits, defaultEvidenceRateLimits, RateLimiter, RouteRateLimiter, type RateLimit, type RouteRateLimits } from './rate-limit.ts';
