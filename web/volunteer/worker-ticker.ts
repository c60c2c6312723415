// A repeating tick from a timer inside a dedicated worker, for volunteer heartbeats in a hidden tab.
// Browsers throttle a hidden page's own timers (Chrome: one wake-up a second, then one a minute after
// 5 minutes hidden unless it plays audio), but not a dedicated worker's, and the worker's message wakes
// the page at once. The volunteer page's audio keep-alive already lifts the throttling
// (tests/e2e/ui-hidden-tab.test.ts); this keeps heartbeats on time when audio cannot start.
import type { StartTicker } from './agent.ts';

const tickerSource = 'let t; onmessage = (e) => { clearInterval(t); t = setInterval(() => postMessage(0), e.data); };';

/** Calls `tick` every `periodMs` from a worker's timer; falls back to the page's setInterval where workers can't start. Returns stop. */
export const workerTicker: StartTicker = (periodMs, tick) => {
  let url: string | undefined;
  try {
    url = URL.createObjectURL(new Blob([tickerSource], { type: 'text/javascript' }));
    const worker = new Worker(url);
    worker.onmessage = () => tick();
    worker.postMessage(periodMs);
    const made = url;
    return () => {
      worker.terminate();
      URL.revokeObjectURL(made);
    };
  } catch {
    if (url !== undefined) URL.revokeObjectURL(url);
    const t = setInterval(tick, periodMs);
    return () => clearInterval(t);
  }
};
