// "Serve only while the device is idle": the person counts as using the device while this page is visible and saw input recently (pure).

/** Input within this long on a visible page means the person is using the device, ms. */
export const activeWindowMs = 60_000;

/** What the page knows about the person's activity. */
export interface ActivityState {
  /** The person asked to serve only while the device is idle. */
  idleOnly: boolean;
  /** The page is visible (document.visibilityState). */
  visible: boolean;
  /** Time since the last pointer, key or touch input on this page, ms (Infinity when none yet). */
  msSinceInput: number;
}

/**
 * Whether the volunteer should serve now. Page activity is the signal, not the Idle Detection API:
 * that one needs a permission prompt and exists only in Chromium, while a hidden page or a page
 * nobody touched for `activeWindowMs` says enough here (input in other apps is not seen).
 */
export function shouldServe(s: ActivityState, windowMs: number = activeWindowMs): boolean {
  if (!s.idleOnly) return true;
  return !s.visible || s.msSinceInput >= windowMs;
}
