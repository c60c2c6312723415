// Keeps a volunteer tab serving at full speed in the background: a near-silent tone and a held Web Lock.
// Hidden tabs get their timers throttled (~1/s) and may be frozen; WebAI@Home measured 2.7× slower
// generation in hidden tabs and full speed back with an inaudible audio tone. Chromium also does not
// freeze a page that holds a Web Lock. Measured in headless Chromium 156 (tests/e2e/ui-hidden-tab.test.ts):
// the tone alone keeps a hidden tab's timers at full rate; the lock alone does not lift throttling.

/** What is active, for the page to say so. */
export interface KeepAliveState {
  audio: boolean;
  lock: boolean;
}

/**
 * Whether the page should start the keep-alive: yes unless its URL says `?keepAlive=off`. The off switch
 * exists to measure what the keep-alive buys (tests/e2e/ui-hidden-tab.test.ts runs a hidden tab without
 * it as the control); a volunteer has no reason to use it.
 */
export function keepAliveWanted(search: string): boolean {
  return new URLSearchParams(search).get('keepAlive') !== 'off';
}

/** Starts the keep-alive (call from a click: audio needs a user gesture); returns the state and a stop function. */
export function startKeepAlive(): { state: KeepAliveState; stop: () => void } {
  const state: KeepAliveState = { audio: false, lock: false };
  let ctx: AudioContext | null = null;
  let releaseLock: (() => void) | null = null;
  try {
    ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    gain.gain.value = 0.001; // inaudible, yet the tab counts as playing audio
    osc.frequency.value = 30;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    state.audio = ctx.state !== 'closed';
  } catch {
    ctx = null;
  }
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (locks !== undefined) {
    state.lock = true;
    void locks
      .request(`bouquet-volunteer-${Math.random().toString(36).slice(2)}`, () => new Promise<void>((resolve) => (releaseLock = resolve)))
      .catch(() => (state.lock = false));
  }
  return {
    state,
    stop: () => {
      releaseLock?.();
      void ctx?.close().catch(() => undefined);
    },
  };
}
