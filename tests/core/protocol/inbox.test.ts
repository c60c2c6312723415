// PacketInbox: packets that arrive before a session listens are not lost, and reach listeners in order.
import { describe, expect, it } from 'vitest';
import { PacketInbox } from '../../../core/protocol/index.ts';

const packet = (n: number): ArrayBuffer => new Uint8Array([n]).buffer;
const first = (p: ArrayBuffer): number => new Uint8Array(p)[0] ?? -1;

describe('PacketInbox', () => {
  it('keeps packets that arrive before the first listener and replays them in order, then delivers live', async () => {
    const inbox = new PacketInbox();
    inbox.deliver(packet(1));
    inbox.deliver(packet(2));
    const got: number[] = [];
    const off = inbox.subscribe((p) => got.push(first(p)));
    await Promise.resolve();
    inbox.deliver(packet(3));
    expect(got).toEqual([1, 2, 3]);
    off();
    inbox.deliver(packet(4)); // no listener: kept for the next one
    const later: number[] = [];
    inbox.subscribe((p) => later.push(first(p)));
    await Promise.resolve();
    expect(got).toEqual([1, 2, 3]);
    expect(later).toEqual([4]);
  });
});
