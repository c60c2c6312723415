// The one table of error classes that errorFromWire rebuilds by kind; each class registers itself where it is defined.
import type { BouquetError } from './base.ts';

/** A BouquetError subclass, whatever its own constructor takes (the rebuild does not call it, see wire.ts). */
export type ErrorKind = abstract new (...args: never[]) => BouquetError;

// Module-level on purpose: a class is registered once when its module loads, so every boundary of
// this process rebuilds it; a side that never loads a class cannot test `instanceof` on it either.
const kinds = new Map<string, ErrorKind>();

/**
 * Registers `kind` under `name` (its class name, spelled out so minified bundles agree on it). A
 * later registration under the same name replaces the earlier one (a module a dev server reloaded).
 */
export function registerErrorKind(name: string, kind: ErrorKind): void {
  kinds.set(name, kind);
}

/** The class registered under `name`, if any. */
export function errorKind(name: string): ErrorKind | undefined {
  return kinds.get(name);
}

/** The registered name of the class of `e` (its constructor exactly), else its `name`. */
export function errorKindName(e: BouquetError): string {
  for (const [name, kind] of kinds) if (e.constructor === kind) return name;
  return e.name;
}

/** Every registered kind by name (for tests and diagnostics). */
export function errorKinds(): ReadonlyMap<string, ErrorKind> {
  return kinds;
}
