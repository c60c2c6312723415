// Makes every BouquetError survive Comlink: installed on both sides, it sends class, code and data and rebuilds the same class.
import * as Comlink from 'comlink';
import { BouquetError } from '../core/errors/index.ts';
import { deserializeError, serializeError } from './errors.ts';

interface ThrownValue {
  value: unknown;
}

interface Wire {
  isError: boolean;
  value: unknown;
}

let installed = false;

/**
 * Wraps Comlink's 'throw' transfer handler: any thrown value crosses as its wire form (a
 * BouquetError with its class, code and data; anything else as `internal`) and is rebuilt there.
 */
export function installErrorTransfer(): void {
  if (installed) return;
  const original = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<ThrownValue, Wire> | undefined;
  if (original === undefined) throw new BouquetError('internal', 'Comlink has no throw handler to extend');
  const handler: Comlink.TransferHandler<ThrownValue, Wire> = {
    canHandle: (v): v is ThrownValue => original.canHandle(v),
    serialize: (thrown) => [{ isError: false, value: { bouquetError: serializeError(thrown.value) } }, []],
    deserialize: (wire) => {
      const v = wire.value as { bouquetError?: unknown } | null;
      if (!wire.isError && typeof v === 'object' && v !== null && v.bouquetError !== undefined) throw deserializeError(v.bouquetError);
      return original.deserialize(wire);
    },
  };
  Comlink.transferHandlers.set('throw', handler);
  installed = true;
}
