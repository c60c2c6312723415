// Block-span comparisons shared by the coordinator, the reconciler, volunteers and the dashboard.
import type { BlockSpan } from './types.ts';

/**
 * True when two spans cover the same blocks (`[start, end)`, block indices), or when both are
 * absent (`null` or `undefined`: serves nothing).
 */
export function sameSpan(a: BlockSpan | null | undefined, b: BlockSpan | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return (a ?? null) === (b ?? null);
  return a.start === b.start && a.end === b.end;
}
