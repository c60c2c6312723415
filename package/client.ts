// The package's `bouquet/client` entry: sessions through a chain of volunteers (route, stream tokens, fail over), and the coordinator's client.
export * from '../web/client/index.ts';
export { CoordinatorClient, CoordinatorSocket, coordinatorUrl, type CoordinatorClientOptions, type CoordinatorSocketHandlers, type FetchLike, type WebSocketLike } from '../core/api/index.ts';
export { BouquetError, isBouquetError } from '../core/errors/index.ts';
