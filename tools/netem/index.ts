// Network emulation for benches and tests: per-source packet delay (NFQUEUE + a C delayer), veth-linked namespaces, a UDP RTT probe.
export { startDelay, buildDelayer, delayUnavailableReason, type Delay, type DelaySpec } from './delay.ts';
export { linkNamespaces, withNamespaces } from './links.ts';
export { probeUdpRtt } from './probe.ts';
