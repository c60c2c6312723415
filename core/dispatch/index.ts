// Orchestration shared by the simulator and the live coordinator: admission, the central queue, failover, reconcile.
export { hopSlots, sessionHopSlots, refusingHop, admit, type Admission, type AdmissionContext, type CacheReservation } from './admission.ts';
export { CentralQueue, serveQueue, type HeadOutcome } from './queue.ts';
export { clipToSpan, routeSubSpan, hopOf, spliceChain, chainKeyOf, chainsInForce } from './failover.ts';
export { reconcilePlacement, uncoveredBy, type PeerPlacementInput, type SpanChange, type ReconcileResult } from './reconcile.ts';
export { loadsFromBookings, type Booking } from './bookings.ts';
export { rebalanceMoves, predictedResponseMs, defaultLoadBytesPerS, defaultRebalanceHorizonMs, rebalanceCandidates, type RebalanceInput, type RebalanceMove } from './rebalance.ts';
export { sessionReservation, loadsInSessionUnits, snapWhole, type SessionReservation } from './reservation.ts';
// The one budget rule lives with the placement policies; re-exported for the drivers that reconcile.
export { maxBlocksFor, type BlockSizes } from '../placement/index.ts';
export { holdsWholeSlot, wholeSlotMoves, type WholeSlotInput } from './whole-slot.ts';
