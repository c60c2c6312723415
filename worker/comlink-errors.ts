// Makes RuntimeError survive Comlink: installed on both sides, it sends the code and rebuilds the same class.
import * as Comlink from 'comlink';
import { deserializeError, RuntimeError, serializeError, type SerializedError } from './errors.ts';

interface ThrownValue {
  value: unknown;
}

interface Wire {
  isError: boolean;
  value: unknown;
}

let installed = false;

/** Wraps Comlink's 'throw' transfer handler so a RuntimeError crosses as plain data and is rebuilt with its code. */
export function installErrorTransfer(): void {
  if (installed) return;
  const original = Comlink.transferHandlers.get('throw') as Comlink.TransferHandler<ThrownValue, Wire> | undefined;
  if (original === undefined) throw new Error('Comlink has no throw handler to extend');
  const handler: Comlink.TransferHandler<ThrownValue, Wire> = {
    canHandle: (v): v is ThrownValue => original.canHandle(v),
    serialize: (thrown) => {
      if (thrown.value instanceof RuntimeError) return [{ isError: false, value: { bouquetError: serializeError(thrown.value) } }, []];
      return original.serialize(thrown);
    },
    deserialize: (wire) => {
      const v = wire.value as { bouquetError?: SerializedError } | null;
      if (!wire.isError && typeof v === 'object' && v !== null && v.bouquetError !== undefined) throw deserializeError(v.bouquetError);
      return original.deserialize(wire);
    },
  };
  Comlink.transferHandlers.set('throw', handler);
  installed = true;
}
