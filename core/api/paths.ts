// REST paths and WebSocket endpoints of the coordinator, shared by the server and its callers.

/** Every endpoint of the coordinator, relative to its origin. */
export const apiPaths = {
  /** WebSocket: a volunteer's registration, heartbeats and assignments. */
  volunteerSocket: '/api/volunteer',
  /** WebSocket: a dashboard gets a `snapshot`, then `event`s. */
  dashboardSocket: '/api/dashboard',
  /** POST a RouteRequest → RouteResponse (200 route, 202 queued, 4xx/5xx error). */
  routes: '/api/routes',
  /** GET the swarm state (SwarmState). */
  swarm: '/api/swarm',
  /**
   * POST a PlacementPolicyRequest → PlacementPolicyChanged: switch the placement policy in force and
   * re-place every volunteer by it (moves volunteers; their sessions end). 400 unknown policy,
   * 503 `infeasible` when the policy cannot place the current swarm (the old one stays in force).
   */
  placementPolicy: '/api/placement/policy',
  /** GET the served models with their coverage (ModelsList). */
  servedModels: '/api/models',
  /**
   * GET `?clientId=` → IceServersAnswer: the STUN/TURN servers a page's peer connections use, TURN ones
   * with short-lived credentials for that client (`bouquet serve --ice-servers`, `--turn-secret`).
   */
  iceServers: '/api/ice-servers',
  /**
   * POST a FailureReport → `{kind: 'failure-logged'}`: a client says why a request failed (logged, on the
   * dashboard; 10 a minute per client). GET → FailuresAnswer, the last 50, newest first.
   */
  failures: '/api/failures',
  /** GET the live swarm as a scenario file (`?modelId=`, `?requests=N`), for `bouquet sim --from`. */
  scenario: '/api/scenario',
  /** GET liveness: `{ ok: true }`. */
  health: '/api/health',
  /** PeerJS signaling server (HTTP API and its WebSocket at `<peerjs>/peerjs`). */
  peerjs: '/peerjs',
  /** Model files, `/models/<modelId>/<file>`, with HTTP Range support. */
  models: '/models',
} as const;

/** GET (long-poll with `?waitMs=`) a queued request's ticket → RouteResponse. */
export function routeTicketPath(ticketId: string): string {
  return `${apiPaths.routes}/tickets/${encodeURIComponent(ticketId)}`;
}

/** POST a RouteReleaseRequest → RouteReleased: frees the lease's slots. */
export function routeReleasePath(leaseId: string): string {
  return `${apiPaths.routes}/${encodeURIComponent(leaseId)}/release`;
}

/** POST (empty body) → RouteRenewed: extends the lease by its `leaseMs`. */
export function routeRenewPath(leaseId: string): string {
  return `${apiPaths.routes}/${encodeURIComponent(leaseId)}/renew`;
}

/** URL path of one model file. */
export function modelFilePath(modelId: string, file: string): string {
  return `${apiPaths.models}/${encodeURIComponent(modelId)}/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** Longest a ticket poll may wait for an answer, ms. */
export const maxTicketWaitMs = 60_000;

/** `path` for one model's swarm (`?modelId=`): GET `apiPaths.swarm` and the dashboard socket; without it, the server's first model. */
export function withModelId(path: string, modelId: string | undefined): string {
  return modelId === undefined ? path : `${path}${path.includes('?') ? '&' : '?'}modelId=${encodeURIComponent(modelId)}`;
}
