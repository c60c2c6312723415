// Messages of the coordinator API (volunteers, clients, dashboards), transport-neutral: JSON over REST or WebSocket.
// One module per family; this file gathers them so the part's modules import one place.
export type * from './messages-volunteer.ts';
export type * from './messages-route.ts';
export type * from './messages-dashboard.ts';
