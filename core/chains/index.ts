// The feasible-link DAG (algorithms.md §1, §4): public surface of core/chains.
export {
  shortestChain,
  shortestChainWithCost,
  enumerateChains,
  chainCostMs,
  allocateCache,
  type PlacedSpan,
  type PlacedSpanWithSlots,
  type LinkFilter,
} from './dag.ts';
